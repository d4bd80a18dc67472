"""Qdrant Edge's optimize() in a child process (it holds the GIL for minutes in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_edge_optimize_in_a_child_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sigint_trials as it
    from qdrant_ops.endpoints.edge import endpoint as edge_endpoint
    from qdrant_ops.endpoints.open import open_endpoint

    uri = it.make_edge_store(tmp_path / "e", n=300, dims=8)
    monkeypatch.setattr(edge_endpoint, "CHILD_MIN_POINTS", 1)
    ep = open_endpoint(uri)
    assert ep.count("docs") == 300  # the shard is open (locked) in this process
    result = ep.optimize("docs")  # type: ignore[attr-defined]
    assert result.points == 300 and ep.count("docs") == 300  # reopened after the child let go
    assert "Qdrant Edge optimize()" in ep.after_bulk_write("docs")  # type: ignore[attr-defined]
