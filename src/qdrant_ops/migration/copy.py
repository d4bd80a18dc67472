"""Copying one collection: its slices scanned, transformed and written in batches."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.base import Endpoint, Point
from qdrant_ops.format.integrity import Digest
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.jobs import _Job, _update_metadata
from qdrant_ops.migration.plan import METADATA_KEY, config_diff, misfit, not_applied
from qdrant_ops.migration.report import CollectionMigration, MigrateReport
from qdrant_ops.migration.transforms import originals_for
from qdrant_ops.migration.validation import digest_points
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.pipeline.prefetch import scan_ahead
from qdrant_ops.pipeline.retry import RetryPolicy, RetryStats, retrying_scan
from qdrant_ops.pipeline.sizing import page_size, write_batch
from qdrant_ops.pipeline.writer import BatchWriter, WriteFailure, write_dead_letter
from qdrant_ops.progress import ProgressSink, ProgressTask

# -- copying ---------------------------------------------------------------------------------------


class _SliceFailed(Exception):
    """Internal: a slice stopped on points it could not write (recorded in its counters)."""


def _migrate_collection(
    cfg: MigrateConfig,
    src: Endpoint,
    dst: Endpoint,
    job: _Job,
    slices: int,
    state: Checkpoint,
    progress: ProgressSink,
    policy: RetryPolicy,
    stop: threading.Event,
    migrated_at: str,
    report: MigrateReport,
) -> CollectionMigration:
    row = CollectionMigration(
        name=job.name, target_name=job.tname, source_points=job.spec.points_count,
        config_diff=config_diff(job.spec, job.tspec), slices=slices,
    )
    started = time.monotonic()
    prepared = state.get_meta(f"prepared:{job.name}")
    if prepared is None:
        exists = dst.collection_exists(job.tname)
        if exists and cfg.on_exists == "replace":
            dst.delete_collection(job.tname)
            row.action = "replaced"
        elif exists:
            row.action = "appended"
        else:
            row.action = "created"
        if row.action != "appended":
            if cfg.stamp:
                job.tspec.config["metadata"][METADATA_KEY]["migrated_at"] = migrated_at
            dst.create_collection(job.tname, job.tspec)
        state.set_meta(f"prepared:{job.name}", row.action)
    else:
        row.action = str(prepared)
    if row.action != "appended":
        ignored = not_applied(job.tspec, dst.get_spec(job.tname))
        if ignored:
            row.settings_not_applied = ignored
            report.notes.append(
                f"{job.tname}: the target engine ({dst.info().kind}) reports these settings differently "
                f"from what was asked (local mode ignores HNSW, optimizer and quantization settings; a "
                f"server applies them): {', '.join(ignored[:8])}{' ...' if len(ignored) > 8 else ''}"
            )
    stats = RetryStats()
    writer = BatchWriter(dst, job.tname, policy=policy, retry_stats=stats, max_bytes=cfg.max_batch_bytes)
    dead_dir = state.path.parent / "dead-letter"
    dead_target = dead_dir / f"{job.tname}.parquet"
    dead_source = dead_dir / f"{job.tname}.untransformed.parquet"
    task = progress.task(f"migrate {job.name} -> {job.tname}", total=job.spec.points_count or None)
    dl_lock = threading.Lock()
    pending: dict[str, int] = {}

    def run(index: int) -> None:
        _copy_slice(cfg, src, job, (index, slices), state, writer, policy, stats, task, stop,
                    dl_lock, dead_target, dead_source, pending)

    try:
        if slices == 1:
            run(0)
        else:
            with ThreadPoolExecutor(max_workers=slices, thread_name_prefix=f"migrate-{job.name}") as pool:
                for fut in [pool.submit(run, i) for i in range(slices)]:
                    fut.result()
    finally:
        task.done()
    digest = Digest()
    for i in range(slices):
        extra = state.slice_state(job.name, i)["extra"]
        row.read += int(extra.get("read", 0))
        row.filtered += int(extra.get("filtered", 0))
        row.dropped += int(extra.get("dropped", 0))
        row.failed += int(extra.get("failed", 0))
        row.written += int(extra.get("written", 0))
        row.batches += int(extra.get("batches", 0))
        row.retries += int(extra.get("retries", 0))
        if extra.get("digest"):
            digest.add(Digest.from_json(extra["digest"]))
    row.failed += pending.get(job.name, 0)
    row.digest = f"{digest.full:032x}"
    row.digest_keys = f"{digest.keys:032x}"
    row.digest_count = digest.count
    row.splits = writer.stats.splits
    elapsed = time.monotonic() - started
    row.duration_s = round(elapsed, 3)
    row.points_per_s = round(row.written / elapsed, 1) if elapsed > 0 else 0.0
    if dead_target.exists():
        row.dead_letter = str(dead_target)
    if dead_source.exists():
        row.dead_letter_untransformed = str(dead_source)
    if not cfg.stamp:
        return row
    _update_metadata(dst, job.tname, {
        **job.tspec.config["metadata"][METADATA_KEY],
        "migrated_at": migrated_at,
        "status": "partial" if row.failed else "complete",
        "points_count": digest.count,
        "digest": digest.to_json(),
        "points_filtered": row.filtered,
        "points_dropped": row.dropped,
    }, report)
    return row


def _copy_slice(
    cfg: MigrateConfig,
    src: Endpoint,
    job: _Job,
    slice_: tuple[int, int],
    state: Checkpoint,
    writer: BatchWriter,
    policy: RetryPolicy,
    stats: RetryStats,
    task: ProgressTask,
    stop: threading.Event,
    dl_lock: threading.Lock,
    dead_target: Path,
    dead_source: Path,
    pending: dict[str, int],
) -> None:
    index, total = slice_
    st = state.slice_state(job.name, index)
    extra: dict[str, Any] = dict(st["extra"])
    task.advance(int(extra.get("read", 0)))
    if st["done"]:
        return
    counters = {k: int(extra.get(k, 0)) for k in ("read", "filtered", "dropped", "failed", "written", "batches", "retries")}
    digest = Digest.from_json(extra["digest"]) if extra.get("digest") else Digest()
    # retrying_scan restarts a failed scroll at the cursor (retrying next() on the dead generator
    # ended the slice early: the migration looked complete and validated with points missing).
    source_fields = job.spec.vector_fields()
    page_points = page_size(source_fields, cfg.batch_size)
    write_points = write_batch(writer.endpoint.info().kind, cfg.batch_size)
    # From a server, the next page is scrolled while this one is transformed, written and
    # digested (see ``scan_ahead``).
    pages = scan_ahead(
        retrying_scan(src, job.name, policy, stats, batch_size=page_points,
                      slice_=slice_ if total > 1 else None, offset=st["offset"]),
        src,
        name=f"scan-{job.name}-{index}",
    )
    while not stop.is_set():
        page = next(pages, None)
        if page is None:
            state.save_slice(job.name, index, offset=None, done=True, next_seq=st["next_seq"], rows=counters["written"],
                             extra={**counters, "digest": digest.to_json()})
            return
        originals = originals_for(job.transformer, page.points) if page.points else []
        result = job.transformer.apply(page.points)
        fits: list[Point] = []
        bad_source: list[Point] = [f.point for f in result.failures]
        errors = [f.error for f in result.failures]
        by_id = {o.id: o for o in originals}
        for p in result.points:
            why = misfit(p, job.tfields)
            if why is None:
                fits.append(p)
            else:
                bad_source.append(by_id.get(p.id, p))
                errors.append(why)
        retries_before = stats.retries
        batches_before = writer.stats.batches
        failures: list[WriteFailure] = []
        for start in range(0, len(fits), write_points):
            failures += writer.write(fits[start : start + write_points])
        failed_ids = {id(p) for f in failures for p in f.points}
        written = [p for p in fits if id(p) not in failed_ids]
        n_failed = len(bad_source) + sum(len(f.points) for f in failures)
        if n_failed:
            with dl_lock:
                if failures:
                    write_dead_letter(dead_target, failures, job.tfields)
                if bad_source:
                    bad_originals = [by_id.get(p.id, p) for p in bad_source]
                    write_dead_letter(
                        dead_source,
                        [WriteFailure([p], e) for p, e in zip(bad_originals, errors, strict=True)],
                        source_fields,
                    )
            if not cfg.continue_on_error:
                stop.set()
                with dl_lock:
                    pending[job.name] = pending.get(job.name, 0) + n_failed
                return  # the page's offset is not saved: a rerun writes it again
        digest.add(digest_points(written, job.tfields))
        counters["read"] += len(page.points)
        counters["filtered"] += result.filtered
        counters["dropped"] += result.dropped
        counters["failed"] += n_failed
        counters["written"] += len(written)
        counters["batches"] += writer.stats.batches - batches_before
        counters["retries"] += stats.retries - retries_before
        done = page.next_offset is None
        state.save_slice(job.name, index, offset=page.next_offset, done=done, next_seq=st["next_seq"],
                         rows=counters["written"], extra={**counters, "digest": digest.to_json()})
        st["offset"] = page.next_offset
        task.advance(len(page.points))
        if done:
            return
