"""Benchmarks: backup, restore, verify and migrate against the engine's own ceilings and the peer.

One generated dataset, one engine per run (``--engine memory|local|edge``). Every measured
operation runs in a fresh subprocess (``--worker``), so peak RSS figures never mix; the engine is
opened (and, for ``:memory:``, filled) before the baseline RSS is taken, so the peak reported is
what the operation adds on top of the engine: anonymous memory (``RssAnon``), since the
engine's own files mapped into the process are the engine's; the total is reported beside it.
On Edge, restore and migrate end with ``optimize()`` (the index a searchable collection needs),
so the upsert ceiling there is the raw upsert followed by the raw ``optimize()``.

Absolute numbers are noisy on a shared 2-core machine; the ratios, measured within one run on the
same engine and data, carry the result. Like for like: each page or batch size of a ceiling is
measured as the first pass in a fresh process, as an operation of qdrant-ops always runs (on
Qdrant Edge a process's first scan costs about twice its second; the second pass is shown too),
and since a ceiling is the best of the sizes tried, each of qdrant-ops' timed operations at N
runs ``--repeat`` times (3), each in a fresh process, and its fastest run counts; its memory
figures are its first run's. Targets (issue 9) are checked and shown PASS/FAIL.

    python benchmarks/bench.py --engine memory --points 10000 --dims 128 --json bench.json
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import numpy as np

from qdrant_ops.pipeline.gcpolicy import bulk_gc
from qdrant_ops.pipeline.heap import release_free_heap

COLLECTION = "bench"
SEED = 20240611
# 16,000: qdrant-client's local mode sorts every id on each scroll call, so its best page grows
# with the collection (100k 128-d points on :memory:: 29k points/s at 4,000, 41k at 16,000).
SCROLL_PAGES = (100, 1000, 4000, 16000)
UPSERT_BATCHES = (64, 256, 1000, 4000)


def ours_sizes(dims: int, engine: str) -> tuple[int, int]:
    """``(page, batch)``: the scroll page backup/migrate choose for this data and the write batch
    restore/migrate choose for this engine; the ceilings' search includes them, so ours never runs
    at a size the ceiling skipped."""
    from qdrant_ops.endpoints.base import VectorField
    from qdrant_ops.pipeline.sizing import page_size, write_batch

    return page_size([VectorField("", "dense", dims, "Cosine")]), write_batch(engine)


DEFAULT_POINTS = {"memory": 10_000, "local": 2_000, "edge": 20_000}

# -- dataset -----------------------------------------------------------------------------------


class LazyPayloads(Sequence[dict[str, Any]]):
    """The dataset's payloads, each made when it is read (a slice: a list of new dicts), so a
    dataset held for writing keeps none in the Python heap: see ``_engine_growth_kb``."""

    def __init__(self, scores: np.ndarray) -> None:
        self._scores = scores

    def __len__(self) -> int:
        return len(self._scores)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [_payload(k, float(self._scores[k])) for k in range(*i.indices(len(self)))]
        return _payload(range(len(self))[i], float(self._scores[i]))


_CATS = ("news", "blog", "paper", "forum", None)


def _payload(i: int, score: float) -> dict[str, Any]:
    return {
        "doc_id": i,
        "title": f"Document {i} — über Qdrant 検索",
        "score": score,
        "category": _CATS[i % 5],
        "tags": ["a", "b", "c"][: i % 4],
        "meta": {"len": i * 7 % 1000, "ratio": i / 3.0, "ok": i % 2 == 0, "none": None},
    }


def gen_dataset(
    n: int, dims: int, seed: int = SEED, *, lazy: bool = False
) -> tuple[np.ndarray, np.ndarray, Sequence[dict[str, Any]]]:
    """``(ids, vectors, payloads)``: int ids, float32 vectors, payloads of every JSON shape
    (``lazy``: made as they are read, the same values)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype=np.uint64)
    vectors = rng.standard_normal((n, dims), dtype=np.float32)
    scores = rng.random(n) * 100
    payloads = LazyPayloads(scores)
    return ids, vectors, (payloads if lazy else payloads[:])


# -- engines (raw client access, for ceilings and loading) -------------------------------------


def engine_uri(engine: str, path: str) -> str:
    if engine == "memory":
        return ":memory:"
    if engine == "edge":
        return f"edge:{path}"
    return path


def raw_client(engine: str, path: str) -> Any:
    """The engine's own client object, shared with qdrant-ops' endpoint for the same store."""
    from qdrant_ops.endpoints.open import open_endpoint

    ep = open_endpoint(engine_uri(engine, path))
    return ep.client if engine != "edge" else ep


def create_collection(engine: str, client: Any, name: str, dims: int) -> None:
    if engine == "edge":
        from qdrant_ops.endpoints.base import CollectionSpec

        if client.collection_exists(name):
            client.delete_collection(name)
        client.create_collection(
            name, CollectionSpec(name=name, config={"params": {"vectors": {"size": dims, "distance": "Cosine"}}})
        )
        return
    from qdrant_client import models

    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(name, vectors_config=models.VectorParams(size=dims, distance=models.Distance.COSINE))


def _batches(engine: str, data: Any, batch: int) -> Iterator[Any]:
    """The dataset as the engine's own write batches, built one at a time: Edge points for
    ``EdgeShard.update``, a ``models.Batch`` for ``QdrantClient.upsert``."""
    ids, vectors, payloads = data
    for s in range(0, len(ids), batch):
        e = min(s + batch, len(ids))
        if engine == "edge":
            from qdrant_edge import Point as EdgePoint

            rows = vectors[s:e].tolist()
            yield [EdgePoint(id=int(i), vector=v, payload=p) for i, v, p in zip(ids[s:e].tolist(), rows, payloads[s:e])]
        else:
            from qdrant_client import models

            yield models.Batch(ids=ids[s:e].tolist(), vectors=vectors[s:e].tolist(), payloads=payloads[s:e])


def raw_upsert(
    engine: str, client: Any, name: str, data: Any, batch: int, on_write: Callable[[int], None] | None = None
) -> None:
    """The dataset written by the engine's own calls, ``batch`` points a call (``on_write`` is told
    each call's count as it returns)."""
    if engine == "edge":  # the engine's own API: EdgeShard.update(upsert_points([...]))
        from qdrant_edge import UpdateOperation

        shard = client._shard(name)
        for pts in _batches(engine, data, batch):
            shard.update(UpdateOperation.upsert_points(pts))
            if on_write:
                on_write(len(pts))
        return
    for b in _batches(engine, data, batch):
        client.upsert(name, points=b, wait=True)
        if on_write:
            on_write(len(b.ids))


def raw_optimize(client: Any, name: str) -> None:
    """Qdrant Edge's own calls that index a filled shard (what restore and migrate run after
    writing): ``EdgeShard.optimize()`` then ``flush()``."""
    shard = client._shard(name)
    shard.optimize()
    shard.flush()


