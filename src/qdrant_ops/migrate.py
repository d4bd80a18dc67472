"""``qdrant-ops migrate``: copy collections into a new layout, resumable, parallel and validated.

Per collection: the same sliced scan as backup (``--parallel N`` slices where the source supports
the slice condition), then the transforms, then byte-capped batched writes (halved when refused as
too large, transient errors retried). After each page is written its slice's offset, counters and
the running digest of what was written are checkpointed in one SQLite transaction, so a rerun with
the same plan resumes every slice where it stopped: no point is skipped, and a page written twice is
an idempotent upsert. A different plan (source, target, transforms, settings, slice count) is
refused unless ``--restart``.

Before the first write: every setting is checked against qdrant-client's models, a sample of each
collection is run through the transforms and checked against the target's vectors, an existing
target is handled by ``on_exists`` (fail/replace/append), and a logical backup of every source
collection goes into ``backup_path``. ``--dry-run`` does all the reading and writes nothing.
"""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from qdrant_ops import __version__
from qdrant_ops.codec import encode_points
from qdrant_ops.config import BackupConfig, EndpointConfig, MigrateConfig
from qdrant_ops.endpoints import open_endpoint
from qdrant_ops.endpoints.base import CollectionSpec, Endpoint, EndpointInfo, Point, VectorField
from qdrant_ops.errors import NotFoundError, TargetExistsError, UnsupportedError, UsageError
from qdrant_ops.integrity import Digest
from qdrant_ops.migrate_plan import (
    METADATA_KEY,
    build_target_spec,
    check_layout_compatible,
    config_diff,
    misfit,
    not_applied,
    settings_for,
    target_name,
)
from qdrant_ops.migrate_report import CollectionMigration, MigrateReport, SamplePoint, ValidateReport
from qdrant_ops.pipeline.gcpolicy import bulk
from qdrant_ops.pipeline.scope import select_collections, slice_count
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.pipeline.prefetch import scan_ahead
from qdrant_ops.pipeline.retry import RetryPolicy, RetryStats, retrying_scan
from qdrant_ops.pipeline.sizing import page_size, write_batch
from qdrant_ops.pipeline.writer import BatchWriter, WriteFailure, estimate_bytes, write_dead_letter
from qdrant_ops.progress import NullProgress, ProgressSink, ProgressTask
from qdrant_ops.transforms import Transformer, clone_points, originals_for
from qdrant_ops.validation import check_content, check_parity, digest_points, expected_points

log = logging.getLogger(__name__)

STATE_FILE = ".qdrant-ops-migrate.sqlite"
SAMPLE_SIZE = 200


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class _Job:
    """One collection's migration, as planned before anything is written."""

    name: str
    tname: str
    spec: CollectionSpec
    tspec: CollectionSpec
    tfields: list[VectorField]
    transformer: Transformer
    vector_names: dict[str, str]
    sample_before: list[Point] = field(default_factory=list)
    sample_after: list[Point] = field(default_factory=list)
    sample_read_s: float = 0.0
    sample_filtered: int = 0


