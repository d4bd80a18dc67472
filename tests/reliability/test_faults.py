"""Transient and terminal faults injected at the client boundary (local-mode qdrant-client)."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_against, verify_live
from qdrant_ops.endpoints.archive import load_manifest
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.endpoints.qdrant import QdrantEndpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import PartialError
from qdrant_ops.format.integrity import scan_digest
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.run import STATE_FILE, migrate
from qdrant_ops.pipeline.retry import RetryPolicy
from reliability.faults import FaultyClient, terminal_error

# These tests run ``--parallel N`` through the slice machinery on the embedded engines.
# Injected transient faults across every verb: run by `make test-slow` and `make test-all`.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sliced_local_mode")]

N = 1500


def _source(tmp_path: Path) -> tuple[str, str]:
    make_collection(":memory:", "c", "sparse", N)
    cfg = BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"), batch_size=100)
    return ":memory:", backup(cfg).backup_dir


@pytest.mark.parametrize("rate", [0.1, 0.3])
@pytest.mark.parametrize("parallel", [1, 2])
def test_backup_scan_faults_lose_nothing(
    tmp_path: Path, rate: float, parallel: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a scroll that failed used to end its slice, and the backup looked complete
    with points missing (the scan generator was dead after raising; next() returned None).

    ``parallel`` 2 scrolls two slices; 1 scans local mode by an ids-only scroll and ``retrieve``
    calls (``QdrantEndpoint._scan_by_ids``), listing 100 ids a call here: faults strike both."""
    import qdrant_ops.endpoints.qdrant as qmod

    monkeypatch.setattr(qmod, "ID_CHUNK", 100)
    make_collection(":memory:", "c", "int-unnamed", N)
    src = open_endpoint(":memory:")
    faulty = FaultyClient(src.client, rate=rate, seed=3, methods={"scroll", "retrieve"})  # type: ignore[attr-defined]
    ep = QdrantEndpoint(faulty, "faulty", "memory")
    cfg = BackupConfig(
        source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"), batch_size=50, parallel=parallel
    )
    report = backup(cfg, source=ep)
    assert faulty.stats.by_method["scroll"] > 0
    assert (faulty.stats.by_method["retrieve"] > 0) == (parallel == 1)
    entry = load_manifest(Path(report.backup_dir)).collections["c"]
    assert entry.points_count == N
    assert entry.digest == scan_digest(src, "c", entry.fields)


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_restore_under_faults_is_exact(tmp_path: Path, rate: float) -> None:
    _, bdir = _source(tmp_path)
    inner = QdrantClient(path=str(tmp_path / "target"))
    faulty = FaultyClient(inner, rate=rate, latency_s=0.001, seed=11)
    tgt = QdrantEndpoint(faulty, "faulty-target", "local")
    cfg = RestoreConfig(backup=bdir, target=endpoint_from_uri(str(tmp_path / "target")), batch_size=100)
    report = restore(cfg, target=tgt, policy=RetryPolicy(base_delay=0.001, max_retries=12))
    assert report.status == "ok"
    assert faulty.stats.faults > 0
    assert sum(c.retries for c in report.collections) > 0
    inner.close()  # reopened, local mode returns the vectors as written (no cosine normalising)
    reopened = QdrantClient(path=str(tmp_path / "target"))
    check = verify_against(bdir, QdrantEndpoint(reopened, "target", "local"))
    reopened.close()
    assert [c.verdict for c in check.collections] == ["exact"]


def _ids(kwargs: dict[str, object]) -> list[object]:
    request = kwargs["points"]  # a Batch (columns) or a list of PointStruct
    return list(request.ids) if hasattr(request, "ids") else [p.id for p in request]  # type: ignore[attr-defined]