def raw_scroll(engine: str, client: Any, name: str, page: int, pages: int | None = None) -> int:
    """Points read by scrolling ``name`` a ``page`` at a time, to the end or for ``pages`` calls."""
    n = calls = 0
    offset = None
    if engine == "edge":
        from qdrant_edge import ScrollRequest

        shard = client._shard(name)
        while True:
            req = ScrollRequest(offset=offset, limit=page, with_payload=True, with_vector=True)
            records, offset = shard.scroll(req)
            calls += 1
            for r in records:  # vectors and payloads copied into Python, as any reader needs them
                _ = (r.vector, r.payload)
            n += len(records)
            if offset is None or not records or pages == calls:
                return n
    while True:
        records, offset = client.scroll(name, limit=page, offset=offset, with_payload=True, with_vectors=True)
        n += len(records)
        calls += 1
        if offset is None or not records or pages == calls:
            return n


# -- memory measurement ------------------------------------------------------------------------


def _status_kbs(*fields: str) -> dict[str, int]:
    """The kB figures of ``fields`` in ``/proc/self/status``, read in one go (0 where absent)."""
    out = dict.fromkeys(fields, 0)
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key = line.split(":", 1)[0]
            if key in out:
                out[key] = int(line.split()[1])
    return out


def _status_kb(field: str) -> int:
    return _status_kbs(field)[field]


# Memory is counted as anonymous RSS (``RssAnon``: the heap, Python objects, Arrow buffers):
# file-backed pages are the engine's files mapped into the process (Qdrant Edge reads its
# segments through mmap, so a scan of 200k points maps ~50 MiB more than one of 20k, raw scroll
# or backup alike) and are counted apart, as ``rss_total_*``.
ANON = "RssAnon"
# How far the file-backed pages may move within a write call for the high-water mark to still be
# split into them and anonymous memory (a write call at 200k points on Edge: 1.4 MiB).
MAPPED_SLACK_KB = 4 * 1024


class PeakRss:
    """Peak RSS during a block: anonymous memory sampled every 5 ms, and the total (the kernel's
    high-water mark, reset first, or the samples).

    ``mark(written)``, called as each write call returns, closes that call's interval:
    ``intervals`` holds ``[points before, points after, peak anonymous kB]`` per write call (the
    first also covers what ran before it), then ``[points, points, peak]`` for what ran after
    the last one (on Edge, ``optimize()``). See ``engine_part``."""

    def __init__(self) -> None:
        self.baseline = 0
        self.peak = 0
        self.anon_baseline = 0
        self.anon_peak = 0
        self.intervals: list[list[int]] = []
        self._points = 0
        self._interval_peak = 0
        self._interval_mapped = 0  # the most file-backed kB sampled in the interval
        self._interval_mapped_min = 0  # and the least
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampled = 0
        self._thread: threading.Thread | None = None
        self._hwm_reset = False

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            now = _status_kbs("VmRSS", ANON, "RssFile", "RssShmem")
            self._sampled = max(self._sampled, now["VmRSS"])
            anon = now[ANON]
            with self._lock:
                self.anon_peak = max(self.anon_peak, anon)
                self._interval_peak = max(self._interval_peak, anon)
                mapped = now["RssFile"] + now["RssShmem"]
                self._interval_mapped = max(self._interval_mapped, mapped)
                self._interval_mapped_min = min(self._interval_mapped_min, mapped)

    def mark(self, written: int) -> None:
        """A write call of ``written`` points has returned."""
        with self._lock:
            anon = self._close_interval()
            self.intervals.append([self._points, self._points + written, anon])
            self._points += written

    def _close_interval(self) -> int:
        """The interval's peak anonymous kB; the kernel's high-water mark is read and reset too, so
        a peak shorter than the sampling period (the engine copying an array) is not missed: the
        total's mark less the file-backed pages, where those stayed within ``MAPPED_SLACK_KB``
        through the interval (sampled, and now).

        The mark counts every resident page, so where files were mapped and unmapped again within
        the interval (Qdrant Edge's ``optimize()`` maps its new segments: 497 MiB of file pages at
        its height at 200k points, 203 MiB when it returned), its anonymous part is not known, and
        the samples alone count. Less only the file-backed pages at the end, the engine's peak
        read 442 MiB there, against 97 MiB sampled."""
        now = _status_kbs(ANON, "VmHWM", "RssFile", "RssShmem")  # one read: this runs per write call
        anon = now[ANON]
        mapped_now = now["RssFile"] + now["RssShmem"]
        peak = max(self._interval_peak, anon)
        if self._hwm_reset:
            self.peak = max(self.peak, now["VmHWM"])
            most = max(self._interval_mapped, mapped_now)
            if most - min(self._interval_mapped_min, mapped_now) <= MAPPED_SLACK_KB:
                peak = max(peak, now["VmHWM"] - most)
            _reset_hwm()
        self.anon_peak = max(self.anon_peak, peak)
        self._interval_peak = anon
        self._interval_mapped = self._interval_mapped_min = mapped_now
        return peak

    def __enter__(self) -> PeakRss:
        gc.collect()
        # The baseline is what is alive: free memory the C heap still holds from before (the
        # dataset's generation, an exact count on Edge's threads) is handed back first, so that
        # an operation that reuses it, or hands it back itself, is measured all the same.
        release_free_heap()
        start = _status_kbs("VmRSS", ANON, "RssFile", "RssShmem")
        self.baseline = start["VmRSS"]
        self.anon_baseline = self.anon_peak = self._interval_peak = start[ANON]
        self._interval_mapped = self._interval_mapped_min = start["RssFile"] + start["RssShmem"]
        self._hwm_reset = _reset_hwm()
        self._sampled = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self.intervals.append([self._points, self._points, self._close_interval()])
        self.peak = max(self.peak, self._sampled, _status_kb("VmRSS"))


