"""Qdrant Edge's read and write path: read-ahead advice for a scan, scroll and update calls, and
points converted to and from Edge's records."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.base import Point, PointId, SparseValue
from qdrant_ops.endpoints.edge.config import _q

log = logging.getLogger(__name__)

# What a scan reads of a shard's segments: payloads, vectors, the id tracker (files at the top of
# each segment). Not the HNSW or payload indexes, nor the WAL.
SCAN_DIRS = ("payload_storage", "vector_storage")
# Read-ahead is asked for only while the files to read take at most this much disk.
READAHEAD_CAP = 1 << 30


def advise_scan(shard_dir: Path, *, vectors: bool = True, cap: int = READAHEAD_CAP) -> int:
    """Ask the kernel to read ahead, sequentially, the files a scan of this shard is about to read
    (``posix_fadvise(WILLNEED)``); the bytes asked for (0 when none: no such call on this
    platform, files over ``cap``, or an error, which never fails the scan).

    Edge maps its payload storage and reads it page by page: a process's first scan of a shard
    whose files are not in the page cache takes a major fault per 4 KiB page; the advice costs
    little beside that, and a backup reads every payload and vector anyway.
    """
    fadvise = getattr(os, "posix_fadvise", None)
    if fadvise is None:
        return 0
    try:
        files: list[Path] = []
        total = 0
        for seg in (shard_dir / "segments").iterdir():
            if not seg.is_dir():
                continue
            found = [f for f in seg.iterdir() if f.is_file()]
            for sub in SCAN_DIRS if vectors else SCAN_DIRS[:1]:
                if (seg / sub).is_dir():
                    found += [f for f in (seg / sub).rglob("*") if f.is_file()]
            for f in found:
                files.append(f)
                total += f.stat().st_blocks * 512
        if total > cap:
            return 0
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            try:
                fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            finally:
                os.close(fd)
    except OSError as exc:
        log.debug("read-ahead advice for %s skipped: %s", shard_dir, exc)
        return 0
    return total


def updater(op: Any) -> Callable[[Any], None]:
    def run(shard: Any) -> None:
        shard.update(op)

    return run


def scroller(request: Any) -> Callable[[Any], tuple[list[Any], Any]]:
    def run(shard: Any) -> tuple[list[Any], Any]:
        records, nxt = shard.scroll(request)
        return list(records), nxt

    return run


def id_out(pid: Any) -> PointId:
    if isinstance(pid, uuid.UUID):
        return str(pid)
    if isinstance(pid, int):
        return pid
    return str(pid)


def point_to_edge(p: Point) -> Any:
    q = _q()
    vectors: dict[str, Any] = {}
    for k, v in p.vectors.items():
        if v is None:
            continue
        if isinstance(v, SparseValue):
            vectors[k] = q.SparseVector(indices=list(v.indices), values=list(v.values))
        elif hasattr(v, "tolist"):
            vectors[k] = v.tolist()
        else:
            vectors[k] = v
    vector: Any = vectors[""] if set(vectors) == {""} else vectors
    return q.Point(id=p.id, vector=vector, payload=p.payload)
