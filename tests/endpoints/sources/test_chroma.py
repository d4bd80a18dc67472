"""Chroma (embedded PersistentClient) as a read-only source: migrate, validate, backup, refusals."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import Point
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.errors import UsageError

runner = CliRunner()
N = 120


def make_chroma(path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    col = client.create_collection("docs", metadata={"hnsw:space": "cosine"})
    rng = np.random.default_rng(3)
    ids = [f"doc-{i}" for i in range(N - 2)] + [str(uuid.UUID(int=7)), "42"]
    col.add(
        ids=ids,
        embeddings=rng.random((N, 8)).astype("float32"),
        documents=[f"text {i} é" if i % 3 else None for i in range(N)],
        metadatas=[{"k": i, "f": i / 7, "s": "ü", "b": i % 2 == 0} if i % 5 else None for i in range(N)],
    )
    l2 = client.create_collection("euclid", metadata={"hnsw:space": "l2"})
    l2.add(ids=[str(i) for i in range(30)], embeddings=rng.random((30, 4)).astype("float32"))


@pytest.fixture(scope="module")
def chroma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chroma") / "store"
    make_chroma(path)
    return path


def _target(tmp_path: Path, kind: str) -> str:
    return f"edge:{tmp_path / 'edge'}" if kind == "edge" else str(tmp_path / "local")


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_migrate_validate_and_tamper(chroma_dir: Path, tmp_path: Path, kind: str) -> None:
    src, dst = f"chroma:{chroma_dir}", _target(tmp_path, kind)
    res = runner.invoke(app, ["migrate", "-s", src, "-t", dst, "--backup-path", str(tmp_path / "bk"),
                              "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "mapping: docs: hnsw:space cosine -> Cosine" in res.output
    data = json.loads((tmp_path / "rep.json").read_text())
    assert all(c["passed"] for c in data["checks"]) and any("parity" in c["name"] for c in data["checks"])
    close_all()
    ep = open_endpoint(dst)
    assert ep.count("docs") == N and ep.count("euclid") == 30
    mapped = str(uuid.uuid5(uuid.NAMESPACE_URL, "doc-1"))
    (p,) = ep.retrieve("docs", [mapped])
    assert p.payload == {"k": 1, "f": 1 / 7, "s": "ü", "b": False, "document": "text 1 é", "_source_id": "doc-1"}
    (kept,) = ep.retrieve("docs", [str(uuid.UUID(int=7))])  # a UUID id is kept, with no _source_id
    assert "_source_id" not in (kept.payload or {})
    close_all()
    res = runner.invoke(app, ["validate", "-s", src, "-t", dst])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["verify", "--source", src, "--target", dst, "--full"]).exit_code == 0
    ep = open_endpoint(dst)
    (p,) = ep.retrieve("docs", [mapped])
    if kind == "local":  # a point dropped
        from qdrant_client import models

        ep.client.delete("docs", points_selector=models.PointIdsList(points=[mapped]))  # type: ignore[attr-defined]
    else:  # a vector changed
        ep.write("docs", [Point(mapped, {"": [1.0] + [0.0] * 7}, p.payload)])
        ep.flush("docs")  # type: ignore[attr-defined]
    close_all()
    res = runner.invoke(app, ["validate", "-s", src, "-t", dst, "--collections", "docs"])
    assert res.exit_code == 1, res.output
    res = runner.invoke(app, ["verify", "--source", src, "--target", dst, "--collections", "docs", "--full"])
    assert res.exit_code == 1, res.output


def test_dry_run_shows_mapping_and_writes_nothing(chroma_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["migrate", "-s", f"chroma:{chroma_dir}?id_key=orig", "-t", str(tmp_path / "t"),
                              "--backup-path", str(tmp_path / "bk"), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "original kept in payload['orig']" in res.output
    assert "read order: Chroma's insertion order" in res.output
    assert '"orig": "doc-0"' in res.output
    assert not (tmp_path / "t").exists()


def test_backup_from_chroma_writes_the_parquet_format(chroma_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["backup", "--source", f"chroma:{chroma_dir}", "--collections", "docs",
                              "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    (bdir,) = [d for d in (tmp_path / "bk").iterdir() if d.is_dir()]
    files = list((bdir / "docs").glob("part-*.parquet"))
    import pyarrow.parquet as pq

    table = pq.read_table(files[0])
    assert table.num_rows == N and "vector" in table.column_names
    res = runner.invoke(app, ["verify", str(bdir)])
    assert res.exit_code == 0, res.output
    # and the backup restores into Qdrant; writing it back into Chroma is refused (read-only)
    res = runner.invoke(app, ["restore", str(bdir), "--target", str(tmp_path / "restored")])
    assert res.exit_code == 0, res.output
    close_all()
    assert open_endpoint(str(tmp_path / "restored")).count("docs") == N
    close_all()
    res = runner.invoke(app, ["restore", str(bdir), "--target", f"chroma:{chroma_dir}"])
    assert res.exit_code == 2, res.output
    assert "read-only" in res.output


def test_chroma_as_target_is_refused(chroma_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["migrate", "-s", f"chroma:{chroma_dir}", "-t", f"chroma:{chroma_dir}",
                              "--backup-path", str(tmp_path / "bk"), "--collections", "euclid",
                              "--format-version", "v2"])
    assert res.exit_code == 2, res.output
    assert "read-only" in res.output


def test_missing_store_and_unknown_option(tmp_path: Path) -> None:
    res = runner.invoke(app, ["backup", "--source", f"chroma:{tmp_path / 'none'}", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "none").exists()  # a read never creates the store
    res = runner.invoke(app, ["backup", "--source", f"chroma:{tmp_path}?colour=red", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2 and "colour" in res.output


def test_missing_extra_names_it(chroma_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "chromadb", None)
    with pytest.raises(UsageError, match=r"qdrant-ops\[chroma\]"):
        open_endpoint(f"chroma:{chroma_dir}")


def test_scan_resumes_at_its_offset_and_l2_scores(chroma_dir: Path) -> None:
    ep = open_endpoint(f"chroma:{chroma_dir}")
    pages = list(ep.scan("docs", batch_size=50))
    assert [len(p) for p in pages] == [50, 50, 20]
    again = list(ep.scan("docs", batch_size=50, offset=pages[0].next_offset))
    assert [p.columns.ids for p in again] == [p.columns.ids for p in pages[1:]]
    q = pages[0].points[0].vectors[""]
    for name in ("docs", "euclid"):
        v = next(iter(ep.scan(name, batch_size=5))).points[0].vectors[""]
        ann = ep.query(name, v, limit=5)  # type: ignore[attr-defined]
        exact = ep.query(name, v, limit=5, exact=True)  # type: ignore[attr-defined]
        assert [i for i, _ in ann] == [i for i, _ in exact]
        assert np.allclose([s for _, s in ann], [s for _, s in exact], atol=1e-4)
    assert q is not None


@pytest.fixture
def chroma_server(chroma_dir: Path, tmp_path: Path) -> Iterator[str]:
    """``chroma run`` (the chromadb wheel's own server) over a copy of the store, on a free port."""
    import shutil
    import socket
    import subprocess
    import time

    store = shutil.copytree(chroma_dir, tmp_path / "served")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("the chroma server command is not installed")
    proc = subprocess.Popen([str(exe), "run", "--path", str(store), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"chroma+http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_chroma_server_over_http(chroma_server: str, tmp_path: Path) -> None:
    dst = str(tmp_path / "local")
    res = runner.invoke(app, ["migrate", "-s", chroma_server, "-t", dst, "--backup-path", str(tmp_path / "bk"),
                              "--collections", "docs"])
    assert res.exit_code == 0, res.output
    assert f"source chroma {chroma_server}, {N} records" in res.output
    close_all()
    assert runner.invoke(app, ["validate", "-s", chroma_server, "-t", dst, "--collections", "docs"]).exit_code == 0
    res = runner.invoke(app, ["backup", "--source", chroma_server + "?database=nope", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2 and "Database [nope] not found" in res.output


def test_unreachable_chroma_server_is_exit_3(tmp_path: Path) -> None:
    res = runner.invoke(app, ["backup", "--source", "chroma+http://127.0.0.1:1", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 3, res.output
    assert "cannot reach chroma+http://127.0.0.1:1" in res.output


def test_chroma_token_comes_from_its_own_variable_never_the_qdrant_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import chromadb

    seen: list[object] = []

    def recording_client(**kwargs: object) -> object:
        seen.append(kwargs.get("headers"))
        raise ValueError("Could not connect to a Chroma server")

    monkeypatch.setattr(chromadb, "HttpClient", recording_client)
    monkeypatch.setenv("CHROMA_TOKEN", "chroma-secret")
    res = runner.invoke(app, ["migrate", "-s", "chroma+http://127.0.0.1:9", "-t", str(tmp_path / "t"),
                              "--api-key", "qdrant-secret", "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 3, res.output
    assert seen == [{"Authorization": "Bearer chroma-secret"}]
    assert "secret" not in res.output
