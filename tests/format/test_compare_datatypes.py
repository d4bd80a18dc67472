"""Each vector field is compared within what its own datatype keeps (issue 25, failure 1).

A float16 or uint8 dense vector beside a sparse one, migrated into Qdrant Edge (which stores the
compact datatype), used to fail validation and ``verify --full``: the lossy tolerance was skipped
for any collection holding a sparse field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import Point, SparseValue, VectorField
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.format.compare import lossiest, vector_equal

runner = CliRunner()
N = 40


def _source(path: Path, datatype: str) -> None:
    """A local-mode store (which keeps the float32 it is given) with one hybrid collection."""
    client = QdrantClient(path=str(path))
    distance = models.Distance.COSINE if datatype == "float16" else models.Distance.EUCLID
    client.create_collection(
        "hybrid",
        vectors_config={"dense": models.VectorParams(size=8, distance=distance, datatype=datatype)},
        sparse_vectors_config={"words": models.SparseVectorParams()},
    )
    rng = np.random.default_rng(3)
    points = []
    for i in range(N):
        # Values the target changes: uint8 truncates the .25 (the same shift on every value, so
        # the neighbours, and the parity check, stay the same); float16 rounds.
        if datatype == "uint8":
            dense = (rng.integers(0, 255, size=8) + 0.25).tolist()
        else:
            dense = rng.normal(size=8).tolist()
        sparse = models.SparseVector(indices=[1, 7 + i], values=[0.333, float(rng.random())])
        points.append(models.PointStruct(id=i, vector={"dense": dense, "words": sparse}, payload={"i": i}))
    client.upsert("hybrid", points)
    client.close()


@pytest.mark.parametrize("datatype", ["float16", "uint8"])
def test_compact_dense_plus_sparse_into_edge_migrates_and_verifies(tmp_path: Path, datatype: str) -> None:
    _source(tmp_path / "src", datatype)
    target = f"edge:{tmp_path / 'edge'}"
    res = runner.invoke(app, [
        "migrate", "--source", str(tmp_path / "src"), "--target", target,
        "--backup-path", str(tmp_path / "bk"), "--report", str(tmp_path / "rep"),
    ])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "rep.json").read_text())
    content = [c for c in rep["checks"] if c["name"] == "content"]
    assert content and content[0]["passed"]
    assert "bitwise digests differ" in content[0]["detail"]  # the engine did change the values
    close_all()
    backup = rep["backup_dir"]
    res = runner.invoke(app, ["verify", backup, "--against", target, "--full"])
    assert res.exit_code == 0, res.output
    assert "within tolerance" in res.output

    # A real difference in the compact field still fails verify --full.
    ep = open_endpoint(target)
    p = ep.retrieve("hybrid", [5])[0]
    changed = [v + (40.0 if datatype == "uint8" else 0.5 * (k % 2)) for k, v in enumerate(p.vectors["dense"])]
    ep.write("hybrid", [Point(5, {"dense": changed, "words": p.vectors["words"]}, p.payload)])
    close_all()
    res = runner.invoke(app, ["verify", backup, "--against", target, "--full"])
    assert res.exit_code == 1, res.output
    assert "vector dense differs beyond tolerance" in res.output


def test_tolerance_is_per_field_datatype() -> None:
    f16 = VectorField("a", "dense", 3, "Euclid", "float16")
    f32 = VectorField("a", "dense", 3, "Euclid")
    u8 = VectorField("a", "dense", 3, "Cosine", "uint8")
    x = [0.1, -0.5, 0.333]
    half = np.asarray(x, dtype=np.float16).astype(np.float64).tolist()
    assert vector_equal(x, half, f16)
    assert not vector_equal(x, half, f32)
    assert not vector_equal(x, [0.1, -0.5, 0.34], f16)
    # uint8 stores trunc(x) saturated to 0..255, and does not normalise cosine vectors.
    assert vector_equal([3.4, 200.7, 300.0], [3.0, 200.0, 255.0], u8)
    assert not vector_equal([3.4, 200.7, 300.0], [4.0, 200.0, 255.0], u8)
    assert not vector_equal([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], u8)
    # sparse values are kept exactly by every engine: tight, whatever the dense fields are.
    sp = VectorField("s", "sparse")
    assert not vector_equal(SparseValue([1], [0.333]), SparseValue([1], [0.3333]), sp)
    # a float32 backup against a float16 target is compared as float16
    assert lossiest([f32, sp], [f16, sp]) == [f16, sp]
    assert lossiest([f16], [f32]) == [f16]
