"""``qdrant-ops cleanup-legacy``: archive legacy scripts, update every reference, prune requirements.

``cleanup_legacy`` plans (``codebase.legacy_plan``), then, unless it is a dry run, moves each file
with ``git mv`` (a plain move outside git), writes the rewritten files, and writes ``ARCHIVE.md``,
the archive's ``requirements.txt`` and ``archive-index.json``. A failure half-way undoes what was
done. ``restore_legacy`` (``--restore``) reverses every recorded run from the index.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path, PurePosixPath

from qdrant_ops import __version__
from qdrant_ops.code.cleanup import gitmv as legacy_git
from qdrant_ops.code.cleanup.archive_index import (
    DOC_NAME,
    INDEX_NAME,
    REQUIREMENTS_NAME,
    ArchiveIndex,
    EditRecord,
    MoveRecord,
    RunRecord,
    load_index,
    make_edit,
    render_archive_md,
    render_requirements,
    sha256_bytes,
)
from qdrant_ops.code.cleanup.plan import Plan, build_plan, unified_diff
from qdrant_ops.code.cleanup.report import CleanupReport, FileDiff, MovedFile
from qdrant_ops.code.cleanup.restore import check_clean, restore_legacy
from qdrant_ops.code.cleanup.scripts import resolve_repo
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.code.textfiles import write_bytes_keep_mode
from qdrant_ops.errors import QdrantOpsError, TargetExistsError
from qdrant_ops.reports import utcnow

__all__ = ["CleanupReport", "cleanup_legacy", "restore_legacy"]

log = logging.getLogger(__name__)


def cleanup_legacy(config: CleanupConfig) -> CleanupReport:
    """Archive the legacy scripts ``config`` names or detects; ``--restore`` undoes it."""
    if config.restore:
        return restore_legacy(config)
    root, archive_dir = resolve_repo(config)
    report = CleanupReport(repo=str(root), archive_path=archive_dir, dry_run=config.dry_run,
                           git=legacy_git.is_work_tree(root))
    check_clean(root, report, config, allowed=set())
    plan = build_plan(config, root, archive_dir, report)
    if not plan.moves:
        report.notes.append("nothing to archive")
        report.finish("dry-run" if config.dry_run else "ok")
        return report
    run = _record(plan, root, archive_dir, report, config)
    docs = _documents(root, archive_dir, run)
    for rel, (tf, new) in plan.changed().items():
        report.diffs.append(FileDiff(path=rel, diff=unified_diff(rel, tf.text, new)))
    for rel, text in docs.items():
        if rel.endswith(INDEX_NAME):
            continue  # machine-readable, with base64 file copies: listed, not diffed
        old = (root / rel).read_text(encoding="utf-8") if (root / rel).is_file() else ""
        report.diffs.append(FileDiff(path=rel, diff=unified_diff(rel, old, text, created=not old)))
    report.created_files = [rel for rel in docs if not (root / rel).exists()]
    if config.dry_run:
        report.finish("dry-run")
        return report
    _execute(plan, run, docs, root, report)
    report.finish()
    return report


def _record(plan: Plan, root: Path, archive_dir: str, report: CleanupReport,
            config: CleanupConfig) -> RunRecord:
    """The run's index record, and the report's list of moves (nothing changes yet)."""
    run = RunRecord(archived_at=utcnow().isoformat(timespec="seconds"), tool_version=__version__,
                    git=report.git, requirement_lines=plan.archive_lines)
    for mv in plan.moves:
        src, dst = root / mv.source, root / mv.destination
        data = src.read_bytes()
        tracked = report.git and legacy_git.is_tracked(root, mv.source)
        commit = legacy_git.last_commit(root, mv.source) if report.git else None
        rec = MoveRecord(source=mv.source, destination=mv.destination, kind=mv.kind,
                         reason=mv.reason, sha256=sha256_bytes(data),
                         method="git mv" if tracked else "move",
                         last_commit=commit.sha if commit else None,
                         last_commit_date=commit.date if commit else None)
        if dst.exists():
            if not config.force:
                msg = f"{mv.destination} already exists in the archive; --force overwrites it"
                if not config.dry_run:
                    raise TargetExistsError(msg)
                report.problem(mv.destination, msg)
            elif dst.is_file():
                rec.overwritten_b64 = base64.b64encode(dst.read_bytes()).decode("ascii")
                rec.overwritten_tracked = report.git and legacy_git.is_tracked(root, mv.destination)
        run.moves.append(rec)
        report.moved.append(MovedFile(**rec.model_dump(exclude={"overwritten_b64",
                                                               "overwritten_tracked"})))
    for rel, (tf, new) in plan.changed().items():
        original = tf.encode(tf.text)
        run.edits.append(make_edit(rel, original, tf.encode(new), tf.text, new))
    dirs: set[str] = set()
    for mv in plan.moves:
        d = PurePosixPath(mv.destination).parent
        while str(d) not in (".", "") and not (root / str(d)).exists():
            dirs.add(str(d))
            d = d.parent
    run.created_dirs = sorted(dirs, key=lambda x: (-x.count("/"), x))
    return run


def _documents(root: Path, archive_dir: str, run: RunRecord) -> dict[str, str]:
    """ARCHIVE.md, requirements.txt and archive-index.json as they will be after this run."""
    previous = load_index(root, archive_dir)
    index = previous or ArchiveIndex(archive_path=archive_dir)
    names = [f"{archive_dir}/{n}" for n in (DOC_NAME, REQUIREMENTS_NAME, INDEX_NAME)]
    for rel in names:
        path = root / rel
        if not path.exists():
            run.created_files.append(rel)
        elif previous is None and path.is_file():
            data = path.read_bytes()
            run.edits.append(EditRecord(path=rel, original_b64=base64.b64encode(data).decode(),
                                        after_sha256=""))
    index.runs.append(run)
    lines = [line for r in index.runs for line in r.requirement_lines]
    return {
        names[0]: render_archive_md(index),
        names[1]: render_requirements(lines),
        names[2]: index.to_text(),
    }


def _execute(plan: Plan, run: RunRecord, docs: dict[str, str], root: Path,
             report: CleanupReport) -> None:
    """Carry the plan out; on any failure undo what was done and re-raise."""
    done_moves: list[MoveRecord] = []
    written: dict[str, bytes | None] = {}
    try:
        for rec in run.moves:
            dst = root / rec.destination
            if rec.method == "git mv":
                legacy_git.git_mv(root, rec.source, rec.destination, force=dst.exists())
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(root / rec.source, dst)
            done_moves.append(rec)
            log.info("moved %s -> %s (%s)", rec.source, rec.destination, rec.method)
        for rec in run.moves:  # directories the moves emptied go too (a restore recreates them)
            parent = PurePosixPath(rec.source).parent
            while str(parent) not in (".", ""):
                try:
                    (root / str(parent)).rmdir()
                except OSError:
                    break
                parent = parent.parent
        for rel, (tf, new) in plan.changed().items():
            path = root / rel
            written[rel] = path.read_bytes()
            write_bytes_keep_mode(path, tf.encode(new))
            log.info("rewrote %s", rel)
        for rel, text in docs.items():
            path = root / rel
            written[rel] = path.read_bytes() if path.is_file() else None
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_keep_mode(path, text.encode("utf-8"))
    except (QdrantOpsError, OSError) as exc:
        log.error("cleanup-legacy failed (%s); undoing what was done", exc)
        _undo(root, done_moves, written, run)
        raise


def _undo(root: Path, moves: list[MoveRecord], written: dict[str, bytes | None],
          run: RunRecord) -> None:
    for rel, data in written.items():
        try:
            if data is None:
                (root / rel).unlink(missing_ok=True)
            else:
                write_bytes_keep_mode(root / rel, data)
        except OSError as exc:
            log.error("could not undo the write of %s: %s", rel, exc)
    for rec in reversed(moves):
        try:
            if rec.method == "git mv":
                legacy_git.git_mv(root, rec.destination, rec.source)
            else:
                (root / rec.source).parent.mkdir(parents=True, exist_ok=True)
                os.replace(root / rec.destination, root / rec.source)
            if rec.overwritten_b64 is not None:
                write_bytes_keep_mode(root / rec.destination, base64.b64decode(rec.overwritten_b64))
        except (QdrantOpsError, OSError) as exc:
            log.error("could not move %s back: %s", rec.destination, exc)
    for d in run.created_dirs:
        try:
            (root / d).rmdir()
        except OSError:
            pass
