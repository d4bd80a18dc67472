"""Pre-flight: restore and migrate check every collection against the target engine before the
first write (issue 25, failure 3: a payload-only collection into Qdrant Edge ended in exit 70
after the collections before it were written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import CollectionSpec
from qdrant_ops.endpoints.edge.config import refusals
from qdrant_ops.endpoints.open import close_all

runner = CliRunner()


def _source(path: Path) -> None:
    """``a_vec`` (a dense vector) first, then ``b_novec`` (payload only)."""
    client = QdrantClient(path=str(path))
    client.create_collection("a_vec", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    client.upsert("a_vec", [models.PointStruct(id=i, vector=[1.0, 2.0, 3.0, float(i)], payload={}) for i in range(5)])
    client.create_collection("b_novec", vectors_config={})
    client.upsert("b_novec", [models.PointStruct(id=1, vector={}, payload={"x": 1})])
    client.close()


def _refused(output: str) -> None:
    assert "collection 'b_novec'" in output
    assert "no vectors" in output and "Qdrant Edge" in output
    assert "unexpected" not in output and "Traceback" not in output


@pytest.mark.parametrize("dry_run", [False, True])
def test_migrate_refuses_a_vectorless_collection_into_edge_before_writing(tmp_path: Path, dry_run: bool) -> None:
    _source(tmp_path / "src")
    edge = tmp_path / "edge"
    args = ["migrate", "--source", str(tmp_path / "src"), "--target", f"edge:{edge}",
            "--backup-path", str(tmp_path / "bk")]
    res = runner.invoke(app, args + (["--dry-run"] if dry_run else []))
    assert res.exit_code == 2, res.output
    _refused(res.output)
    assert not edge.exists()  # a_vec, planned first, was not created either
    assert not (tmp_path / "bk").exists()  # nor the pre-migration backup


def test_restore_refuses_a_vectorless_collection_into_edge_before_writing(tmp_path: Path) -> None:
    _source(tmp_path / "src")
    res = runner.invoke(app, ["backup", "--source", str(tmp_path / "src"), "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    close_all()
    edge = tmp_path / "edge"
    res = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--target", f"edge:{edge}"])
    assert res.exit_code == 2, res.output
    _refused(res.output)
    assert not edge.exists()
    # The collections Edge can hold still restore when the refused one is left out.
    res = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--target", f"edge:{edge}", "--collections", "a_vec"])
    assert res.exit_code == 0, res.output


def test_edge_refusals_name_the_feature() -> None:
    vectorless = CollectionSpec("p", {"params": {"vectors": {}}})
    assert refusals(vectorless) == [
        "no vectors (payload only): Qdrant Edge needs at least one dense or sparse vector"
    ]
    sparse_only = CollectionSpec("s", {"params": {"sparse_vectors": {"w": {}}}})
    assert refusals(sparse_only) == []
    odd = CollectionSpec("q", {"params": {"vectors": {"size": 4, "distance": "Cosine"}},
                               "quantization_config": {"mystery": {}}})
    assert refusals(odd) and "quantization" in refusals(odd)[0]
