"""LanceDB as a read-only source: named vectors, every column kind as payload, validate, tamper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import Point
from qdrant_ops.endpoints.open import close_all, open_endpoint

runner = CliRunner()
N = 150


@pytest.fixture(scope="module")
def lance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import lancedb

    path = tmp_path_factory.mktemp("lance") / "db"
    db = lancedb.connect(str(path))
    rng = np.random.default_rng(5)
    text = rng.random((N, 8)).astype("float32")
    image = rng.random((N, 4)).astype("float32")
    import pyarrow as pa

    rows = [
        {"id": i, "text_vec": text[i].tolist(), "image_vec": image[i].tolist(), "title": f"item {i} ✓",
         "price": i * 0.25, "tags": [f"t{i % 3}"], "meta": {"n": i, "ok": i % 2 == 0},
         "note": None if i % 4 else "n"}
        for i in range(N)
    ]
    schema = pa.schema([
        ("id", pa.int64()), ("text_vec", pa.list_(pa.float32(), 8)), ("image_vec", pa.list_(pa.float32(), 4)),
        ("title", pa.string()), ("price", pa.float64()), ("tags", pa.list_(pa.string())),
        ("meta", pa.struct([("n", pa.int64()), ("ok", pa.bool_())])), ("note", pa.string()),
    ])
    db.create_table("items", data=pa.Table.from_pylist(rows, schema=schema))
    db.create_table("strings", data=[
        {"id": f"key-{i}", "vector": rng.random(4).astype("float32").tolist()} for i in range(20)
    ])
    return path


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_migrate_validate_and_tamper(lance_dir: Path, tmp_path: Path, kind: str) -> None:
    src = f"lancedb:{lance_dir}?distance=cosine"
    dst = f"edge:{tmp_path / 'edge'}" if kind == "edge" else str(tmp_path / "local")
    res = runner.invoke(app, ["migrate", "-s", src, "-t", dst, "--backup-path", str(tmp_path / "bk"),
                              "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "column 'image_vec' -> vector image_vec: 4-d float32, Cosine" in res.output
    checks = json.loads((tmp_path / "rep.json").read_text())["checks"]
    assert sum(c["name"].startswith("parity recall") and c["collection"] == "items" for c in checks) == 2
    close_all()
    ep = open_endpoint(dst)
    spec = ep.get_spec("items")
    assert sorted(f.name for f in spec.vector_fields()) == ["image_vec", "text_vec"]
    (p,) = ep.retrieve("items", [3])
    assert p.payload == {"title": "item 3 ✓", "price": 0.75, "tags": ["t0"], "meta": {"n": 3, "ok": False},
                         "note": None}
    assert ep.count("strings") == 20
    close_all()
    assert runner.invoke(app, ["validate", "-s", src, "-t", dst]).exit_code == 0
    ep = open_endpoint(dst)
    if kind == "local":
        from qdrant_client import models

        ep.client.delete("items", points_selector=models.PointIdsList(points=[3]))  # type: ignore[attr-defined]
    else:
        ep.write("items", [Point(3, {"text_vec": [1.0] * 8, "image_vec": p.vectors["image_vec"]}, p.payload)])
        ep.flush("items")  # type: ignore[attr-defined]
    close_all()
    res = runner.invoke(app, ["validate", "-s", src, "-t", dst, "--collections", "items"])
    assert res.exit_code == 1, res.output


def test_default_distance_is_l2_and_search_matches_brute_force(lance_dir: Path) -> None:
    ep = open_endpoint(f"lancedb:{lance_dir}")
    assert {f.distance for f in ep.get_spec("items").vector_fields()} == {"Euclid"}
    v = next(iter(ep.scan("items", batch_size=10))).points[4].vectors["text_vec"]
    ann = ep.query("items", v, using="text_vec", limit=5)  # type: ignore[attr-defined]
    exact = ep.query("items", v, using="text_vec", limit=5, exact=True)  # type: ignore[attr-defined]
    assert [i for i, _ in ann] == [i for i, _ in exact] and ann[0][0] == 4
    assert np.allclose([s for _, s in ann], [s for _, s in exact], atol=1e-4)


def test_missing_database_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(app, ["backup", "--source", f"lancedb:{tmp_path / 'none'}", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "none").exists()
