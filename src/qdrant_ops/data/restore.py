"""``qdrant-ops restore``: recreate collections from a backup, exactly, and check the result.

Every selected file's sha256 is checked before anything is written. Collections are recreated with
their spec, payload indexes, metadata and aliases, then filled row group by row group; each row
group done is checkpointed, so a rerun continues where a killed one stopped (upserts are
idempotent: a repeated row group cannot duplicate points). A batch that keeps failing stops the
restore with exit 4, or with ``--continue-on-error`` goes to a dead-letter Parquet file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
import time
from pathlib import Path

from pydantic import BaseModel, Field

from qdrant_ops._fs import atomic_write_text
from qdrant_ops.data.config import RestoreConfig
from qdrant_ops.endpoints.archive import (
    OLDER_FORMAT_NOTE,
    CollectionEntry,
    check_file,
    extraction_of,
    load_manifest,
    resolve_backup,
)
from qdrant_ops.endpoints.base import Endpoint
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.preflight import check_writable
from qdrant_ops.errors import (
    CorruptBackupError,
    NotFoundError,
    PartialError,
    TargetExistsError,
    UsageError,
)
from qdrant_ops.format.columns import decode_batch, request_sizes
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.pipeline.gcpolicy import bulk
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.pipeline.prefetch import prefetch
from qdrant_ops.pipeline.retry import RetryPolicy, RetryStats
from qdrant_ops.pipeline.sizing import write_batch
from qdrant_ops.pipeline.stopping import check, run_all
from qdrant_ops.pipeline.writer import BatchWriter, write_dead_letter
from qdrant_ops.progress import NullProgress, ProgressSink
from qdrant_ops.reports import Report, md_table, utcnow
from qdrant_ops.repository.chain import Unit, reader_units, unit_batches

log = logging.getLogger(__name__)


class CollectionRestore(BaseModel):
    name: str
    target_name: str
    action: str = ""  # created | replaced | appended | skipped | resumed
    points: int = 0
    written: int = 0
    failed: int = 0
    batches: int = 0
    retries: int = 0
    duration_s: float = 0.0  # the copy alone, in this run (the optimize is timed apart)
    resumed_points: int = 0  # points an interrupted earlier run had already written
    points_per_s: float = 0.0  # points written by this run / duration_s
    mb_per_s: float = 0.0
    optimize_s: float = 0.0
    aliases: list[str] = Field(default_factory=list)
    dead_letter: str | None = None
    post_write: str = ""  # what the target did after the bulk write (Qdrant Edge: optimize())


class RestoreReport(Report):
    verb: str = "restore"
    backup: str = ""
    target: str = ""
    resumed: bool = False
    resumed_from: str = ""  # the checkpoint an interrupted run left, when this run resumed it
    collections: list[CollectionRestore] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        if self.resumed:
            done = sum(c.resumed_points for c in self.collections)
            lines.append(f"  resumed from {self.resumed_from}: {done} points were written by the earlier run")
        for c in self.collections:
            extra = f", {c.failed} failed -> {c.dead_letter}" if c.failed else ""
            resumed = f" (resumed from {c.resumed_points})" if c.resumed_points else ""
            lines.append(
                f"  {c.name} -> {c.target_name} ({c.action}): {c.written}/{c.points} points{resumed}, "
                f"{c.points_per_s:.0f} points/s, {c.mb_per_s:.1f} MB/s{extra}"
            )
            if c.post_write:
                lines.append(f"    {c.post_write}")
        return lines

    def markdown_sections(self) -> list[str]:
        return [
            "",
            f"Backup `{self.backup}` restored into `{self.target}` (resumed: {self.resumed}).",
            "",
            "## Collections",
            "",
            md_table(
                ["collection", "target", "action", "points", "resumed from", "written", "failed", "batches", "retries",
                 "copy (s)", "points/s", "MB/s", "optimize (s)", "dead letter"],
                [
                    [c.name, c.target_name, c.action, c.points, c.resumed_points, c.written, c.failed, c.batches,
                     c.retries, f"{c.duration_s:.2f}", f"{c.points_per_s:.0f}", f"{c.mb_per_s:.1f}",
                     f"{c.optimize_s:.2f}", c.dead_letter or ""]
                    for c in self.collections
                ],
            ),
        ]


def _target_names(cfg: RestoreConfig, names: list[str]) -> dict[str, str]:
    unknown = [k for k in cfg.rename if k not in names]
    if unknown:
        raise UsageError(f"--rename names collection(s) not restored: {', '.join(unknown)}")
    out = {n: cfg.rename.get(n, n + cfg.suffix) for n in names}
    if len(set(out.values())) != len(out):
        raise UsageError("two collections would be restored under the same name")
    return out


@bulk
def restore(
    cfg: RestoreConfig,
    *,
    target: Endpoint | None = None,
    progress: ProgressSink | None = None,
    policy: RetryPolicy | None = None,
) -> RestoreReport:
    """Restore the configured collections of a backup into the target endpoint."""
    policy = policy or RetryPolicy(max_retries=cfg.max_retries)
    if not cfg.backup:
        raise UsageError("no backup given")
    report = RestoreReport()
    progress = report.track(progress or NullProgress())
    root = resolve_backup(cfg.backup)
    report.backup = str(root)
    manifest = load_manifest(root)
    if not manifest.checksummed:
        report.notes.append(OLDER_FORMAT_NOTE)
    names = cfg.collections or list(manifest.collections)
    missing = [n for n in names if n not in manifest.collections]
    if missing:
        raise NotFoundError(f"collection(s) not in backup {root}: {', '.join(missing)}")
    mapping = _target_names(cfg, names)
    # Every file checked before anything is written: of an incremental backup, its chain's.
    units = {name: reader_units(root, manifest.collections[name]) for name in names}
    checking = progress.task("check files (sha256)", total=sum(manifest.collections[n].points_count for n in names) or None)
    try:
        with report.phase("check files"):
            for name in names:
                for unit in units[name]:
                    _check_columns(check_file(unit.root, unit.file), manifest.collections[name])
                    checking.advance(unit.file.rows, nbytes=unit.file.bytes)
    finally:
        checking.done()
    dst = target or open_endpoint(cfg.target_endpoint())
    report.target = dst.info().display
    # Every collection to be created is checked against the target engine before the first one
    # is: a collection it cannot hold refuses the whole restore, not the rest of it.
    check_writable(dst, [
        (mapping[n], manifest.collections[n].spec) for n in names
        if not (cfg.on_exists in ("skip", "append") and dst.collection_exists(mapping[n]))
    ])

    plan = {
        "backup": root.name,
        "target": report.target,
        "mapping": mapping,
        "on_exists": cfg.on_exists,
    }
    key = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]
    state_path = root / f".restore-{key}.sqlite"
    # From a tar, the extraction is kept only while the restore is unfinished (its state lives
    # there, for a resume); the done marker goes beside the tar, which stays the one copy.
    extracted = extraction_of(root)
    done_path = (extracted.parent if extracted else root) / f".restore-{key}.done.json"
    with FileLock(root / f".restore-{key}.lock", f"restore state {state_path}"):
        if not state_path.exists() and _already_restored(done_path, dst, mapping, cfg.on_exists, report):
            report.finish()
            if extracted is not None:
                shutil.rmtree(extracted, ignore_errors=True)  # the lock is a plain flock: unlink is safe
            return report
        state = Checkpoint(state_path)
        try:
            report.resumed = state.bind_plan(plan, what="restore")
            report.resumed_from = str(state_path) if report.resumed else ""
            if not report.resumed:
                _check_targets(dst, mapping, cfg.on_exists)
            for name in names:
                row = _restore_collection(
                    cfg, root, manifest.collections[name], mapping[name], dst, state, progress, policy, report,
                    units[name],
                )
                report.collections.append(row)
        finally:
            state.close()
        failed = sum(c.failed for c in report.collections)
        for c in report.collections:
            if c.action == "skipped":
                continue
            count = dst.count(c.target_name)
            expected = c.points if c.action != "appended" else None
            ok = count == expected if expected is not None else count >= c.written
            report.check(
                "count", ok and not c.failed, f"{count} points in target, backup has {c.points}", collection=c.name
            )
        if failed == 0 and not report.failed_checks:
            # Record the finished restore before dropping its state: a run killed in between is
            # recognised as done by the rerun instead of refused for existing targets.
            done = {"completed_at": utcnow().isoformat(), "targets": {c.target_name: c.points for c in report.collections if c.action != "skipped"}}
            atomic_write_text(done_path, json.dumps(done, sort_keys=True))
        if failed == 0:
            for suffix in ("", "-wal", "-shm"):
                Path(str(state_path) + suffix).unlink(missing_ok=True)
    report.finish("partial" if failed else None)
    if extracted is not None and report.status == "ok":
        shutil.rmtree(extracted, ignore_errors=True)
    return report


def _already_restored(
    done_path: Path, dst: Endpoint, mapping: dict[str, str], on_exists: str, report: RestoreReport
) -> bool:
    """True when an earlier run of this same restore finished and its targets are still intact.

    Only for ``--on-exists fail`` (any other mode writes again on purpose): the rerun of a restore
    killed after it finished, but before it exited, reports the earlier result instead of refusing
    the targets it created.
    """
    if on_exists != "fail" or not done_path.is_file():
        return False
    try:
        done = json.loads(done_path.read_text(encoding="utf-8"))
        targets = {str(k): int(v) for k, v in dict(done["targets"]).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if set(targets) != set(mapping.values()):
        return False
    for tname, points in targets.items():
        if not dst.collection_exists(tname) or dst.count(tname) != points:
            done_path.unlink(missing_ok=True)
            return False
    for name, tname in mapping.items():
        report.collections.append(
            CollectionRestore(name=name, target_name=tname, action="already restored", points=targets[tname])
        )
        report.check("count", True, f"{targets[tname]} points in target, as restored", collection=name)
    report.notes.append(
        f"this restore already completed at {done.get('completed_at')}; its targets hold the restored "
        "counts, so nothing was written"
    )
    return True


def _check_columns(path: Path, entry: CollectionEntry) -> None:
    """Refuse a file whose columns differ from the manifest's vectors before writing anything."""
    import pyarrow.parquet as pq

    from qdrant_ops.format.columns import check_schema

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise CorruptBackupError(f"{path}: unreadable Parquet: {exc}", file=path) from None
    check_schema(schema, entry.fields, str(path))