def _reset_hwm() -> bool:
    """Reset the kernel's RSS high-water mark (``VmHWM``); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def engine_part(curve: list[list[int]], start: int, end: int) -> int:
    """The engine's anonymous kB (above the empty engine) while a writer's call took points
    ``(start, end]`` (``start == end``: after its last call), from the engine's own ``curve``
    (``_engine_growth_kb``): the most it held in any of its intervals that overlap those points."""
    if start == end:
        hits = [kb for a, b, kb in curve if (a < end <= b) or (a == b == end)]
    else:
        hits = [kb for a, b, kb in curve if a < end and b > start]
    return max(hits, default=0)


# -- worker: one operation in this (fresh) process ---------------------------------------------


def _timed(fn: Callable[[], Any], *, mark_writes: bool = False) -> tuple[float, Any, PeakRss]:
    """``fn()`` timed, with its peak RSS; ``mark_writes``: each write call of qdrant-ops' endpoints
    is marked as it returns (``PeakRss.mark``)."""
    with PeakRss() as rss, contextlib.ExitStack() as stack:
        if mark_writes:
            from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint
            from qdrant_ops.endpoints.qdrant import QdrantEndpoint

            for cls in (QdrantEndpoint, EdgeEndpoint):
                stack.enter_context(_marking(cls, rss))
        t0 = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t0
    return elapsed, out, rss


@contextlib.contextmanager
def _marking(cls: Any, rss: PeakRss) -> Iterator[None]:
    write = cls.write

    def marked(self: Any, name: str, points: Any) -> None:
        write(self, name, points)
        rss.mark(len(points))

    cls.write = marked
    try:
        yield
    finally:
        cls.write = write


def _open_source(a: dict[str, Any]) -> tuple[Any, Any]:
    """The source store, holding the dataset (``:memory:`` is filled here, untimed), opened
    before anything is timed (an Edge shard is loaded on first use)."""
    client = raw_client(a["engine"], a["source"])
    data = None
    if a["engine"] == "memory":
        data = gen_dataset(a["n"], a["dims"])
        create_collection(a["engine"], client, COLLECTION, a["dims"])
        raw_upsert(a["engine"], client, COLLECTION, data, 4000)
        del data
    client.count(COLLECTION)
    return client, None


def _rss_fields(rss: PeakRss, growth: dict[str, Any] | None = None) -> dict[str, float]:
    """Peak anonymous memory above the opened engine; for writes, the engine's own part is
    excluded (``growth``: see ``_engine_growth_kb``): point by point along the engine's curve
    where the writer's calls were marked (restore), else the engine's final growth. The total RSS
    (file-backed pages included) is kept too, not subtracted."""
    final_kb = max((growth or {}).get("engine_growth_kb", 0), 0)
    curve = (growth or {}).get("engine_curve")
    if curve and rss.intervals[:-1]:
        # the writer's most above the engine at the same points, and where that was
        parts = [engine_part(curve, a, b) for a, b, _ in rss.intervals]
        above, at = max((kb - rss.anon_baseline - part, b) for (_, b, kb), part in zip(rss.intervals, parts))
        engine_kb = rss.anon_baseline + max(parts)
    else:
        above, at = rss.anon_peak - rss.anon_baseline - final_kb, None
        engine_kb = rss.anon_baseline + final_kb
    out = {
        "rss_engine_mb": engine_kb / 1024,
        "rss_peak_mb": rss.anon_peak / 1024,
        "rss_peak_above_engine_mb": max(above, 0) / 1024,
        "rss_total_engine_mb": rss.baseline / 1024,
        "rss_total_peak_mb": rss.peak / 1024,
    }
    if growth is not None:
        # the same peak above only what the engine holds once written (shown, not a target)
        out["rss_peak_above_engine_final_mb"] = max(rss.anon_peak - rss.anon_baseline - final_kb, 0) / 1024
        if at is not None:
            out["rss_peak_above_engine_at_points"] = at
    return out


def _after_kb() -> int:
    """Anonymous kB alive: collected, and the C heap's free memory handed back (as ``PeakRss``
    takes its baseline)."""
    gc.collect()
    release_free_heap()
    return _status_kb(ANON)


def _preload() -> None:
    """Import the code every operation uses, so peaks measure data, not modules being loaded."""
    import pyarrow.parquet  # noqa: F401
    import xxhash  # noqa: F401
    from qdrant_client import models  # noqa: F401

    import qdrant_ops.data.backup  # noqa: F401
    import qdrant_ops.data.restore  # noqa: F401
    import qdrant_ops.data.verify  # noqa: F401

    try:
        import qdrant_ops.migrate.run  # noqa: F401
    except ImportError:
        pass


def _engine_growth_kb(engine: str, path: str, n: int, dims: int) -> dict[str, Any]:
    """What the engine itself holds as it takes ``n`` points from a raw upsert (on Edge also
    indexed): ``engine_growth_kb``, its anonymous RSS gained once written (gc'd), and
    ``engine_curve``, per write call the most it held above its start (see ``PeakRss.mark``)
    and then the same for ``optimize()``. Both are the engine's and are excluded from writers'
    peaks: restore's point by point (``engine_part``), migrate's and the peer's by the final growth.

    The curve rises above the final growth where the engine copies what it holds: local mode keeps
    each dense vector field in one numpy array and doubles it with ``np.resize``, so the old array
    and the new one are alive together for a moment (40k 768-d points on ``:memory:``: 364 MiB at
    the end, 494 at that moment); Edge's ``optimize()`` builds new segments beside the old ones
    (200k 128-d points: 25 MiB above its start). A restore writing the same points meets the same
    moment at the same point, and only what it holds beyond the engine then is its own.

    The raw upsert's own write batch is the benchmark's, not the engine's: one batch is built first
    in a fresh heap and its size taken off the curve. The dataset is numpy arrays and payloads
    made as they are written (``LazyPayloads``), so freeing it leaves nothing in the heap, and
    ``before`` is read before it is made: reading it with a dataset of Python objects alive
    subtracted that dataset's size (130 MiB at 100k 128-d points, 13 at 10k) from the engine's
    growth, which made any writer look as if it grew with N.
    """
    client = raw_client(engine, path)
    create_collection(engine, client, COLLECTION, dims)
    before = _after_kb()
    data = gen_dataset(n, dims, lazy=True)
    # Written in the batch restore and migrate write in: local mode grows by more when it is given
    # more points a request (2k 128-d points: 15.2 MiB at 1,000 a request, 9.4 at 256).
    batch = ours_sizes(dims, engine)[1]
    start = _after_kb()
    first = next(_batches(engine, data, batch))
    batch_kb = max(_status_kb(ANON) - start, 0)
    del first
    with PeakRss() as writing:
        raw_upsert(engine, client, COLLECTION, data, batch, on_write=writing.mark)
        if engine == "edge":  # restore and migrate index what they write: so does this store
            raw_optimize(client, COLLECTION)
    del data
    base = writing.anon_baseline
    return {
        "engine_growth_kb": _after_kb() - before,
        "engine_batch_kb": batch_kb,
        "engine_curve": [[a, b, max(kb - base - batch_kb, 0)] for a, b, kb in writing.intervals],
    }


def worker(a: dict[str, Any]) -> dict[str, Any]:
    _preload()
    op = a["op"]
    engine = a["engine"]
    out: dict[str, Any] = {"op": op}
    if op == "load":  # fill an on-disk store (local / edge), noting what the engine's RSS grew by
        t0 = time.perf_counter()
        out.update(_engine_growth_kb(engine, a["source"], a["n"], a["dims"]))
        out["seconds"] = time.perf_counter() - t0
    elif op == "engine_growth":
        out.update(_engine_growth_kb(engine, a["target"], a["n"], a["dims"]))
    elif op == "raw_scroll":  # one page size, one GC setting: the process's first pass, then a second
        client, _ = _open_source(a)
        gc_block = bulk_gc if a["gc"] == "bulk" else contextlib.nullcontext
        page = int(a["page"])
        advise = a.get("advise", False)

        def scroll_pass() -> int:
            if advise:  # the read-ahead advice a backup's scan gives Edge first, timed with it
                from qdrant_ops.endpoints.edge.endpoint import advise_scan

                advise_scan(client._dir(COLLECTION))
            return raw_scroll(engine, client, COLLECTION, page)

        with gc_block():
            t, n, _ = _timed(scroll_pass)
        out.update(rate=n / t)
        if not advise:  # the advised run is read for its first pass only
            with gc_block():
                t_warm, n_warm, _ = _timed(lambda: raw_scroll(engine, client, COLLECTION, page))
            out.update(warm_rate=n_warm / t_warm)
    elif op == "read_call":  # the engine's own memory for one read call, whatever reads it
        client, _ = _open_source(a)
        with PeakRss() as rss:
            raw_scroll(engine, client, COLLECTION, 1, pages=1)
        out["peak_kb"] = rss.anon_peak - rss.anon_baseline
    elif op == "raw_upsert":  # one batch size, one GC setting, the process's first upsert
        data = gen_dataset(a["n"], a["dims"])
        client = raw_client(engine, a["target"])
        gc_block = bulk_gc if a["gc"] == "bulk" else contextlib.nullcontext
        batch = int(a["batch"])
        create_collection(engine, client, "up", a["dims"])
        with gc_block():
            t, _, _ = _timed(lambda: raw_upsert(engine, client, "up", data, batch))
            if engine == "edge":  # Edge builds its index only when asked: the same end state
                t_opt, _, _ = _timed(lambda: raw_optimize(client, "up"))
                out["indexed_rate"] = a["n"] / (t + t_opt)
        out["rate"] = a["n"] / t
    elif op == "raw_parquet":
        out.update(_raw_parquet(a))
    elif op == "backup":
        from qdrant_ops.data.backup import backup
        from qdrant_ops.data.config import BackupConfig
        from qdrant_ops.endpoints.uri import endpoint_from_uri

        _open_source(a)
        cfg = BackupConfig(
            source=endpoint_from_uri(engine_uri(engine, a["source"])),
            backup_path=a["backup_root"],
            collections=[COLLECTION],
            verify_integrity=False,
        )
        t, rep, rss = _timed(lambda: backup(cfg))
        # What the backup leaves alive in the process once it has returned (collected, the C
        # heap's free memory handed back): shown beside its peak, not a target.
        left_mb = (_after_kb() - rss.anon_baseline) / 1024
        out.update(seconds=t, backup_dir=rep.backup_dir, ok=rep.status == "ok", rss_left_after_mb=left_mb, **_rss_fields(rss))
    elif op == "verify_backup":
        from qdrant_ops.data.verify import verify_backup

        t, rep, rss = _timed(lambda: verify_backup(a["backup_dir"]))
        out.update(seconds=t, ok=rep.status == "ok", **_rss_fields(rss))
    elif op == "verify_against":
        from qdrant_ops.data.verify import verify_against
        from qdrant_ops.endpoints.open import open_endpoint

        _open_source(a)
        live = open_endpoint(engine_uri(engine, a["source"]))
        t, rep, rss = _timed(lambda: verify_against(a["backup_dir"], live))
        out.update(seconds=t, ok=rep.status == "ok", **_rss_fields(rss))
    elif op == "restore":
        from qdrant_ops.data.config import RestoreConfig
        from qdrant_ops.data.restore import restore
        from qdrant_ops.endpoints.open import open_endpoint
        from qdrant_ops.endpoints.uri import endpoint_from_uri

        open_endpoint(engine_uri(engine, a["target"])).info()
        cfg = RestoreConfig(target=endpoint_from_uri(engine_uri(engine, a["target"])), backup=a["backup_dir"])
        t, rep, rss = _timed(lambda: restore(cfg), mark_writes=True)
        out.update(seconds=t, ok=rep.status == "ok", **_rss_fields(rss, a.get("engine_growth")))
    elif op == "migrate":
        out.update(_migrate_ours(a))
    elif op == "migrate_peer":
        out.update(_migrate_peer(a))
    else:
        raise SystemExit(f"unknown op {op}")
    return out


def _raw_parquet(a: dict[str, Any]) -> dict[str, Any]:
    """pyarrow alone: write the dataset to Parquet, and read our backup's files back + hash them."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import xxhash

    ids, vectors, payloads = gen_dataset(a["n"], a["dims"])
    texts = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in payloads]
    dims = a["dims"]
    path = Path(a["scratch"]) / "raw.parquet"

    def write() -> None:
        table = pa.table(
            {
                "id_int": pa.array(ids, pa.uint64()),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dims),
                "payload": pa.array(texts, pa.string()),
            }
        )
        pq.write_table(table, path, compression="zstd", compression_level=3, row_group_size=1000)

    files = sorted(Path(a["backup_dir"]).rglob("*.parquet"))

    def read_hash() -> int:
        total = 0
        rows = 0
        for f in files:
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            table = pq.read_table(f)
            vec = table.column("vector").combine_chunks()
            mat = vec.values.to_numpy().reshape(len(vec), dims)
            idb = table.column("id_int").to_numpy()
            for i, text in enumerate(table.column("payload").to_pylist()):
                total += xxhash.xxh3_128_intdigest(idb[i].tobytes() + text.encode() + mat[i].tobytes())
            rows += table.num_rows
        return rows

    tw, _, _ = _timed(write)
    tr, rows, _ = _timed(read_hash)
    return {"write_rate": a["n"] / tw, "read_hash_rate": rows / tr}


