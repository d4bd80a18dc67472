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

import threading
from pathlib import Path
from typing import Any

from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.base import CollectionSpec, Endpoint, EndpointInfo
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.preflight import check_writable
from qdrant_ops.endpoints.uri import EndpointConfig
from qdrant_ops.errors import NotFoundError, TargetExistsError, UnsupportedError, UsageError
from qdrant_ops.migration.aliases import apply_aliases, check_aliases, plan_aliases, refused
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.copy import _migrate_collection
from qdrant_ops.migration.dryrun import _dry_run
from qdrant_ops.migration.jobs import _check_targets, _now, _plan_dict, _plan_job
from qdrant_ops.migration.report import AliasMove, MigrateReport
from qdrant_ops.migration.validate import _record_validation, _validate_job
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.pipeline.gcpolicy import bulk
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.pipeline.retry import RetryPolicy
from qdrant_ops.pipeline.scope import select_collections, slice_count
from qdrant_ops.progress import NullProgress, ProgressSink
from qdrant_ops.repository.location import state_root

STATE_FILE = ".qdrant-ops-migrate.sqlite"


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
    policy = policy or RetryPolicy(max_retries=cfg.max_retries)
    report = MigrateReport(dry_run=cfg.dry_run, format_version=cfg.format_version)
    progress = report.track(progress or NullProgress())
    if cfg.drop_source and not cfg.validate_after:
        raise UsageError("--drop-source needs validation: it is honoured only after a validation has passed")
    if cfg.switch_alias and not cfg.validate_after:
        raise UsageError("--switch-alias needs validation: the alias moves only once validation has passed")
    src = source or open_endpoint(cfg.source_endpoint(), must_exist=True)
    sinfo = src.info()  # unreachable endpoints fail here (exit 3)
    tcfg = cfg.target_endpoint() if target is None else None
    if cfg.dry_run and tcfg is not None and _absent_store(tcfg):
        # Opening a local-mode store creates its directory: a dry run must not.
        dst: Endpoint = _AbsentStore(tcfg.display(), tcfg.kind())
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
    state_path = Path(cfg.state_path) if cfg.state_path else state_root(cfg.backup_path) / STATE_FILE
    report.state_file = str(state_path)
    report.rerun_command = rerun_command or "rerun the same qdrant-ops migrate command"

    jobs = [_plan_job(cfg, src, dst, n, same_store, report) for n in names]
    tnames = [j.tname for j in jobs]
    if len(set(tnames)) != len(tnames):
        raise UsageError("two collections would be migrated into the same target name")
    for j in jobs:
        if same_store and j.tname == j.name:
            raise UsageError(f"{j.name}: source and target are the same collection; set format_version or target.name")
    # Every collection the run would create is checked against the target engine first: one it
    # cannot hold is refused before anything is written, in a dry run too.
    check_writable(dst, [
        (j.tname, j.tspec) for j in jobs if not (cfg.on_exists == "append" and dst.collection_exists(j.tname))
    ])
    alias_plan = plan_aliases(cfg, dst, jobs, same_store, report)

    if cfg.dry_run:
        _dry_run(cfg, src, dst, jobs, report)
        for row in report.collections:
            row.aliases = alias_plan.get(row.name, [])
        if refused(alias_plan):
            report.check("aliases", False, f"the run would refuse alias(es) that point elsewhere at "
                         f"{report.target}: {', '.join(refused(alias_plan))} (--on-exists replace moves them)")
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
                    check_aliases(alias_plan, tinfo.display)
                except TargetExistsError:
                    state.close()
                    _remove_state(state_path)
                    raise
            migrated_at = state.get_meta("migrated_at")
            if migrated_at is None:
                migrated_at = _now()
                state.set_meta("migrated_at", migrated_at)
            report.migrated_at = str(migrated_at)
            with report.phase("backup"):
                _backup(cfg, src, names, state, report, progress)
            stop = threading.Event()
            for j in jobs:
                if cfg.stamp_payload:
                    j.transformer.stamp = {"format_version": cfg.format_version, "migrated_at": migrated_at}
                with report.phase("copy"):
                    row = _migrate_collection(cfg, src, dst, j, slices, state, progress, policy, stop, str(migrated_at), report)
                report.collections.append(row)
                post_write = getattr(dst, "after_bulk_write", None)  # Qdrant Edge: optimize()
                if callable(post_write) and row.written and not row.failed:
                    with report.phase("optimize"):
                        report.notes.append(str(post_write(j.tname, progress=progress)))
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
                with report.phase("validate"):
                    _validate_job(cfg, src, dst, j, row, report, progress)
        if cfg.stamp:
            _record_validation(dst, jobs, report)
        else:
            report.notes.append("no migration record written into the targets' metadata (--no-stamp)")
        _copy_aliases(cfg, dst, alias_plan, report)
        if cfg.switch_alias and not report.failed_checks:
            from qdrant_ops.migration.cutover import switch_alias

            cut = switch_alias(dst, cfg.switch_alias, jobs[0].tname)
            report.alias = cut.alias
            report.alias_previous = cut.previous
            report.notes.extend(cut.notes)
        elif cfg.switch_alias:
            report.notes.append(f"alias {cfg.switch_alias} not moved: validation failed")
        if cfg.drop_source and not report.failed_checks:
            for j in jobs:
                src.delete_collection(j.name)
                report.dropped_sources.append(j.name)
                report.notes.append(f"source collection {j.name} dropped after validation passed")
        elif cfg.drop_source:
            report.notes.append("source collections kept: validation failed")
        _remove_state(state_path)
    report.finish()
    return report


