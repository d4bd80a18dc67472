"""A backup keeps about one page of points alive at a time, not the collection, not two pages.

Measured through the public verb with tracemalloc: qdrant-client's local mode keeps its vectors in
numpy and hands each scanned point over as a fresh list of Python floats, so with wide vectors a
page's Python objects dominate what tracemalloc sees (Arrow's buffers are outside it). Edge keeps
its records in Rust memory, which tracemalloc does not see, so it is not measured here.
"""

from __future__ import annotations

import gc
import random
import tracemalloc
from pathlib import Path

from qdrant_client import models

from qdrant_ops.data.backup import backup
from qdrant_ops.data.backup_report import BackupReport
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri

DIM = 2048
BATCH = 50
# One scanned point as Python objects: a list of DIM pointers to DIM float objects.
POINT_BYTES = DIM * (8 + 24) + 56
PAGE_BYTES = BATCH * POINT_BYTES


def _backup(uri: str, tmp_path: Path, name: str) -> BackupReport:
    cfg = BackupConfig(
        source=endpoint_from_uri(uri),
        backup_path=str(tmp_path / name),
        collections=[name],
        batch_size=BATCH,
        rows_per_file=BATCH,
    )
    return backup(cfg)


def _wide_collection(uri: str, name: str, n: int) -> None:
    client = open_endpoint(uri).client  # type: ignore[attr-defined]
    client.create_collection(name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT))
    rng = random.Random(1)
    for start in range(0, n, BATCH):
        points = [
            models.PointStruct(id=i, vector=[rng.random() for _ in range(DIM)]) for i in range(start, min(n, start + BATCH))
        ]
        client.upsert(name, points)


def test_backup_peak_is_about_a_page_not_the_collection(tmp_path: Path) -> None:
    uri = ":memory:"
    # Over 8 pages, so local mode is read by id a page at a time (its scroll copies the collection).
    points, pages_allowed = 12 * BATCH, 2.0
    _wide_collection(uri, "wide", points)
    # The first backup in a process pays one-off costs (imports, caches) that are not per page.
    _wide_collection(uri, "warm-up", 1)
    assert _backup(uri, tmp_path, "warm-up").status == "ok"
    assert points // BATCH >= 2 * pages_allowed  # holding the collection could not pass
    gc.collect()
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()  # pytest may be tracing already: count from here
    try:
        base = tracemalloc.get_traced_memory()[0]
        rep = _backup(uri, tmp_path, "wide")
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not tracing:
            tracemalloc.stop()
    assert rep.status == "ok", rep.summary_lines()
    assert rep.collections[0].points == points
    assert peak < pages_allowed * PAGE_BYTES, f"peak {peak / PAGE_BYTES:.2f} pages of {points // BATCH}"