def _migrate_ours(a: dict[str, Any]) -> dict[str, Any]:
    """``qdrant-ops migrate`` with no transform, no pre-backup and no validation: the copy alone."""
    try:
        from qdrant_ops.endpoints.uri import endpoint_from_uri
        from qdrant_ops.migrate.config import MigrateConfig
        from qdrant_ops.migrate.run import migrate
    except ImportError:
        return {"available": False}
    _open_source(a)
    engine = a["engine"]
    fields: dict[str, Any] = {
        "source_qdrant": endpoint_from_uri(engine_uri(engine, a["source"])),
        "target_qdrant": endpoint_from_uri(engine_uri(engine, a["target"])),
        "collections": [COLLECTION],
        "parallel": a["parallel"],
        "backup": False,
        "validate_after": False,
        "backup_path": a["target"] + "-state",
    }
    if engine == "memory":  # one shared store: the copy needs its own name
        fields["format_version"] = "copy"
    cfg = MigrateConfig(**fields)
    t, rep, rss = _timed(lambda: migrate(cfg))
    return {
        "available": True,
        "seconds": t,
        "ok": rep.status == "ok",
        "status": rep.status,
        "slices": rep.slices,  # qdrant-ops scans local mode in one stream whatever --parallel says
        **_rss_fields(rss, a.get("engine_growth")),
    }