# -- planning ----------------------------------------------------------------------------------


def _copy_aliases(cfg: MigrateConfig, dst: Endpoint, plan: dict[str, list[AliasMove]], report: MigrateReport) -> None:
    """Create the planned aliases once the data is in (and validated, when validation runs)."""
    skip = "validation failed" if report.failed_checks else None
    for row in report.collections:
        moves = plan.get(row.name, [])
        if not moves:
            continue
        apply_aliases(dst, moves, cfg.on_exists, skip)
        row.aliases = moves
        ok = all(m.status == "already there" or m.status.startswith(("created", "replaced")) for m in moves)
        report.check("aliases", ok,
                     "; ".join(f"{m.alias} -> {m.collection}: {m.status}" for m in moves), collection=row.name)


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

    def __init__(self, display: str, kind: str) -> None:
        self.display = display
        self.kind = kind

    def info(self) -> EndpointInfo:
        return EndpointInfo("absent", self.display, None, True)

    def collection_exists(self, name: str) -> bool:
        return False

    def refusals(self, spec: CollectionSpec) -> list[str]:
        if self.kind == "edge":
            from qdrant_ops.endpoints.edge.config import refusals

            return refusals(spec)
        return []

    def __getattr__(self, name: str) -> Any:
        raise UnsupportedError(f"{self.display} does not exist yet (dry run): cannot {name}")


def _backup(
    cfg: MigrateConfig, src: Endpoint, names: list[str], state: Checkpoint, report: MigrateReport,
    progress: ProgressSink | None = None,
) -> None:
    if not cfg.backup:
        report.notes.append("no pre-migration backup (--no-backup)")
        return
    done = state.get_meta("backup_dir")
    if done is not None:
        report.backup_dir = str(done)
        return
    from qdrant_ops.data.backup import backup

    bcfg = BackupConfig(
        source=cfg.source_endpoint() if cfg.source_qdrant is not None else None,
        backup_path=cfg.backup_path,
        collections=names,
        batch_size=cfg.batch_size,
        parallel=cfg.parallel,
        verify_integrity=False,
    )
    result = backup(bcfg, source=src, progress=progress)
    report.backup_dir = result.backup_dir
    state.set_meta("backup_dir", result.backup_dir)