@pytest.mark.parametrize("whole_batch", [False, True])
def test_terminal_error_is_not_retried_and_dead_letters(tmp_path: Path, whole_batch: bool) -> None:
    """A refused write is never sent again as it was. Its halves are written on their own, so a
    point the target cannot hold is dead-lettered alone; when both halves are refused too (the
    batch as a whole), the search stops there and the batch is dead-lettered."""
    _, bdir = _source(tmp_path)
    inner = QdrantClient(location=":memory:")
    requests: list[tuple[str, ...]] = []
    bad: set[str] = set()

    def fatal(name: str, args: tuple[object, ...], kwargs: dict[str, object]) -> Exception | None:
        if name != "upsert":
            return None
        ids = tuple(sorted(str(i) for i in _ids(kwargs)))
        requests.append(ids)
        if len(requests) == 3:
            bad.update(ids if whole_batch else ids[40:41])
        return terminal_error("http400") if bad & set(ids) else None

    faulty = FaultyClient(inner, rate=0.0, terminal=fatal)
    tgt = QdrantEndpoint(faulty, "faulty-target", "memory")
    cfg = RestoreConfig(backup=bdir, target=endpoint_from_uri(":memory:"), batch_size=100)
    with pytest.raises(PartialError) as err:
        restore(cfg, target=tgt, policy=RetryPolicy(base_delay=0.001))
    assert "dead-letter" in str(err.value)
    assert len(requests) == len(set(requests)), "a refused request was sent again"
    if whole_batch:
        assert len(requests) == 5  # two batches, the refused one, its two halves
    dead = list(Path(bdir).parent.glob("*.dead-letter-*.parquet"))
    assert len(dead) == 1
    import pyarrow.parquet as pq

    table = pq.read_table(dead[0])
    assert table.num_rows == len(bad) == (100 if whole_batch else 1)
    assert {str(i) for i in table.column("id_int").to_pylist() + table.column("id_uuid").to_pylist()
            if i is not None} == bad
    assert dead[0].stat().st_mode & 0o077 == 0, "dead-letter data must be owner-only"


def _migrate_cfg(src: str, dst: str, tmp: Path, **kw: object) -> MigrateConfig:
    data: dict[str, object] = {
        "source_qdrant": {"url": src}, "target_qdrant": {"url": dst}, "backup_path": str(tmp / "mb"),
        "batch_size": 100, "parallel": 2, "validation": {"samples": 5},
    }
    data.update(kw)
    return MigrateConfig.model_validate(data)


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_migrate_under_faults_is_exact(tmp_path: Path, rate: float) -> None:
    """Faults on both sides (source scrolls, target writes and metadata); the target's digest
    after reopening equals the source's. Both stores are reopened local-mode directories, which
    return vectors as written (an in-session store normalises cosine vectors)."""
    spath = str(tmp_path / "source")
    make_collection(spath, "c", "sparse", N)
    close_all()
    src = QdrantEndpoint(QdrantClient(path=spath), "source", "local")
    fsrc = FaultyClient(src.client, rate=rate, latency_s=0.001, seed=21)
    tpath = str(tmp_path / "target")
    inner = QdrantClient(path=tpath)
    ftgt = FaultyClient(inner, rate=rate, latency_s=0.001, seed=22)
    report = migrate(
        _migrate_cfg(spath, tpath, tmp_path),
        source=QdrantEndpoint(fsrc, "faulty-source", "local"),
        target=QdrantEndpoint(ftgt, "faulty-target", "local"),
        policy=RetryPolicy(base_delay=0.001, max_retries=12),
    )
    assert report.status == "ok", report.summary_lines()
    assert fsrc.stats.faults > 0 and ftgt.stats.faults > 0
    assert sum(c.retries for c in report.collections) > 0
    assert not (tmp_path / "mb" / STATE_FILE).exists()
    inner.close()
    src.client.close()
    # Both reopened the same way: local mode returns cosine vectors differently within the session
    # that wrote them, so the bitwise digests are compared between two fresh sessions.
    source = QdrantEndpoint(QdrantClient(path=spath), "source", "local")
    reopened = QdrantEndpoint(QdrantClient(path=tpath), "target", "local")
    fields = source.get_spec("c").vector_fields()
    ids = [p.id for page in reopened.scan("c", batch_size=500, with_vectors=False) for p in page.points]
    assert len(ids) == len(set(ids)) == N
    assert scan_digest(reopened, "c", fields) == scan_digest(source, "c", fields)
    assert [c.verdict for c in verify_live(source, reopened).collections] == ["exact"]
    reopened.client.close()
    source.client.close()


