"""A NaN payload value copied as a NaN is equal (local mode holds NaN; NaN != NaN in Python)."""

from __future__ import annotations

from qdrant_ops.format.compare import payload_equal


def test_nan_payload_values_compare_equal() -> None:
    nan = float("nan")
    assert payload_equal({"x": nan, "y": [1.0, nan]}, {"x": float("nan"), "y": [1.0, nan]})
    assert payload_equal({"x": nan}, {"x": nan}, ulps=1)
    assert not payload_equal({"x": nan}, {"x": 1.0})
    assert not payload_equal({"x": 1.0}, {"x": nan}, ulps=1)