def _check_targets(dst: Endpoint, mapping: dict[str, str], on_exists: str) -> None:
    existing = [t for t in mapping.values() if dst.collection_exists(t)]
    if existing and on_exists == "fail":
        raise TargetExistsError(
            f"collection(s) already exist at {dst.info().display}: {', '.join(existing)} "
            "(use --on-exists skip|replace|append, --suffix or --rename)"
        )


def _restore_collection(
    cfg: RestoreConfig,
    root: Path,
    entry: CollectionEntry,
    tname: str,
    dst: Endpoint,
    state: Checkpoint,
    progress: ProgressSink,
    policy: RetryPolicy,
    report: RestoreReport,
    units: list[Unit],
) -> CollectionRestore:
    name = entry.spec.name
    row = CollectionRestore(name=name, target_name=tname, points=entry.points_count)
    prepared = state.get_meta(f"prepared:{name}")
    if prepared is None:
        exists = dst.collection_exists(tname)
        if exists and cfg.on_exists == "skip":
            row.action = "skipped"
            state.set_meta(f"prepared:{name}", "skipped")
            return row
        if exists and cfg.on_exists == "replace":
            dst.delete_collection(tname)
            row.action = "replaced"
        elif exists:
            row.action = "appended"
        else:
            row.action = "created"
        if row.action != "appended":
            dst.create_collection(tname, entry.spec)
        state.set_meta(f"prepared:{name}", row.action)
    else:
        row.action = str(prepared)
        if row.action == "skipped":
            return row
    stats = RetryStats()
    writer = BatchWriter(dst, tname, policy=policy, retry_stats=stats)
    per_write = write_batch(dst.info().kind, cfg.batch_size)
    task = progress.task(f"restore {name} -> {tname}", total=entry.points_count or None)
    dead_letter = root.parent / f"{root.name}.dead-letter-{tname}.parquet"

    stop = threading.Event()
    resumed = [0] * len(units)

    def run(i: int) -> None:
        unit = units[i]
        # A file of this backup keeps its key; one of a parent (incremental) is named by it too.
        rel = unit.file.path if unit.root == root else unit.key
        # The next row group is read and decompressed (no GIL) while this one is written.
        for rg_index, batch in enumerate(prefetch(unit_batches(unit, checked=True), name=f"read-{name}")):
            check(stop)  # Ctrl-C or another file's error: this row group is not marked done
            key = f"{name}:{rel}:{rg_index}"
            if state.unit_done(key) is not None:
                task.resume(batch.num_rows)
                resumed[i] += batch.num_rows
                continue
            failures = []
            # Decoded one write batch at a time: Python objects for a whole row group (the
            # backup's scroll page) would set the peak memory, not the batch size.
            for start in range(0, batch.num_rows, per_write):
                check(stop)  # a row group into local mode can take seconds: stop between writes
                part = batch.slice(start, per_write)
                failures += writer.write(list(decode_batch(part, entry.fields)), request_sizes(part, entry.fields))
            if failures:
                write_dead_letter(dead_letter, failures, entry.fields)
                if not cfg.continue_on_error:
                    raise PartialError(
                        f"{sum(len(f.points) for f in failures)} points of {name} could not be written "
                        f"({failures[0].error}); they are in {dead_letter}; rerun the same command to "
                        "resume, or add --continue-on-error"
                    )
            state.mark_unit(key)
            task.advance(batch.num_rows, nbytes=batch.nbytes)
            copied_bytes[i] += batch.nbytes

    copied_bytes = [0] * len(units)
    started = time.monotonic()
    try:
        with report.phase("copy"):
            run_all(run, range(len(units)), workers=cfg.parallel, name=f"restore-{name}", stop=stop)
    finally:
        task.done()
    elapsed = time.monotonic() - started
    post_write = getattr(dst, "after_bulk_write", None)
    # Run again by a rerun until it has finished once: a restore interrupted during Edge's
    # optimize() resumes with every row group done and nothing left to write, but not indexed.
    if callable(post_write) and state.get_meta(f"post_write:{name}") is None and (writer.stats.written or prepared):
        opt_started = time.monotonic()
        with report.phase("optimize"):
            row.post_write = str(post_write(tname, progress=progress))
        row.optimize_s = round(time.monotonic() - opt_started, 3)
        state.set_meta(f"post_write:{name}", row.post_write)
    for alias in entry.spec.aliases:
        new_alias = alias + cfg.suffix if cfg.suffix else alias
        current = dst.aliases().get(new_alias)
        if current not in (None, tname):
            log.warning("alias %s points at %s already; not moved", new_alias, current)
            continue
        dst.set_alias(new_alias, tname)
        row.aliases.append(new_alias)
    row.written = writer.stats.written
    row.failed = writer.stats.failed
    row.batches = writer.stats.batches
    row.retries = stats.retries
    row.resumed_points = sum(resumed)
    row.duration_s = round(elapsed, 3)
    row.points_per_s = round(row.written / elapsed, 1) if elapsed > 0 else 0.0
    row.mb_per_s = round(sum(copied_bytes) / elapsed / 1e6, 2) if elapsed > 0 else 0.0
    if row.failed:
        row.dead_letter = str(dead_letter)
    return row