@bulk
def migrate(
    cfg: MigrateConfig,
    *,
    source: Endpoint | None = None,
    target: Endpoint | None = None,
    progress: ProgressSink | None = None,
    policy: RetryPolicy | None = None,
    rerun_command: str | None = None,
) -> MigrateReport:
    """Migrate the configured collections; returns the report (status dry-run/ok/failed/partial)."""
    progress = progress or NullProgress()
    policy = policy or RetryPolicy(max_retries=cfg.max_retries)
    report = MigrateReport(dry_run=cfg.dry_run, format_version=cfg.format_version)
    if cfg.drop_source and not cfg.validate_after:
        raise UsageError("--drop-source needs validation: it is honoured only after a validation has passed")
    if cfg.switch_alias and not cfg.validate_after:
        raise UsageError("--switch-alias needs validation: the alias moves only once validation has passed")
    src = source or open_endpoint(cfg.source_endpoint())
    sinfo = src.info()  # unreachable endpoints fail here (exit 3)
    tcfg = cfg.target_endpoint() if target is None else None
    if cfg.dry_run and tcfg is not None and _absent_store(tcfg):
        # Opening a local-mode store creates its directory: a dry run must not.
        dst: Endpoint = _AbsentStore(tcfg.display())
    else:
        dst = target or open_endpoint(cfg.target_endpoint())
    tinfo = dst.info()
    report.source, report.target = sinfo.display, tinfo.display
    same_store = src is dst
    names = select_collections(src, cfg.collections)
    if not names:
        raise NotFoundError(f"no collections to migrate at {sinfo.display}")
    if cfg.switch_alias and len(names) != 1:
        raise UsageError("--switch-alias names one alias: migrate exactly one collection with it")
    slices = slice_count(src, cfg.parallel, report.notes)
    report.slices = slices
    state_path = Path(cfg.state_path) if cfg.state_path else Path(cfg.backup_path) / STATE_FILE
    report.state_file = str(state_path)
    report.rerun_command = rerun_command or "rerun the same qdrant-ops migrate command"

    jobs = [_plan_job(cfg, src, dst, n, same_store, report) for n in names]
    tnames = [j.tname for j in jobs]
    if len(set(tnames)) != len(tnames):
        raise UsageError("two collections would be migrated into the same target name")
    for j in jobs:
        if same_store and j.tname == j.name:
            raise UsageError(f"{j.name}: source and target are the same collection; set format_version or target.name")

    if cfg.dry_run:
        _dry_run(cfg, src, dst, jobs, report)
        # A plan the real run would refuse (target exists, no disk) fails the dry run too.
        report.finish("failed" if report.failed_checks else "dry-run")
        return report

    plan = _plan_dict(cfg, report, jobs, slices)
    lock_path = state_path.with_name(state_path.name + ".lock")
    with FileLock(lock_path, f"migration state {state_path}"):
        state = Checkpoint(state_path)
        try:
            report.resumed = state.bind_plan(plan, restart=cfg.restart, what="migration")
            if not report.resumed:
                try:
                    _check_targets(dst, jobs, cfg.on_exists)
                except TargetExistsError:
                    state.close()
                    _remove_state(state_path)
                    raise
            migrated_at = state.get_meta("migrated_at")
            if migrated_at is None:
                migrated_at = _now()
                state.set_meta("migrated_at", migrated_at)
            report.migrated_at = str(migrated_at)
            _backup(cfg, src, names, state, report)
            stop = threading.Event()
            for j in jobs:
                if cfg.stamp_payload:
                    j.transformer.stamp = {"format_version": cfg.format_version, "migrated_at": migrated_at}
                row = _migrate_collection(cfg, src, dst, j, slices, state, progress, policy, stop, str(migrated_at), report)
                report.collections.append(row)
                post_write = getattr(dst, "after_bulk_write", None)  # Qdrant Edge: optimize()
                if callable(post_write) and row.written and not row.failed:
                    report.notes.append(str(post_write(j.tname)))
                if row.failed and not cfg.continue_on_error:
                    break
        finally:
            state.close()
        failed = sum(c.failed for c in report.collections)
        if failed:
            report.notes.append(
                f"{failed} point(s) could not be migrated; they are in the dead-letter file(s) "
                f"named above. Fix the cause and {report.rerun_command} to resume (state: {state_path})"
            )
            report.finish("partial")
            return report
        if cfg.validate_after:
            for j, row in zip(jobs, report.collections, strict=True):
                _validate_job(cfg, src, dst, j, row, report)
        _record_validation(dst, jobs, report)
        if cfg.switch_alias and not report.failed_checks:
            from qdrant_ops.cutover import switch_alias

            cut = switch_alias(dst, cfg.switch_alias, jobs[0].tname)
            report.alias = cut.alias
            report.alias_previous = cut.previous
            report.notes.extend(cut.notes)
        elif cfg.switch_alias:
            report.notes.append(f"alias {cfg.switch_alias} not moved: validation failed")
        if cfg.drop_source and not report.failed_checks:
            for j in jobs:
                src.delete_collection(j.name)
                report.notes.append(f"source collection {j.name} dropped after validation passed")
        elif cfg.drop_source:
            report.notes.append("source collections kept: validation failed")
        _remove_state(state_path)
    report.finish()
    return report


# -- planning ----------------------------------------------------------------------------------


def _remove_state(state_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(state_path) + suffix).unlink(missing_ok=True)


def _absent_store(cfg: EndpointConfig) -> bool:
    if cfg.kind() == "local":
        return not Path(cfg.path or cfg.url or "").exists()
    if cfg.kind() == "edge":
        return not Path((cfg.url or "")[len("edge:"):]).exists()
    return False


class _AbsentStore:
    """A dry run's view of a target store whose directory does not exist yet: it holds nothing."""

    def __init__(self, display: str) -> None:
        self.display = display

    def info(self) -> EndpointInfo:
        return EndpointInfo("absent", self.display, None, True)

    def collection_exists(self, name: str) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        raise UnsupportedError(f"{self.display} does not exist yet (dry run): cannot {name}")


