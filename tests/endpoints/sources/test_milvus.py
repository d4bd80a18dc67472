"""Milvus Lite as a read-only source: dense + sparse fields, dynamic fields, keyset pages, tamper."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import Point, SparseValue
from qdrant_ops.endpoints.open import close_all, open_endpoint

runner = CliRunner()
N = 120


def create_docs(client: Any) -> None:
    """The ``docs`` collection: a string key, a dense and a sparse vector, scalar, JSON and
    dynamic fields."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=8)
    schema.add_field("terms", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("title", DataType.VARCHAR, max_length=100)
    schema.add_field("info", DataType.JSON)
    params = client.prepare_index_params()
    params.add_index("dense", index_type="FLAT", metric_type="COSINE")
    params.add_index("terms", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection("docs", schema=schema, index_params=params)


@pytest.fixture(scope="module")
def milvus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pymilvus import DataType, MilvusClient

    path = tmp_path_factory.mktemp("milvus") / "m.db"
    client = MilvusClient(str(path))
    rng = np.random.default_rng(4)
    create_docs(client)
    client.insert("docs", [
        {"pk": f"k{i:03d}", "dense": rng.random(8).tolist(), "terms": {i + 1: 0.5, 200 + i: 1.25},
         "title": f"t {i} é", "info": {"n": i, "l": [1, None]}, "extra": i * 2}
        for i in range(N)
    ])
    ints = MilvusClient.create_schema(auto_id=False)
    ints.add_field("id", DataType.INT64, is_primary=True)
    ints.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    p2 = client.prepare_index_params()
    p2.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("nums", schema=ints, index_params=p2)
    client.insert("nums", [{"id": i * 3, "v": rng.random(4).tolist()} for i in range(40)])
    # two dense fields (named vectors) and a partition of its own
    multi = MilvusClient.create_schema(auto_id=False)
    multi.add_field("id", DataType.INT64, is_primary=True)
    multi.add_field("a", DataType.FLOAT_VECTOR, dim=4)
    multi.add_field("b", DataType.FLOAT_VECTOR, dim=3)
    multi.add_field("n", DataType.INT32)
    p3 = client.prepare_index_params()
    p3.add_index("a", index_type="FLAT", metric_type="COSINE")
    p3.add_index("b", index_type="FLAT", metric_type="L2")
    client.create_collection("multi", schema=multi, index_params=p3)
    client.create_partition("multi", "recent")
    rows = [{"id": i, "a": rng.random(4).tolist(), "b": rng.random(3).tolist(), "n": i} for i in range(30)]
    client.insert("multi", rows[:20])
    client.insert("multi", rows[20:], partition_name="recent")
    client.close()
    return path


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_migrate_validate_and_tamper(milvus_db: Path, tmp_path: Path, kind: str) -> None:
    src = f"milvus:{milvus_db}"
    dst = f"edge:{tmp_path / 'edge'}" if kind == "edge" else str(tmp_path / "local")
    res = runner.invoke(app, ["migrate", "-s", src, "-t", dst, "--backup-path", str(tmp_path / "bk"),
                              "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "field 'dense': metric COSINE -> Cosine" in res.output
    assert all(c["passed"] for c in json.loads((tmp_path / "rep.json").read_text())["checks"])
    close_all()
    ep = open_endpoint(dst)
    assert ep.count("docs") == N and ep.count("nums") == 40 and ep.count("multi") == 30
    assert {f.name: f.distance for f in ep.get_spec("multi").vector_fields()} == {"a": "Cosine", "b": "Euclid"}
    got = {pt.id: pt.payload for pt in ep.retrieve("multi", [3, 25])}
    assert got == {3: {"n": 3, "_partition": "_default"}, 25: {"n": 25, "_partition": "recent"}}
    pid = str(uuid.uuid5(uuid.NAMESPACE_URL, "k007"))
    (p,) = ep.retrieve("docs", [pid])
    assert p.payload == {"title": "t 7 é", "info": {"n": 7, "l": [1, None]}, "extra": 14, "_source_id": "k007"}
    assert isinstance(p.vectors["terms"], SparseValue) and p.vectors["terms"].indices == [8, 207]
    close_all()
    assert runner.invoke(app, ["validate", "-s", src, "-t", dst]).exit_code == 0
    ep = open_endpoint(dst)
    if kind == "local":
        from qdrant_client import models

        ep.client.delete("docs", points_selector=models.PointIdsList(points=[pid]))  # type: ignore[attr-defined]
    else:
        ep.write("docs", [Point(pid, {**p.vectors, "": [1.0] + [0.0] * 7}, p.payload)])
        ep.flush("docs")  # type: ignore[attr-defined]
    close_all()
    assert runner.invoke(app, ["validate", "-s", src, "-t", dst, "--collections", "docs"]).exit_code == 1


def test_keyset_pages_resume_and_search(milvus_db: Path) -> None:
    ep = open_endpoint(f"milvus:{milvus_db}")
    pages = list(ep.scan("nums", batch_size=16))
    ids = [i for p in pages for i in p.columns.ids]
    assert ids == [i * 3 for i in range(40)]
    assert pages[0].points[0].payload == {}  # no partitions of its own: no partition key
    assert pages[0].next_offset == 45
    resumed = list(ep.scan("nums", batch_size=16, offset=pages[0].next_offset))
    assert [p.columns.ids for p in resumed] == [p.columns.ids for p in pages[1:]]
    v = pages[0].points[2].vectors[""]
    ann = ep.query("nums", v, limit=5)  # type: ignore[attr-defined]
    exact = ep.query("nums", v, limit=5, exact=True)  # type: ignore[attr-defined]
    assert [i for i, _ in ann] == [i for i, _ in exact] and ann[0][0] == 6
    assert np.allclose([s for _, s in ann], [s for _, s in exact], atol=1e-4)


@pytest.mark.slow
def test_a_reopened_store_reads_in_a_fresh_process(tmp_path: Path) -> None:
    # Milvus Lite reopens its collections released (the fixture's store stays loaded, and locked,
    # in this process): a store made in one process is read by the command in another.
    import os
    import subprocess
    import sys

    src_dir = Path(__file__).resolve().parents[3] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src_dir), os.environ.get("PYTHONPATH", "")])}
    db = tmp_path / "m.db"
    make = (
        "from pymilvus import MilvusClient, DataType\n"
        f"c = MilvusClient({str(db)!r})\n"
        "s = MilvusClient.create_schema(auto_id=False)\n"
        "s.add_field('id', DataType.INT64, is_primary=True)\n"
        "s.add_field('v', DataType.FLOAT_VECTOR, dim=4)\n"
        "p = c.prepare_index_params()\n"
        "p.add_index('v', index_type='FLAT', metric_type='IP')\n"
        "c.create_collection('nums', schema=s, index_params=p)\n"
        "c.insert('nums', [{'id': i, 'v': [i, 1.0, 0.5, 0.25]} for i in range(25)])\n"
    )
    subprocess.run([sys.executable, "-c", make], check=True, capture_output=True, timeout=120)
    res = subprocess.run(
        [sys.executable, "-m", "qdrant_ops", "migrate", "-s", f"milvus:{db}", "-t", str(tmp_path / "t"),
         "--backup-path", str(tmp_path / "bk"), "--dry-run"],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "nums -> nums (create): ~25 of 25 points" in res.stdout
    assert "metric IP -> Dot" in res.stdout


@pytest.mark.slow
def test_a_store_another_process_holds_is_one_line_exit_3(milvus_db: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    src_dir = Path(__file__).resolve().parents[3] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src_dir), os.environ.get("PYTHONPATH", "")])}
    open_endpoint(f"milvus:{milvus_db}").list_collections()  # this process holds the store
    res = subprocess.run(
        [sys.executable, "-m", "qdrant_ops", "backup", "--source", f"milvus:{milvus_db}",
         "--backup-path", str(tmp_path / "bk")],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )
    assert res.returncode == 3, res.stdout + res.stderr
    assert "another process" in res.stderr and "Traceback" not in res.stderr.split("error:")[-1]


def test_missing_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pymilvus", None)
    res = runner.invoke(app, ["backup", "--source", f"milvus:{tmp_path / 'm.db'}", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2 and "pip install 'qdrant-ops[milvus]'" in res.output, res.output