@pytest.mark.parametrize("kind", ["http400", "dimension"])
def test_migrate_terminal_error_exit_4_dead_letter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   kind: str) -> None:
    """Through the real CLI: a 400 / dimension mismatch on one write is not retried; the run stops
    with exit 4 and the dead-letter file holds exactly the refused points."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    import qdrant_ops.migration.run as migrate_mod
    from qdrant_ops.cli import app

    store = str(tmp_path / "src")
    make_collection(store, "c", "int-unnamed", 600)
    close_all()
    tpath = str(tmp_path / "target")
    upserts: list[int] = []
    refused: list[object] = []

    def fatal(name: str, args: tuple[object, ...], kwargs: dict[str, object]) -> Exception | None:
        if name != "upsert":
            return None
        upserts.append(1)
        ids = _ids(kwargs)
        if len(upserts) == 3:
            refused.extend(ids)  # the target refuses these points from now on
        return terminal_error(kind) if set(ids) & set(refused) else None

    real_open = migrate_mod.open_endpoint

    def open_faulty(cfg: object, **kwargs: object) -> object:
        ep = real_open(cfg, **kwargs)  # type: ignore[arg-type]
        if ep.info().display.endswith("target"):
            return QdrantEndpoint(FaultyClient(ep.client, rate=0.0, terminal=fatal), "faulty-target", "local")  # type: ignore[attr-defined]
        return ep

    monkeypatch.setattr(migrate_mod, "open_endpoint", open_faulty)
    res = CliRunner().invoke(app, ["--quiet", "migrate", "--source", store, "--target", tpath,
                                   "--backup-path", str(tmp_path / "mb"), "--batch-size", "100", "--no-backup"])
    close_all()
    assert res.exit_code == 4, res.output
    assert "Traceback" not in res.output
    assert len(upserts) == 5, "the refused batch was sent again"  # it, then its two halves once
    dead = tmp_path / "mb" / "dead-letter" / "c.parquet"
    assert dead.exists()
    assert sorted(pq.read_table(dead).column("id_int").to_pylist()) == sorted(refused)  # type: ignore[type-var]
    assert len(refused) == 100
    assert dead.stat().st_mode & 0o077 == 0
    assert (tmp_path / "mb" / STATE_FILE).exists(), "the state must stay for the rerun"


@pytest.mark.parametrize("rate", [0.05, 0.15])
def test_verify_live_under_faults_finds_exactly_the_differences(tmp_path: Path, rate: float) -> None:
    """``verify`` of two live stores reads both under transient faults (the source's points and
    the target's ids page by page, the target's points by id): every page is read again, never
    skipped, so the report names exactly the changed, missing and extra points. (A scan of local
    mode resumes with a count, a listing and a retrieve, each of which may fail: at higher rates
    the default retries run out, as they should.)"""
    from qdrant_client import models

    make_collection(":memory:", "c", "int-unnamed", N)
    src = open_endpoint(":memory:")
    scratch = QdrantClient(location=":memory:")
    tgt = QdrantEndpoint(scratch, "target", "memory")
    tgt.create_collection("c", src.get_spec("c"))
    ids = []
    for page in src.scan("c", batch_size=500):
        tgt.write("c", page.points)
        ids.extend(p.id for p in page.points)
    changed, missing = ids[10], ids[700]
    scratch.set_payload("c", payload={"i": -1}, points=[changed])
    scratch.delete("c", points_selector=models.PointIdsList(points=[missing]))
    extra = max(ids) + 1000
    scratch.upsert("c", points=[models.PointStruct(id=extra, vector=[0.5] * 8, payload={})])
    fsrc = FaultyClient(src.client, rate=rate, seed=5, methods={"scroll", "retrieve"})  # type: ignore[attr-defined]
    ftgt = FaultyClient(scratch, rate=rate, seed=6, methods={"scroll", "retrieve", "count"})
    report = verify_live(QdrantEndpoint(fsrc, "faulty-source", "memory"), QdrantEndpoint(ftgt, "faulty-target", "memory"),
                         full=True, limit=100, batch_size=100)
    assert fsrc.stats.faults > 0 and ftgt.stats.faults > 0
    (row,) = report.collections
    assert row.verdict == "differs"
    assert sorted((d["id"], d["kind"]) for d in row.differences) == sorted(
        [(str(changed), "payload"), (str(missing), "missing"), (str(extra), "extra")]
    ), row.differences
    scratch.close()
