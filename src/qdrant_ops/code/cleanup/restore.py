"""``cleanup-legacy --restore``: undo every recorded archive run, newest first, from the index.

Each edited file gets its original bytes back when it still holds exactly what the run wrote; a
file edited since has the run's line operations reverted instead, and one where even that no
longer applies is listed (``--force`` then writes the original bytes over it). Each moved file goes
back with ``git mv`` when it is tracked. The archive's own documents and directories go last, and
only when everything else went back, so a restore that stopped half-way can be run again.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from qdrant_ops.code.cleanup import gitmv as legacy_git
from qdrant_ops.code.cleanup.archive_index import (
    ArchiveIndex,
    EditRecord,
    RunRecord,
    require_index,
    revert_text,
    sha256_bytes,
)
from qdrant_ops.code.cleanup.plan import unified_diff
from qdrant_ops.code.cleanup.report import CleanupReport, FileDiff
from qdrant_ops.code.cleanup.scripts import resolve_repo, under
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.code.textfiles import decode, write_bytes_keep_mode
from qdrant_ops.errors import UsageError

log = logging.getLogger(__name__)


def check_clean(root: Path, report: CleanupReport, config: CleanupConfig, allowed: set[str]) -> None:
    """Refuse a work tree with uncommitted changes (other than ``allowed`` paths) unless --force."""
    if not report.git:
        return
    dirty = [p for p in legacy_git.dirty_paths(root) if p not in allowed]
    if not dirty:
        return
    shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    if config.force:
        report.notes.append(f"the work tree had uncommitted changes ({shown}); went on (--force)")
        return
    if config.dry_run:
        report.notes.append(f"the work tree has uncommitted changes ({shown}); a real run needs "
                            "them committed first, or --force")
        return
    raise UsageError(f"the work tree has uncommitted changes ({shown}): commit or stash them "
                     "first, or rerun with --force")


def _recorded_paths(index: ArchiveIndex) -> set[str]:
    out: set[str] = set()
    for run in index.runs:
        out.update(e.path for e in run.edits)
        out.update(run.created_files)
        for mv in run.moves:
            out.update((mv.source, mv.destination))
    return out


def restore_legacy(config: CleanupConfig) -> CleanupReport:
    """Move every archived file back and revert the references and requirements changed."""
    root, archive_dir = resolve_repo(config)
    index = require_index(root, archive_dir)
    report = CleanupReport(mode="restore", repo=str(root), archive_path=archive_dir,
                           dry_run=config.dry_run, git=legacy_git.is_work_tree(root))
    check_clean(root, report, config, _recorded_paths(index))
    for run in reversed(index.runs):
        for rec in run.edits:
            if not under(rec.path, archive_dir):
                _revert_edit(root, rec, report, config)
        for mv in reversed(run.moves):
            _move_back(root, mv.source, mv.destination, mv.sha256, mv.overwritten_b64,
                       mv.overwritten_tracked, report, config)
    report.check("restore complete", not report.unhandled,
                 f"{len(report.unhandled)} item(s) could not be restored" if report.unhandled else "")
    if not report.unhandled:
        _remove_archive_files(root, archive_dir, index, report, config)
    report.finish("dry-run" if config.dry_run and not report.unhandled else None)
    return report


def _revert_edit(root: Path, rec: EditRecord, report: CleanupReport, config: CleanupConfig) -> None:
    path = root / rec.path
    original = rec.original
    current = path.read_bytes() if path.is_file() else None
    if current == original:
        return
    new: bytes | None
    if current is None or sha256_bytes(current) == rec.after_sha256:
        new = original
    else:
        tf = decode(current)
        text = revert_text(tf.text, rec) if tf is not None else None
        new = tf.encode(text) if tf is not None and text is not None else None
        if new is None:
            if not config.force:
                report.problem(rec.path, "changed since it was archived and the recorded edits "
                               "no longer apply; fix it by hand or rerun with --force to write "
                               "its original bytes over it")
                return
            new = original
    old_tf, new_tf = decode(current or b""), decode(new)
    if old_tf is not None and new_tf is not None:
        report.diffs.append(FileDiff(path=rec.path, diff=unified_diff(rec.path, old_tf.text, new_tf.text)))
    report.restored.append(f"reverted {rec.path}")
    if not config.dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_keep_mode(path, new)


def _move_back(root: Path, source: str, destination: str, sha: str, overwritten: str | None,
               overwritten_tracked: bool, report: CleanupReport, config: CleanupConfig) -> None:
    src, dst = root / source, root / destination
    if not dst.is_file():
        if src.is_file():
            return  # already back
        report.problem(destination, f"missing from the archive; cannot restore {source}")
        return
    if src.exists() and not config.force:
        report.problem(source, f"exists again; cannot move {destination} back over it "
                       "(move it away, or rerun with --force)")
        return
    if sha256_bytes(dst.read_bytes()) != sha:
        report.notes.append(f"{destination} changed since it was archived; restored as it is now")
    report.restored.append(f"moved {destination} -> {source}")
    if config.dry_run:
        return
    if report.git and legacy_git.is_tracked(root, destination):
        legacy_git.git_mv(root, destination, source, force=src.exists())
    else:
        src.parent.mkdir(parents=True, exist_ok=True)
        os.replace(dst, src)
    if overwritten is not None:
        write_bytes_keep_mode(dst, base64.b64decode(overwritten))
        if overwritten_tracked:
            legacy_git.git_add(root, destination)
    log.info("moved %s back to %s", destination, source)


def _remove_archive_files(root: Path, archive_dir: str, index: ArchiveIndex,
                          report: CleanupReport, config: CleanupConfig) -> None:
    """The archive's documents (or their earlier bytes) and the directories the runs created."""
    first: RunRecord = index.runs[0]
    for rec in first.edits:
        if under(rec.path, archive_dir):
            report.restored.append(f"reverted {rec.path}")
            if not config.dry_run:
                write_bytes_keep_mode(root / rec.path, rec.original)
    for run in reversed(index.runs):
        for rel in run.created_files:
            path = root / rel
            if not path.is_file():
                continue
            report.restored.append(f"removed {rel}")
            if config.dry_run:
                continue
            if report.git and legacy_git.is_tracked(root, rel):
                legacy_git.git_rm(root, rel)
            else:
                path.unlink()
    if config.dry_run:
        return
    for run in reversed(index.runs):
        for d in run.created_dirs:
            try:
                (root / d).rmdir()
            except OSError:
                log.info("left %s in place: not empty", d)