def _plan_job(
    cfg: MigrateConfig, src: Endpoint, dst: Endpoint, name: str, same_store: bool, report: MigrateReport
) -> _Job:
    spec = src.get_spec(name)
    tname = target_name(cfg, name, same_store)
    settings = settings_for(cfg.target, name)
    transformer = Transformer(
        cfg.transforms,
        context={"collection": name, "target_collection": tname, "format_version": cfg.format_version},
    )
    metadata = {
        "format_version": cfg.format_version,
        "source": report.source,
        "source_collection": name,
        "tool": "qdrant-ops",
        "tool_version": __version__,
        "status": "in-progress",
        "transforms": transformer.describe(),
    }
    tspec = build_target_spec(spec, settings, transformer, tname, metadata)
    tfields = tspec.vector_fields()
    vector_names = _vector_names(spec, transformer)
    job = _Job(name, tname, spec, tspec, tfields, transformer, vector_names)
    # Run a sample through the transforms: output that cannot fit the target fails here.
    started = time.monotonic()
    sample: list[Point] = []
    # Retried like every read: a transient error here would otherwise fail the whole migrate.
    for page in retrying_scan(src, name, batch_size=min(cfg.batch_size or SAMPLE_SIZE, SAMPLE_SIZE)):
        sample.extend(page.points)
        break
    job.sample_read_s = time.monotonic() - started
    job.sample_before = clone_points(sample)
    result = transformer.apply(sample)
    job.sample_after = result.points
    job.sample_filtered = result.filtered
    if result.failures:
        f = result.failures[0]
        from qdrant_ops.errors import ConfigError

        raise ConfigError(f"{name}: a transform fails on point {f.point.id}: {f.error}", key="transforms")
    for p in result.points:
        why = misfit(p, tfields)
        if why is not None:
            from qdrant_ops.errors import ConfigError

            raise ConfigError(
                f"{name}: transformed points do not fit target {tname}: {why}", key="transforms"
            )
    if dst.collection_exists(tname) and cfg.on_exists == "append":
        check_layout_compatible(dst.get_spec(tname), tspec)
    return job


def _vector_names(spec: CollectionSpec, transformer: Transformer) -> dict[str, str]:
    """Target vector name -> source vector name, following renames (hooks: unknown, left out)."""
    current = {f.name: f.name for f in spec.vector_fields()}
    for old, new in transformer.vector_renames():
        origin = current.pop(old, None)
        if new is not None and origin is not None:
            current[new] = origin
    return current


def _check_batch(cfg: MigrateConfig) -> int:
    """Points per page when validating: ``--batch-size``, or 1000."""
    return cfg.batch_size or 1000


def _plan_dict(cfg: MigrateConfig, report: MigrateReport, jobs: list[_Job], slices: int) -> dict[str, Any]:
    return {
        "source": report.source,
        "target": report.target,
        "collections": {j.name: j.tname for j in jobs},
        "transforms": [t.model_dump(by_alias=True, exclude_none=True) for t in cfg.transforms],
        "target_settings": cfg.target.model_dump(by_alias=True, exclude_unset=True),
        "format_version": cfg.format_version,
        "stamp_payload": cfg.stamp_payload,
        "slices": slices,
        "on_exists": cfg.on_exists,
    }


def _check_targets(dst: Endpoint, jobs: list[_Job], on_exists: str) -> None:
    existing = [j.tname for j in jobs if dst.collection_exists(j.tname)]
    if existing and on_exists == "fail":
        raise TargetExistsError(
            f"target collection(s) already exist at {dst.info().display}: {', '.join(existing)} "
            "(use --on-exists replace|append, or another target name / format_version)"
        )


def _backup(cfg: MigrateConfig, src: Endpoint, names: list[str], state: Checkpoint, report: MigrateReport) -> None:
    if not cfg.backup:
        report.notes.append("no pre-migration backup (--no-backup)")
        return
    done = state.get_meta("backup_dir")
    if done is not None:
        report.backup_dir = str(done)
        return
    from qdrant_ops.backup import backup

    bcfg = BackupConfig(
        source=cfg.source_endpoint() if cfg.source_qdrant is not None else None,
        backup_path=cfg.backup_path,
        collections=names,
        batch_size=cfg.batch_size,
        parallel=cfg.parallel,
        verify_integrity=False,
    )
    result = backup(bcfg, source=src)
    report.backup_dir = result.backup_dir
    state.set_meta("backup_dir", result.backup_dir)


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


