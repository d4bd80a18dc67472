"""FAISS as a read-only source: Flat, HNSWFlat, IVFFlat and IDMap indexes, sidecars, PQ refused."""

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
N, D = 200, 8


def _vectors() -> np.ndarray:
    return np.random.default_rng(11).random((N, D)).astype("float32")


def _write(path: Path, kind: str) -> Path:
    import faiss

    x = _vectors()
    if kind == "flat-ip":
        index = faiss.IndexFlatIP(D)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(D, 16)
    elif kind == "ivf":
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(D), D, 4)
        index.train(x)
    elif kind == "idmap":
        index = faiss.IndexIDMap(faiss.IndexFlatL2(D))
    elif kind == "pq":
        index = faiss.IndexPQ(D, 4, 4)
        index.train(x)
    else:
        index = faiss.IndexFlatL2(D)
    if kind == "idmap":
        index.add_with_ids(x, np.arange(N, dtype="int64") * 10 + 5)
    else:
        index.add(x)
    out = path / f"{kind}.faiss"
    faiss.write_index(index, str(out))
    return out


@pytest.mark.parametrize("kind", ["flat", "flat-ip", "hnsw", "ivf", "idmap"])
def test_every_readable_index_gives_back_its_vectors(tmp_path: Path, kind: str) -> None:
    ep = open_endpoint(f"faiss:{_write(tmp_path, kind)}")
    name = kind
    spec = ep.get_spec(name)
    (f,) = spec.vector_fields()
    assert (f.size, f.distance) == (D, "Dot" if kind == "flat-ip" else "Euclid")
    pages = list(ep.scan(name, batch_size=64))
    ids = [i for p in pages for i in p.columns.ids]
    assert ids == ([i * 10 + 5 for i in range(N)] if kind == "idmap" else list(range(N)))
    got = np.asarray([v for p in pages for v in p.columns.vectors[""]], dtype="float32")
    assert np.array_equal(got, _vectors())
    resumed = list(ep.scan(name, batch_size=64, offset=pages[1].next_offset))
    assert [p.columns.ids for p in resumed] == [p.columns.ids for p in pages[2:]]
    q = got[17]
    ann = ep.query(name, q, limit=5)  # type: ignore[attr-defined]
    exact = ep.query(name, q, limit=5, exact=True)  # type: ignore[attr-defined]
    assert ann[0][0] == exact[0][0] and abs(ann[0][1] - exact[0][1]) < 1e-4


def test_pq_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(app, ["backup", "--source", f"faiss:{_write(tmp_path, 'pq')}",
                              "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2, res.output
    assert "IndexPQ cannot give back the vectors" in res.output


@pytest.mark.parametrize("sidecar", ["parquet", "jsonl"])
def test_sidecar_ids_and_payload_migrate_and_validate(tmp_path: Path, sidecar: str) -> None:
    index = _write(tmp_path, "hnsw")
    rows = [{"id": f"img-{i}", "caption": f"cap {i}", "w": i, "tags": ["a", "b"][: i % 3]} for i in range(N)]
    side = tmp_path / f"meta.{sidecar}"
    if sidecar == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), side, row_group_size=64)
    else:
        side.write_text("".join(json.dumps(r) + "\n" for r in rows))
    src, dst = f"faiss:{index}?sidecar={side}", f"edge:{tmp_path / 'edge'}"
    res = runner.invoke(app, ["migrate", "-s", src, "-t", dst, "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    assert "ids from column 'id'" in res.output
    close_all()
    ep = open_endpoint(dst)
    import uuid

    pid = str(uuid.uuid5(uuid.NAMESPACE_URL, "img-70"))
    (p,) = ep.retrieve("hnsw", [pid])
    assert p.payload == {"caption": "cap 70", "w": 70, "tags": ["a"], "_source_id": "img-70"}
    close_all()
    assert runner.invoke(app, ["validate", "-s", src, "-t", dst]).exit_code == 0
    ep = open_endpoint(dst)
    ep.write("hnsw", [Point(pid, {"": [0.5] * D}, p.payload)])
    ep.flush("hnsw")  # type: ignore[attr-defined]
    close_all()
    assert runner.invoke(app, ["validate", "-s", src, "-t", dst]).exit_code == 1


def test_sidecar_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    index = _write(tmp_path, "flat")
    side = tmp_path / "flat.jsonl"  # found beside the index
    side.write_text('{"a": 1}\n')
    res = runner.invoke(app, ["backup", "--source", f"faiss:{index}", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2, res.output
    assert "1 rows, but the index holds 200 vectors" in res.output


def test_migrate_into_local_mode_and_drop_a_point(tmp_path: Path) -> None:
    src, dst = f"faiss:{_write(tmp_path, 'idmap')}", str(tmp_path / "local")
    assert runner.invoke(app, ["migrate", "-s", src, "-t", dst, "--backup-path", str(tmp_path / "bk")]).exit_code == 0
    close_all()
    from qdrant_client import models

    ep = open_endpoint(dst)
    assert ep.count("idmap") == N
    ep.client.delete("idmap", points_selector=models.PointIdsList(points=[15]))  # type: ignore[attr-defined]
    close_all()
    res = runner.invoke(app, ["validate", "-s", src, "-t", dst])
    assert res.exit_code == 1, res.output


def test_a_config_file_names_the_source_as_a_url(tmp_path: Path) -> None:
    config = tmp_path / "migration.json"
    config.write_text(json.dumps({
        "source_qdrant": {"url": f"faiss:{_write(tmp_path, 'flat')}?distance=cosine"},
        "target_qdrant": {"path": str(tmp_path / "local")},
        "backup_path": str(tmp_path / "bk"),
    }))
    res = runner.invoke(app, ["migrate", "--config", str(config), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "metric Euclid -> Cosine" in res.output
