"""Batched writes: transient errors retried, oversized batches halved, failures never silent.

A batch that still fails is returned to the caller with the error, who either stops (exit 4) or
puts its points into a dead-letter Parquet file named in the report.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from qdrant_ops.endpoints.base import Endpoint, Point, SparseValue, VectorField
from qdrant_ops.errors import is_too_large, is_transient
from qdrant_ops.pipeline.retry import RetryPolicy, RetryStats, call_with_retry

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024


_dumps = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), built once


def _payload_bytes(payload: Any) -> int:
    """The payload's JSON size in UTF-8 bytes (orjson; the stdlib for what orjson refuses)."""
    try:
        return len(orjson.dumps(payload))
    except TypeError:
        return len(_dumps(payload).encode("utf-8", "surrogatepass"))


def estimate_bytes(p: Point) -> int:
    """A fast estimate of a point's request size (JSON numbers ~ 10 bytes each)."""
    size = 40 + _payload_bytes(p.payload) if p.payload else 40
    for v in p.vectors.values():
        if isinstance(v, SparseValue):
            size += 16 * len(v.indices)
        elif hasattr(v, "__len__"):
            first = v[0] if len(v) else None
            if first is not None and hasattr(first, "__len__"):
                size += sum(10 * len(row) for row in v)  # multi-vector
            else:
                size += 10 * len(v)
    return size


def split_by_bytes(
    points: Sequence[Point], max_bytes: int, sizes: Sequence[int] | None = None
) -> list[list[Point]]:
    """Cut a batch into pieces whose estimated request size stays under ``max_bytes``.

    ``sizes``: each point's ``estimate_bytes`` where the caller has it cheaper (restore reads the
    payload lengths off the Parquet column instead of encoding every payload again).
    """
    if sizes is not None and sum(sizes) <= max_bytes:
        return [list(points)] if points else []
    out: list[list[Point]] = []
    cur: list[Point] = []
    size = 0
    for i, p in enumerate(points):
        b = sizes[i] if sizes is not None else estimate_bytes(p)
        if cur and size + b > max_bytes:
            out.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += b
    if cur:
        out.append(cur)
    return out


@dataclass
class WriteFailure:
    points: list[Point]
    error: str


@dataclass
class WriteStats:
    written: int = 0
    batches: int = 0
    splits: int = 0
    failed: int = 0
    failures: list[WriteFailure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class BatchWriter:
    """Writes batches to one collection of an endpoint."""

    def __init__(
        self,
        endpoint: Endpoint,
        collection: str,
        *,
        policy: RetryPolicy | None = None,
        retry_stats: RetryStats | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.endpoint = endpoint
        self.collection = collection
        self.policy = policy or RetryPolicy()
        self.retry_stats = retry_stats or RetryStats()
        self.max_bytes = max_bytes
        self.stats = WriteStats()

    def write(self, points: Sequence[Point], sizes: Sequence[int] | None = None) -> list[WriteFailure]:
        """Write ``points``; returns the pieces that could not be written (empty when all were).

        ``sizes``: the points' estimated request sizes, when the caller knows them (see
        ``split_by_bytes``)."""
        failures: list[WriteFailure] = []
        for piece in split_by_bytes(points, self.max_bytes, sizes):
            failures.extend(self._write_piece(list(piece)))
        with self.stats._lock:
            self.stats.failed += sum(len(f.points) for f in failures)
            self.stats.failures.extend(failures)
        return failures

    def _write_piece(self, piece: list[Point]) -> list[WriteFailure]:
        exc = self._try(piece)
        return [] if exc is None else self._after_refusal(piece, exc)

    def _try(self, piece: list[Point]) -> Exception | None:
        """One write of ``piece`` (transient errors retried); the error it ended with, or None."""
        try:
            call_with_retry(
                lambda: self.endpoint.write(self.collection, piece),
                self.policy,
                self.retry_stats,
                what=f"write to {self.collection}",
            )
        except Exception as exc:  # noqa: BLE001 - classified by the caller, never dropped
            return exc
        with self.stats._lock:
            self.stats.written += len(piece)
            self.stats.batches += 1
        return None

    def _after_refusal(self, piece: list[Point], exc: Exception) -> list[WriteFailure]:
        if is_too_large(exc) and len(piece) > 1:
            half = len(piece) // 2
            with self.stats._lock:
                self.stats.splits += 1
            log.info("batch of %d refused as too large; halving", len(piece))
            return self._write_piece(piece[:half]) + self._write_piece(piece[half:])
        if not is_transient(exc) and len(piece) > 1:
            return self._isolate(piece, exc)
        return [self._failure(piece, exc)]

    def _isolate(self, piece: list[Point], exc: Exception) -> list[WriteFailure]:
        """A batch the target refused outright: each half written on its own, so that one point
        the target cannot hold (a value, a vector) does not take the others with it. Both halves
        refused as well means a refusal of the batch as a whole (a wrong dimension everywhere, a
        missing collection): the search stops there, at three requests."""
        halves = [piece[: len(piece) // 2], piece[len(piece) // 2 :]]
        errors = [self._try(h) for h in halves]
        if all(e is not None and not is_too_large(e) and not is_transient(e) for e in errors):
            return [self._failure(piece, exc)]
        out: list[WriteFailure] = []
        for half, error in zip(halves, errors, strict=True):
            if error is not None:
                out += self._after_refusal(half, error)
        return out

    def _failure(self, piece: list[Point], exc: Exception) -> WriteFailure:
        kind = "transient, retries exhausted" if is_transient(exc) else "terminal"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning("batch of %d failed (%s): %s", len(piece), kind, text)
        return WriteFailure(piece, f"{type(exc).__name__}: {text}")



def write_dead_letter(
    path: Path, failures: Sequence[WriteFailure], fields: Sequence[VectorField]
) -> int:
    """Append failed points (and why) to a dead-letter Parquet file; returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from qdrant_ops.format.columns import encode_points

    rows = 0
    tables: list[Any] = []
    for f in failures:
        batch = encode_points(f.points, fields)
        table = pa.Table.from_batches([batch]).append_column(
            "error", pa.array([f.error] * len(f.points), pa.string())
        )
        tables.append(table)
        rows += len(f.points)
    if not tables:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.concat_tables(tables)
    if path.exists():
        table = pa.concat_tables([pq.read_table(path), table])
    tmp = path.with_name(path.name + ".tmp")
    # Owner-only, like every data file: the dead letter holds the points themselves.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    os.chmod(tmp, 0o600)
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
    return rows