def _update_metadata(dst: Endpoint, tname: str, entry: dict[str, Any], report: MigrateReport) -> None:
    update = getattr(dst, "update_metadata", None)
    if not callable(update):
        report.notes.append(f"{dst.info().display} cannot update collection metadata; the report holds it")
        return
    update(tname, {METADATA_KEY: entry})


# -- validation ------------------------------------------------------------------------------------


def _validate_job(
    cfg: MigrateConfig, src: Endpoint, dst: Endpoint, job: _Job, row: CollectionMigration, report: MigrateReport
) -> None:
    written = Digest(int(row.digest, 16), int(row.digest_keys, 16), row.digest_count)
    ulps = 1 if "edge" in (src.info().kind, dst.info().kind) else 0
    tspec = dst.get_spec(job.tname)
    if cfg.validation.content:
        check_content(
            report, job.name, written=written, dst=dst, tname=job.tname, tspec=tspec,
            rebuild=lambda: expected_points(src, job.name, job.transformer, _check_batch(cfg)),
            ulps=ulps, batch_size=_check_batch(cfg), dropped=row.dropped,
        )
    else:
        count = dst.count(job.tname)
        report.check("count", count == written.count and not row.dropped,
                     f"{count} points in {job.tname}, {written.count} written, {row.dropped} dropped by a hook",
                     collection=job.name)
    if cfg.validation.parity:
        check_parity(
            report, job.name, src=src, name=job.name, dst=dst, tname=job.tname, tspec=tspec,
            vector_names=job.vector_names,
            against_target=job.transformer.changes_vectors or job.transformer.changes_selection,
            settings=cfg.validation,
        )


def _record_validation(dst: Endpoint, jobs: list[_Job], report: MigrateReport) -> None:
    for j in jobs:
        checks = [c for c in report.checks if c.collection == j.name]
        if not checks:
            continue
        passed = all(c.passed for c in checks)
        meta = dst.get_spec(j.tname).metadata.get(METADATA_KEY) or {}
        _update_metadata(dst, j.tname, {**meta, "validation": "passed" if passed else "failed",
                                        "validated_at": _now()}, report)


# -- dry run --------------------------------------------------------------------------------------


def _dry_run(cfg: MigrateConfig, src: Endpoint, dst: Endpoint, jobs: list[_Job], report: MigrateReport) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    total_backup = 0
    for j in jobs:
        row = CollectionMigration(name=j.name, target_name=j.tname, source_points=j.spec.points_count,
                                  config_diff=config_diff(j.spec, j.tspec), action="planned")
        exists = dst.collection_exists(j.tname)
        row.action = {
            (False, "fail"): "create", (False, "replace"): "create", (False, "append"): "create",
            (True, "fail"): "refused: target exists", (True, "replace"): "replace", (True, "append"): "append",
        }[(exists, cfg.on_exists)]
        if exists and cfg.on_exists == "fail":
            report.check(
                "target",
                False,
                f"{j.tname} already exists at {report.target}: the run would refuse it "
                "(use --on-exists replace|append, or another target name)",
                collection=j.name,
            )
        n = len(j.sample_before)
        count = j.spec.points_count
        keep = (len(j.sample_after) / n) if n else 1.0
        if j.sample_filtered:
            report.notes.append(f"{j.name}: filters removed {j.sample_filtered} of {n} sample points")
        row.estimated_points = int(round(count * keep))
        after_bytes = sum(estimate_bytes(p) for p in j.sample_after)
        row.estimated_bytes = int(after_bytes / max(len(j.sample_after), 1) * row.estimated_points)
        if n:
            buf = io.BytesIO()
            fields = j.spec.vector_fields()
            pq.write_table(pa.Table.from_batches([encode_points(j.sample_before, fields)]), buf, compression="zstd")
            row.estimated_backup_bytes = int(buf.tell() / n * count)
        total_backup += row.estimated_backup_bytes
        t0 = time.monotonic()
        j.transformer.apply(clone_points(j.sample_before))
        per_point = (j.sample_read_s + (time.monotonic() - t0)) / n if n else 0.0
        row.estimated_duration_s = round(per_point * count, 2)
        for before, after in zip(j.sample_before[:3], _match(j.sample_before[:3], j.sample_after), strict=True):
            row.samples.append(SamplePoint(id=str(before.id), before=_show(before), after=_show(after) if after else None))
        report.collections.append(row)
    report.estimated_backup_bytes = total_backup if cfg.backup else 0
    root = Path(cfg.backup_path).resolve()
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    report.free_disk_bytes = shutil.disk_usage(probe).free
    if cfg.backup and total_backup > report.free_disk_bytes:
        report.check("disk", False, f"backup needs ~{total_backup} bytes, {report.free_disk_bytes} free at {probe}")
    elif cfg.backup:
        report.check("disk", True, f"backup needs ~{total_backup} bytes, {report.free_disk_bytes} free at {probe}")
    report.notes.append(
        "estimated durations come from a timed sample read and transform; writes are not sampled in a "
        "dry run (nothing is written)"
    )
    report.state_file = ""


