"""A uint8 cosine vector that local mode hands back normalized (within its session) is the same
vector; found by the property-based run (a local -> local migrate ended in exit 1)."""

from __future__ import annotations

import numpy as np

from qdrant_ops.endpoints.base import VectorField
from qdrant_ops.format.compare import vector_equal


def test_a_normalized_uint8_cosine_vector_is_equal() -> None:
    raw = [12.0, 200.0, 0.0, 255.0]
    unit = (np.asarray(raw) / np.linalg.norm(raw)).tolist()
    cosine = VectorField("", "dense", 4, "Cosine", "uint8")
    assert vector_equal(raw, unit, cosine)
    assert not vector_equal(raw, [200.0, 12.0, 0.0, 255.0], cosine)
    # other distances are not normalized by any engine: the values themselves must match
    assert not vector_equal(raw, unit, VectorField("", "dense", 4, "Dot", "uint8"))