def _migrate_peer(a: dict[str, Any]) -> dict[str, Any]:
    if a["engine"] == "edge":
        return {"available": False}  # qdrant_client.migrate() speaks to QdrantClient stores only
    from qdrant_client import QdrantClient

    src, _ = _open_source(a)
    dst = QdrantClient(location=":memory:") if a["engine"] == "memory" else QdrantClient(path=a["target"])
    kwargs = {} if a["batch_size"] is None else {"batch_size": a["batch_size"]}
    t, _, rss = _timed(lambda: src.migrate(dst, collection_names=[COLLECTION], **kwargs))
    n = dst.count(COLLECTION, exact=True).count
    return {"seconds": t, "ok": n == a["n"], **_rss_fields(rss, a.get("engine_growth"))}


# -- driver ------------------------------------------------------------------------------------


def run_worker(args: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    # What the previous operation wrote is flushed first, so no run pays for another's writeback
    # (local mode commits every point to SQLite; a backup fsyncs its files).
    os.sync()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args['op']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ceilings(args: dict[str, Any], work: Path, modes: tuple[str, ...] = ("plain", "bulk")) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw scroll and raw upsert rates at every page and batch size tried, under each GC
    setting (``plain``: CPython's default; ``bulk``: qdrant-ops' ``bulk_gc``), each measured in a
    fresh process as its first pass, as qdrant-ops' operations are. Keyed like ``rates``,
    ``rates_bulk_gc``, ``rates_warm`` (scroll: the same process's second pass) and, on Edge,
    ``rates_indexed*`` (the upsert followed by ``optimize()``)."""
    suffix = {"plain": "", "bulk": "_bulk_gc"}
    scroll: dict[str, Any] = {}
    upsert: dict[str, Any] = {}
    for page in sorted({*SCROLL_PAGES, ours_sizes(args["dims"], args["engine"])[0]}):
        for mode in modes:
            r = run_worker({**args, "op": "raw_scroll", "page": page, "gc": mode})
            scroll.setdefault("rates" + suffix[mode], {})[str(page)] = r["rate"]
            if mode == "plain":
                scroll.setdefault("rates_warm", {})[str(page)] = r["warm_rate"]
    for batch in sorted({*UPSERT_BATCHES, *ours_sizes(args["dims"], args["engine"])}):
        for mode in modes:
            target = work / f"raw-upsert-{args['n']}-{batch}-{mode}"
            r = run_worker({**args, "op": "raw_upsert", "batch": batch, "gc": mode, "target": str(target)})
            shutil.rmtree(target, ignore_errors=True)
            upsert.setdefault("rates" + suffix[mode], {})[str(batch)] = r["rate"]
            if "indexed_rate" in r:
                upsert.setdefault("rates_indexed" + suffix[mode], {})[str(batch)] = r["indexed_rate"]
    return scroll, upsert


def repeated(args_for: Callable[[int], dict[str, Any]], k: int) -> dict[str, Any]:
    """One operation run ``k`` times, each in a fresh worker (``args_for(i)``: the i-th run's
    arguments, with its own target). Its time is the fastest run's, as a ceiling's is its best
    page or batch size; its memory figures are the first run's (no run is picked for them), and
    it is ``ok`` only if every run was. Every run's seconds are kept in ``seconds_runs``."""
    runs = [run_worker(args_for(i)) for i in range(k)]
    first = runs[0]
    if not first.get("available", True):
        return first
    return {
        **first,
        "seconds": min(r["seconds"] for r in runs),
        "seconds_runs": [r["seconds"] for r in runs],
        "ok": all(r.get("ok", True) for r in runs),
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        pass
    import pyarrow
    import qdrant_client

    try:
        from importlib.metadata import version

        qc = version("qdrant-client")
    except Exception:  # noqa: BLE001
        qc = getattr(qdrant_client, "__version__", "?")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "qdrant_client": qc,
        "pyarrow": pyarrow.__version__,
    }


def bench(opts: argparse.Namespace) -> dict[str, Any]:
    engine = opts.engine
    n = opts.points or DEFAULT_POINTS[engine]
    n10 = n * opts.scale
    dims = opts.dims
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="qdrant-ops-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if not opts.quiet else (lambda msg: None)
    base = {"engine": engine, "dims": dims}

    def spec(size: int, **extra: Any) -> dict[str, Any]:
        return {**base, "n": size, "source": str(work / f"src-{size}"), **extra}

    started = time.perf_counter()
    res: dict[str, Any] = {
        "engine": engine,
        "points": n,
        "points_10x": n10,
        "dims": dims,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "note": "shared 2-core machine: absolute numbers are noisy; ratios measured within this run carry the result",
    }
    growth: dict[int, dict[str, Any]] = {}
    for size in (n, n10):
        if engine != "memory":
            log(f"loading {size} points into {engine} store ...")
            g = run_worker({**spec(size), "op": "load"})
        else:
            log(f"engine memory growth at {size} points ...")
            g = run_worker({**spec(size), "op": "engine_growth", "target": str(work / f"g-{size}")})
        growth[size] = {k: g[k] for k in ("engine_growth_kb", "engine_batch_kb", "engine_curve")}
    res["engine_growth_mb"] = {str(k): v["engine_growth_kb"] / 1024 for k, v in growth.items()}
    res["engine_peak_growth_mb"] = {
        str(k): max(kb for _, _, kb in v["engine_curve"]) / 1024 for k, v in growth.items()
    }
    res["engine_batch_mb"] = {str(k): v["engine_batch_kb"] / 1024 for k, v in growth.items()}

    # What the engine itself allocates for one read call, whoever makes it (qdrant-client's local
    # mode sorts every id of the collection on each scroll call): shown beside backup's peaks.
    log("the engine's own memory for a one-point scroll ...")
    res["engine_read_call_peak_mb"] = {
        str(size): run_worker({**spec(size), "op": "read_call"})["peak_kb"] / 1024 for size in (n, n10)
    }

    log("ceilings: raw scroll and raw upsert, each size in a fresh process ...")
    scroll_run, upsert_run = ceilings(spec(n), work)
    scroll = scroll_run["rates"]
    upsert = upsert_run["rates"]
    # A backup is one pass over the data in a fresh process: so is each raw scroll counted. The
    # same process's second pass (warm: Qdrant Edge's first pass costs about twice its second)
    # is kept and shown, not a target.
    res["raw_scroll_warm_rates"] = scroll_run["rates_warm"]
    res["raw_scroll_warm_pps"] = max(scroll_run["rates_warm"].values())
    if "rates_indexed" in upsert_run:
        # Edge: restore and migrate end with optimize() (the HNSW index a searchable collection
        # needs), so their ceiling is the raw upsert followed by the same raw optimize().
        res["raw_upsert_no_index_rates"] = upsert
        res["raw_upsert_no_index_pps"] = max(upsert.values())
        upsert = upsert_run["rates_indexed"]
        upsert_run["rates_bulk_gc"] = upsert_run["rates_indexed_bulk_gc"]
    # The same raw calls inside qdrant-ops' own garbage-collector setting (pipeline/gcpolicy.py),
    # which the verbs use: against these, a ratio measures only what qdrant-ops adds per point.
    res["raw_scroll_bulk_gc_rates"] = scroll_run["rates_bulk_gc"]
    res["raw_upsert_bulk_gc_rates"] = upsert_run["rates_bulk_gc"]
    res["raw_scroll_bulk_gc_pps"] = max(scroll_run["rates_bulk_gc"].values())
    res["raw_upsert_bulk_gc_pps"] = max(upsert_run["rates_bulk_gc"].values())
    best_page = max(scroll, key=lambda k: scroll[k])
    best_batch = max(upsert, key=lambda k: upsert[k])
    res["raw_scroll_rates"] = scroll
    res["raw_upsert_rates"] = upsert
    res["raw_scroll_best_page"] = int(best_page)
    res["raw_scroll_pps"] = scroll[best_page]
    res["raw_upsert_best_batch"] = int(best_batch)
    res["raw_upsert_pps"] = upsert[best_batch]
    if engine == "edge":
        # A backup's Edge scan first asks the kernel to read the shard's files ahead
        # (endpoints/edge.py: advise_scan), which a plain scroll does not: the same raw scroll
        # after the same advice, at the best page and at ours, is the engine's ceiling with it.
        advised = {
            str(page): run_worker({**spec(n), "op": "raw_scroll", "page": page, "gc": "plain", "advise": True})["rate"]
            for page in sorted({int(best_page), ours_sizes(opts.dims, engine)[0]})
        }
        res["raw_scroll_advised_rates"] = advised
        res["raw_scroll_advised_pps"] = max(advised.values())

    ops: dict[str, dict[str, Any]] = {}
    k = max(1, opts.repeat)
    res["repeat"] = k
    for size, tag in ((n, "1x"), (n10, "10x")):
        reps = k if tag == "1x" else 1  # the 10x runs are the memory check: one each
        log(f"backup {size} ...")
        b = repeated(lambda i, sz=size: {**spec(sz), "op": "backup", "backup_root": str(work / f"backup-{sz}-{i}")}, reps)
        ops[f"backup_{tag}"] = {**b, "points": size, "pps": size / b["seconds"]}
        log(f"restore {size} ...")
        r = repeated(
            lambda i, sz=size, bd=b["backup_dir"]: {
                **spec(sz), "op": "restore", "backup_dir": bd, "target": str(work / f"restore-{sz}-{i}"),
                "engine_growth": growth[sz],
            },
            reps,
        )
        ops[f"restore_{tag}"] = {**r, "points": size, "pps": size / r["seconds"]}
    bdir = ops["backup_1x"]["backup_dir"]
    log("ceiling: raw Parquet write, read + hash ...")
    # As many runs as ours get (``--repeat``), each in a fresh process, the best one counting: a
    # single run of the ceiling against the fastest of ours would favour ours.
    pq_runs = [run_worker({**spec(n), "op": "raw_parquet", "backup_dir": bdir, "scratch": str(work)}) for _ in range(k)]
    res["raw_parquet_write_rates"] = [r["write_rate"] for r in pq_runs]
    res["raw_parquet_read_hash_rates"] = [r["read_hash_rate"] for r in pq_runs]
    res["raw_parquet_write_pps"] = max(res["raw_parquet_write_rates"])
    res["raw_parquet_read_hash_pps"] = max(res["raw_parquet_read_hash_rates"])
    log("verify BACKUP ...")
    v = repeated(lambda i: {**spec(n), "op": "verify_backup", "backup_dir": bdir}, k)
    ops["verify_backup"] = {**v, "points": n, "pps": n / v["seconds"]}
    log("verify BACKUP --against ...")
    v = repeated(lambda i: {**spec(n), "op": "verify_against", "backup_dir": bdir}, k)
    ops["verify_against"] = {**v, "points": n, "pps": n / v["seconds"]}

    mn = opts.migrate_points or n
    migrate_ceiling = (res["raw_scroll_pps"], res["raw_upsert_pps"])
    migrate_bulk_gc_ceiling: tuple[float, float] | None = (res["raw_scroll_bulk_gc_pps"], res["raw_upsert_bulk_gc_pps"])
    if mn != n:
        if engine != "memory":
            log(f"loading {mn} points for migrate ...")
            run_worker({**spec(mn), "op": "load"})
        # A scroll's cost depends on the collection's size (local mode sorts every id on each
        # call): the migrate ceiling is measured again at the migrate's own size.
        log(f"ceilings at {mn} points, for migrate ...")
        s_mn, u_mn = ceilings(spec(mn), work, modes=("plain",))
        up_mn = u_mn.get("rates_indexed") or u_mn["rates"]
        migrate_ceiling = (max(s_mn["rates"].values()), max(up_mn.values()))
        migrate_bulk_gc_ceiling = None
        res["migrate_ceiling_raw_scroll_rates"] = s_mn["rates"]
        res["migrate_ceiling_raw_upsert_rates"] = up_mn
    for par in (1, 2):
        log(f"migrate --parallel {par} ({mn} points) ...")
        m = repeated(
            lambda i, p=par: {
                **spec(mn), "op": "migrate", "parallel": p, "target": str(work / f"migrate-{p}-{i}"),
                "engine_growth": growth.get(mn),
            },
            k,
        )
        if m.get("available"):
            ops[f"migrate_p{par}"] = {**m, "points": mn, "pps": mn / m["seconds"]}
    for bs, tag in ((None, "default"), (1000, "b1000")):
        log(f"qdrant_client.migrate() batch_size={bs or 'default'} ({mn} points) ...")
        m = repeated(
            lambda i, b=bs, t=tag: {
                **spec(mn), "op": "migrate_peer", "batch_size": b, "target": str(work / f"peer-{t}-{i}"),
                "engine_growth": growth.get(mn),
            },
            k,
        )
        if m.get("available", True):
            ops[f"peer_migrate_{tag}"] = {**m, "points": mn, "pps": mn / m["seconds"]}
    res["migrate_points"] = mn
    res["operations"] = ops

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if not a or not b else a / b

    for key in ("backup_1x", "backup_10x", "restore_1x", "restore_10x", "verify_backup"):
        if not ops[key].get("ok"):
            ops[key]["pps"] = None  # a failed run has no speed

    ceiling_migrate = 1 / (1 / migrate_ceiling[0] + 1 / migrate_ceiling[1])
    res["scroll_upsert_ceiling_pps"] = ceiling_migrate
    res["scroll_upsert_ceiling_points"] = mn
    best_ours = max(
        (ops[k]["pps"] for k in ("migrate_p1", "migrate_p2") if k in ops and ops[k].get("ok")), default=None
    )
    res["migrate_best_pps"] = best_ours
    res["backup_vs_raw_scroll_ratio"] = ratio(ops["backup_1x"]["pps"], res["raw_scroll_pps"])
    res["restore_vs_raw_upsert_ratio"] = ratio(ops["restore_1x"]["pps"], res["raw_upsert_pps"])
    res["verify_vs_raw_read_ratio"] = ratio(ops["verify_backup"]["pps"], res["raw_parquet_read_hash_pps"])
    res["migrate_vs_ceiling_ratio"] = ratio(best_ours, ceiling_migrate)
    peer = {k: ops[k]["pps"] if k in ops and ops[k].get("ok") else None for k in ("peer_migrate_default", "peer_migrate_b1000")}
    res["scroll_upsert_bulk_gc_ceiling_pps"] = (
        1 / (1 / migrate_bulk_gc_ceiling[0] + 1 / migrate_bulk_gc_ceiling[1]) if migrate_bulk_gc_ceiling else None
    )
    res["backup_vs_raw_scroll_warm_ratio"] = ratio(ops["backup_1x"]["pps"], res["raw_scroll_warm_pps"])
    if "raw_scroll_advised_pps" in res:
        res["backup_vs_raw_scroll_advised_ratio"] = ratio(ops["backup_1x"]["pps"], res["raw_scroll_advised_pps"])
    res["backup_vs_raw_scroll_bulk_gc_ratio"] = ratio(ops["backup_1x"]["pps"], res["raw_scroll_bulk_gc_pps"])
    res["restore_vs_raw_upsert_bulk_gc_ratio"] = ratio(ops["restore_1x"]["pps"], res["raw_upsert_bulk_gc_pps"])
    res["migrate_vs_bulk_gc_ceiling_ratio"] = ratio(best_ours, res["scroll_upsert_bulk_gc_ceiling_pps"])
    res["migrate_vs_qdrant_client_ratio"] = ratio(best_ours, peer["peer_migrate_default"])
    res["migrate_vs_qdrant_client_b1000_ratio"] = ratio(best_ours, peer["peer_migrate_b1000"])
    res["backup_rss_10x_vs_1x_ratio"] = ratio(
        ops["backup_10x"]["rss_peak_above_engine_mb"], ops["backup_1x"]["rss_peak_above_engine_mb"]
    )
    res["restore_rss_10x_vs_1x_ratio"] = ratio(
        ops["restore_10x"]["rss_peak_above_engine_mb"], ops["restore_1x"]["rss_peak_above_engine_mb"]
    )
    # The same peaks above only what the engine holds once written (its copies while it grew
    # counted as the writer's; shown, not a target).
    res["restore_rss_10x_vs_1x_engine_final_ratio"] = ratio(
        ops["restore_10x"].get("rss_peak_above_engine_final_mb"), ops["restore_1x"].get("rss_peak_above_engine_final_mb")
    )
    res["checks"] = checks(res)
    res["total_seconds"] = time.perf_counter() - started
    if not opts.workdir and not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


TARGETS: list[tuple[str, str, float, str]] = [
    ("backup_vs_raw_scroll_ratio", ">=", 0.9, "backup >= 0.9x raw scroll"),
    ("restore_vs_raw_upsert_ratio", ">=", 0.9, "restore >= 0.9x raw upsert"),
    ("verify_vs_raw_read_ratio", ">=", 0.8, "verify BACKUP >= 0.8x raw read+hash"),
    ("migrate_vs_ceiling_ratio", ">=", 0.9, "migrate >= 0.9x scroll+upsert ceiling"),
    ("migrate_vs_qdrant_client_ratio", ">=", 1.5, "migrate >= 1.5x qdrant_client.migrate() (defaults; target at >= 100k points)"),
    ("backup_rss_10x_vs_1x_ratio", "<=", 1.2, "backup peak RSS above engine, 10xN <= 1.2x N"),
    ("restore_rss_10x_vs_1x_ratio", "<=", 1.2, "restore peak RSS above engine, 10xN <= 1.2x N"),
]


def checks(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, op, limit, what in TARGETS:
        value = res.get(key)
        if value is None:
            verdict = "N/A"
        else:
            ok = value >= limit if op == ">=" else value <= limit
            verdict = "PASS" if ok else "FAIL"
        if key == "migrate_vs_qdrant_client_ratio" and res["migrate_points"] < 100_000 and verdict == "FAIL":
            verdict = "FAIL (below 100k points)"
        out.append({"target": what, "field": key, "value": value, "limit": f"{op} {limit}", "verdict": verdict})
    return out


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}"


def _fmt_ratio(check: dict[str, Any]) -> str:
    """A check's ratio to two decimals, or three where two would round it onto its limit (0.899
    against ``>= 0.9`` fails, which "0.90" would not show)."""
    text = _fmt(check["value"])
    limit = next(lim for key, _, lim, _ in TARGETS if key == check["field"])
    if check["value"] is not None and text == _fmt(limit):
        return _fmt(check["value"], 3)
    return text


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    ops = res["operations"]
    lines = [
        f"## qdrant-ops benchmark — engine `{res['engine']}`, {res['points']:,} points (10x: {res['points_10x']:,}), "
        f"{res['dims']} dims",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB; Python {m['python']}, "
        f"qdrant-client {m['qdrant_client']}, pyarrow {m['pyarrow']}. Date: {res['date']}.",
        f"Note: {res['note']}.",
        f"Ceilings: the best page or batch size, each size the first pass in a fresh process; raw Parquet: the best of {res.get('repeat', 1)} runs. qdrant-ops' operations at {res['points']:,} points: the fastest of "
        f"{res.get('repeat', 1)} runs, each in a fresh process (memory figures: the first run); the 10x runs: one each.",
        "",
        "| operation | points | points/s | peak anonymous RSS above engine (MiB) | peak total RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines.append(f"| raw scroll (best page {res['raw_scroll_best_page']}) | {res['points']:,} | {_fmt(res['raw_scroll_pps'], 0)} | | |")
    if "raw_upsert_no_index_pps" in res:
        lines.append(f"| raw upsert, no index | {res['points']:,} | {_fmt(res['raw_upsert_no_index_pps'], 0)} | | |")
        lines.append(f"| raw upsert + optimize() (best batch {res['raw_upsert_best_batch']}) | {res['points']:,} | {_fmt(res['raw_upsert_pps'], 0)} | | |")
    else:
        lines.append(f"| raw upsert (best batch {res['raw_upsert_best_batch']}) | {res['points']:,} | {_fmt(res['raw_upsert_pps'], 0)} | | |")
    lines.append(f"| raw scroll, second pass in the same process | {res['points']:,} | {_fmt(res['raw_scroll_warm_pps'], 0)} | | |")
    lines.append(
        f"| raw scroll+upsert ceiling | {res['scroll_upsert_ceiling_points']:,} | {_fmt(res['scroll_upsert_ceiling_pps'], 0)} | | |"
    )
    lines.append(f"| raw scroll, qdrant-ops' GC setting | {res['points']:,} | {_fmt(res['raw_scroll_bulk_gc_pps'], 0)} | | |")
    lines.append(f"| raw upsert, qdrant-ops' GC setting | {res['points']:,} | {_fmt(res['raw_upsert_bulk_gc_pps'], 0)} | | |")
    lines.append(f"| raw Parquet write (pyarrow) | {res['points']:,} | {_fmt(res['raw_parquet_write_pps'], 0)} | | |")
    lines.append(f"| raw Parquet read + sha256 + xxh3 | {res['points']:,} | {_fmt(res['raw_parquet_read_hash_pps'], 0)} | | |")
    labels = {
        "backup_1x": "backup",
        "backup_10x": "backup (10x)",
        "restore_1x": "restore",
        "restore_10x": "restore (10x)",
        "verify_backup": "verify BACKUP",
        "verify_against": "verify BACKUP --against",
        "migrate_p1": "migrate --parallel 1",
        "migrate_p2": "migrate --parallel 2",
        "peer_migrate_default": "qdrant_client.migrate() defaults",
        "peer_migrate_b1000": "qdrant_client.migrate(batch_size=1000)",
    }
    for key, label in labels.items():
        o = ops.get(key)
        if o is None:
            lines.append(f"| {label} | | not available | | |")
            continue
        flag = "" if o.get("ok", True) else " (FAILED)"
        if key == "migrate_p2" and o.get("slices") == 1:
            flag += " (one stream on this engine)"
        lines.append(
            f"| {label}{flag} | {o['points']:,} | {_fmt(o['pps'], 0)} | {_fmt(o.get('rss_peak_above_engine_mb'), 1)} "
            f"| {_fmt(o.get('rss_total_peak_mb'), 0)} |"
        )
    lines += ["", "| target | ratio | limit | verdict |", "|---|---:|---:|---|"]
    for c in res["checks"]:
        lines.append(f"| {c['target']} (`{c['field']}`) | {_fmt_ratio(c)} | {c['limit']} | {c['verdict']} |")
    lines += [
        "",
        "Against the same raw calls run with qdrant-ops' garbage-collector setting (what qdrant-ops "
        "adds per point, without the GC gain; shown, not a target):",
        "",
        "| ratio | value |",
        "|---|---:|",
    ]
    for key in ("backup_vs_raw_scroll_bulk_gc_ratio", "restore_vs_raw_upsert_bulk_gc_ratio", "migrate_vs_bulk_gc_ceiling_ratio"):
        lines.append(f"| `{key}` | {_fmt(res.get(key))} |")
    lines += [
        "",
        "Against the raw scroll's second pass in one process (the engine's caches warm; a backup is "
        "one pass in a fresh process; shown, not a target):",
        "",
        "| ratio | value |",
        "|---|---:|",
        f"| `backup_vs_raw_scroll_warm_ratio` | {_fmt(res.get('backup_vs_raw_scroll_warm_ratio'))} |",
        "",
    ]
    lines += [
        "Restore's memory against the engine's own (raw upsert of the same points in the same "
        "batch, one raw batch taken off): what the engine held at the end, the most it held while it "
        "grew (numpy arrays doubled, Edge's optimizer), restore's peak above the engine at the same "
        "points (the target's figure) and above only its end state (shown, not a target):",
        "",
        "| operation | points | engine at the end (MiB) | engine's peak (MiB) | restore above the engine at the same points (MiB) | above the engine's end state (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in ("restore_1x", "restore_10x"):
        o = ops[key]
        sz = str(o["points"])
        lines.append(
            f"| {labels[key]} | {o['points']:,} | {_fmt(res['engine_growth_mb'].get(sz), 1)} "
            f"| {_fmt(res['engine_peak_growth_mb'].get(sz), 1)} | {_fmt(o.get('rss_peak_above_engine_mb'), 1)} "
            f"| {_fmt(o.get('rss_peak_above_engine_final_mb'), 1)} |"
        )
    lines += [
        "",
        f"`restore_rss_10x_vs_1x_engine_final_ratio` (above the engine's end state): "
        f"{_fmt(res.get('restore_rss_10x_vs_1x_engine_final_ratio'))}",
        "",
    ]
    lines += [
        "Backup's memory beside the engine's own (shown, not a target): the most the engine itself "
        "allocated for one scroll call of one point, whoever makes it (qdrant-client's local mode "
        "sorts every id of the collection on each call), and what the backup left alive in the "
        "process once it had returned (collected, the C heap's free memory handed back):",
        "",
        "| operation | points | backup's peak above the engine (MiB) | the engine's peak for a one-point scroll (MiB) | left alive after the backup (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in ("backup_1x", "backup_10x"):
        o = ops[key]
        lines.append(
            f"| {labels[key]} | {o['points']:,} | {_fmt(o.get('rss_peak_above_engine_mb'), 1)} "
            f"| {_fmt(res.get('engine_read_call_peak_mb', {}).get(str(o['points'])), 1)} "
            f"| {_fmt(o.get('rss_left_after_mb'), 1)} |"
        )
    lines.append("")
    if "raw_scroll_advised_pps" in res:
        lines += [
            "Against the raw scroll after the read-ahead advice a backup gives Qdrant Edge first (the "
            "engine's first pass with the same help; shown, not a target):",
            "",
            "| ratio | value |",
            "|---|---:|",
            f"| raw scroll after read-ahead advice (points/s) | {_fmt(res['raw_scroll_advised_pps'], 0)} |",
            f"| `backup_vs_raw_scroll_advised_ratio` | {_fmt(res.get('backup_vs_raw_scroll_advised_ratio'))} |",
            "",
        ]
    lines.append(f"Total benchmark time: {res.get('total_seconds', 0):.0f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", choices=["memory", "local", "edge"], default="memory")
    p.add_argument("--points", type=int, default=0, help="N (default: 10000 memory, 2000 local, 20000 edge)")
    p.add_argument("--scale", type=int, default=10, help="the memory check's second size is N x SCALE")
    p.add_argument("--dims", type=int, default=128)
    p.add_argument("--migrate-points", type=int, default=0, help="points for the migrate runs (default N)")
    p.add_argument(
        "--repeat", type=int, default=3,
        help="runs of each of qdrant-ops' timed operations at N, each in a fresh process; the fastest counts (default 3)",
    )
    p.add_argument("--json", dest="json_path", help="write every figure to this JSON file")
    p.add_argument("--workdir", help="keep stores and backups here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.worker:
        print(json.dumps(worker(json.loads(opts.worker))))
        return 0
    res = bench(opts)
    print(render(res))
    if opts.json_path:
        Path(opts.json_path).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