def _match(before: list[Point], after: list[Point]) -> list[Point | None]:
    from qdrant_ops.codec import normalize_id

    by_id = {normalize_id(p.id): p for p in after}
    return [by_id.get(normalize_id(p.id)) for p in before]


def _show(p: Point) -> dict[str, Any]:
    vectors: dict[str, Any] = {}
    for name, v in p.vectors.items():
        label = name or "(unnamed)"
        if hasattr(v, "indices"):
            vectors[label] = f"sparse, {len(v.indices)} entries"
        elif isinstance(v, list) and v and isinstance(v[0], list):
            vectors[label] = f"multi, {len(v)} x {len(v[0])}"
        else:
            vectors[label] = f"dense, {len(v)}"
    return {"payload": p.payload, "vectors": vectors}


# -- validate alone ---------------------------------------------------------------------------------


@bulk
def validate(
    cfg: MigrateConfig,
    *,
    source: Endpoint | None = None,
    target: Endpoint | None = None,
) -> ValidateReport:
    """Validate what a migration config produced: counts, content and semantic parity.

    The expected content is the digest the migration recorded in the target's metadata; without
    one (a target not written by qdrant-ops) it is computed from the source and the transforms.
    """
    src = source or open_endpoint(cfg.source_endpoint())
    dst = target or open_endpoint(cfg.target_endpoint())
    report = ValidateReport(source=src.info().display, target=dst.info().display)
    names = select_collections(src, cfg.collections)
    ulps = 1 if "edge" in (src.info().kind, dst.info().kind) else 0
    for name in names:
        tname = target_name(cfg, name, src is dst)
        report.collections[name] = tname
        if not dst.collection_exists(tname):
            report.check("exists", False, f"{tname} not found at {report.target}", collection=name)
            continue
        tspec = dst.get_spec(tname)
        meta = tspec.metadata.get(METADATA_KEY) or {}
        transformer = Transformer(cfg.transforms, context={
            "collection": name, "target_collection": tname, "format_version": cfg.format_version})
        if cfg.stamp_payload:
            transformer.stamp = {"format_version": cfg.format_version, "migrated_at": meta.get("migrated_at")}
        spec = src.get_spec(name)
        if isinstance(meta.get("digest"), dict):
            written = Digest.from_json(meta["digest"])
        else:
            written = Digest()
            for batch in expected_points(src, name, transformer, _check_batch(cfg)):
                written.add(digest_points(batch, tspec.vector_fields()))
            report.notes.append(f"{tname}: no migration digest in its metadata; expected content computed from the source")
        ok = True
        if cfg.validation.content:
            ok = check_content(
                report, name, written=written, dst=dst, tname=tname, tspec=tspec,
                rebuild=_rebuilder(src, name, transformer, _check_batch(cfg)),
                ulps=ulps, batch_size=_check_batch(cfg), dropped=int(meta.get("points_dropped") or 0),
            )
        if cfg.validation.parity:
            ok = check_parity(
                report, name, src=src, name=name, dst=dst, tname=tname, tspec=tspec,
                vector_names=_vector_names(spec, transformer),
                against_target=transformer.changes_vectors or transformer.changes_selection,
                settings=cfg.validation,
            ) and ok
        if meta:
            _update_metadata_quiet(dst, tname, {**meta, "validation": "passed" if ok else "failed", "validated_at": _now()})
    report.finish()
    return report


def _rebuilder(src: Endpoint, name: str, transformer: Transformer, batch_size: int) -> Callable[[], Iterator[list[Point]]]:
    def rebuild() -> Iterator[list[Point]]:
        return expected_points(src, name, transformer, batch_size)

    return rebuild


def _update_metadata_quiet(dst: Endpoint, tname: str, entry: dict[str, Any]) -> None:
    update = getattr(dst, "update_metadata", None)
    if callable(update):
        update(tname, {METADATA_KEY: entry})
