"""SIGKILL ``qdrant-ops migrate`` from a pgvector table and from a Chroma store at random moments,
rerun it, and check the target holds exactly the source: nothing lost, doubled or changed.

10 trials per source (issue 28); slow: run by ``make test-slow``.
"""

from __future__ import annotations

import random
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from reliability.crash import Content, clear, migrate_args, migrate_trial, store_content, timed

# each trial runs the real command two or three times: well over the default 300 s per test
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

N = 1000
TRIALS = 10
BATCH = 50
# the content is checked by the trial itself (ids, digest, verify): the parity step only adds time
EXTRA = ("--no-validate",)


def _expected(source: str, tmp_path: Path, ids: set[object], name: str) -> tuple[Content, float]:
    """An uninterrupted run's content (checked against the source's ids) and its duration."""
    calib = tmp_path / "calib"
    full = timed(migrate_args(source, str(calib / "target"), calib, 1, BATCH, EXTRA))
    expected = store_content(str(calib / "target"), name)
    assert set(expected.ids) == ids and sum(expected.ids.values()) == N
    shutil.rmtree(calib)
    return expected, full


def _trials(source: str, name: str, expected: Content, full: float, tmp_path: Path, seed: str) -> None:
    rng = random.Random(seed)
    results = []
    for i in range(TRIALS):
        work = tmp_path / f"t{i}"
        clear(work)
        results.append(migrate_trial(source, expected, work, rng, full, 1, BATCH, EXTRA, name))
        shutil.rmtree(work, ignore_errors=True)
    bad = [(r.kill_at_s, r.problems, r.lost, r.duplicated, r.digest_ok) for r in results if not r.ok]
    killed = sum(r.killed for r in results)
    print(f"\n{source.split(':')[0]}: {len(results)} trials, {killed} killed mid-run, {len(bad)} failed "
          f"(uninterrupted run {full:.1f}s)")
    assert not bad, bad
    assert killed, "no trial killed the run mid-way"


def test_migrate_from_pgvector_killed_at_random_moments(pg_server: str, tmp_path: Path) -> None:
    import psycopg

    rng = np.random.default_rng(11)
    with psycopg.connect(pg_server, autocommit=True) as c:
        c.execute("CREATE TABLE c (id bigint PRIMARY KEY, v vector(16), n int, label text, meta jsonb)")
        c.execute("CREATE INDEX ON c USING hnsw (v vector_l2_ops)")
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO c VALUES (%s, %s, %s, %s, %s)",
                [(i * 7, str(rng.random(16).tolist()), i, f"row {i}", '{"k": %d}' % i) for i in range(N)],
            )
    try:
        source = pg_server + "&table=c" if "?" in pg_server else pg_server + "?table=c"
        expected, full = _expected(source, tmp_path, {i * 7 for i in range(N)}, "c")
        _trials(source, "c", expected, full, tmp_path, "pgvector-crash")
    finally:
        with psycopg.connect(pg_server, autocommit=True) as c:
            c.execute("DROP TABLE c")


def test_migrate_from_chroma_killed_at_random_moments(tmp_path: Path) -> None:
    chromadb = pytest.importorskip("chromadb")
    from chromadb.config import Settings

    store = tmp_path / "chroma"
    client = chromadb.PersistentClient(path=str(store), settings=Settings(anonymized_telemetry=False))
    col = client.create_collection("crash", metadata={"hnsw:space": "cosine"})
    rng = np.random.default_rng(12)
    ids = [f"doc-{i}" for i in range(N)]
    for start in range(0, N, 500):
        col.add(ids=ids[start:start + 500], embeddings=rng.random((500, 16)).astype("float32"),
                metadatas=[{"n": i} for i in range(start, start + 500)])
    del col, client
    source = f"chroma:{store}"
    mapped = {str(uuid.uuid5(uuid.NAMESPACE_URL, i)) for i in ids}
    expected, full = _expected(source, tmp_path, mapped, "crash")
    _trials(source, "crash", expected, full, tmp_path, "chroma-crash")
