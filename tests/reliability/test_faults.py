"""Transient and terminal faults injected at the client boundary (local-mode qdrant-client)."""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from datagen import make_collection
from qdrant_ops.backup import backup
from qdrant_ops.config import BackupConfig, RestoreConfig, endpoint_from_uri
from qdrant_ops.endpoints import open_endpoint
from qdrant_ops.endpoints.archive import load_manifest
from qdrant_ops.endpoints.qdrant import QdrantEndpoint
from qdrant_ops.errors import PartialError
from qdrant_ops.pipeline.retry import RetryPolicy
from qdrant_ops.restore import restore
from qdrant_ops.verify import digest_endpoint, verify_against
from reliability.faults import FaultyClient, terminal_error

N = 1500


def _source(tmp_path: Path) -> tuple[str, str]:
    make_collection(":memory:", "c", "sparse", N)
    cfg = BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"), batch_size=100)
    return ":memory:", backup(cfg).backup_dir


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_backup_scan_faults_lose_nothing(tmp_path: Path, rate: float) -> None:
    """Regression: a scroll that failed used to end its slice, and the backup looked complete
    with points missing (the scan generator was dead after raising; next() returned None)."""
    make_collection(":memory:", "c", "int-unnamed", N)
    src = open_endpoint(":memory:")
    faulty = FaultyClient(src.client, rate=rate, seed=3, methods={"scroll"})  # type: ignore[attr-defined]
    ep = QdrantEndpoint(faulty, "faulty", "memory")
    cfg = BackupConfig(
        source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"), batch_size=50, parallel=2
    )
    report = backup(cfg, source=ep)
    assert faulty.stats.faults > 0
    entry = load_manifest(Path(report.backup_dir)).collections["c"]
    assert entry.points_count == N
    assert entry.digest == digest_endpoint(src, "c", entry.fields)


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


def test_terminal_error_is_not_retried_and_dead_letters(tmp_path: Path) -> None:
    _, bdir = _source(tmp_path)
    inner = QdrantClient(location=":memory:")
    hits: list[int] = []

    def fatal(name: str, args: tuple[object, ...], kwargs: dict[str, object]) -> Exception | None:
        if name == "upsert":
            hits.append(1)
            if len(hits) == 3:
                return terminal_error("http400")
        return None

    faulty = FaultyClient(inner, rate=0.0, terminal=fatal)
    tgt = QdrantEndpoint(faulty, "faulty-target", "memory")
    cfg = RestoreConfig(backup=bdir, target=endpoint_from_uri(":memory:"), batch_size=100)
    with pytest.raises(PartialError) as err:
        restore(cfg, target=tgt, policy=RetryPolicy(base_delay=0.001))
    assert "dead-letter" in str(err.value)
    assert len(hits) == 3  # the 400 was not retried
    dead = list(Path(bdir).parent.glob("*.dead-letter-*.parquet"))
    assert len(dead) == 1
    import pyarrow.parquet as pq

    assert pq.read_table(dead[0]).num_rows == 100
    assert dead[0].stat().st_mode & 0o077 == 0, "dead-letter data must be owner-only"
