"""A backup in progress: its partial directory, found again by its plan, and put in place when complete."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qdrant_ops import __version__
from qdrant_ops._fs import atomic_write_text, fsync_dir
from qdrant_ops.data.backup_report import BackupReport
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.archive import (
    FORMAT_NAME,
    FORMAT_VERSION,
    PARTIAL_PREFIX,
    CollectionEntry,
    write_manifest,
)
from qdrant_ops.endpoints.base import Endpoint, VectorField
from qdrant_ops.errors import LockedError
from qdrant_ops.format.columns import check_schema
from qdrant_ops.repository.location import (
    Location,
)
from qdrant_ops.repository.store import publish


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def backup_plan(cfg: BackupConfig, source: Endpoint, collections: list[str], slices: int) -> dict[str, Any]:
    return {
        "source": source.info().display,
        "collections": collections,
        "compression_level": cfg.compression_level,
        "batch_size": cfg.batch_size,
        "slices": slices,
        "rows_per_file": cfg.rows_per_file,
        "format_version": FORMAT_VERSION,
    } | ({"incremental": True} if cfg.incremental else {})


def new_partial(root: Path) -> Path:
    """A fresh ``.partial-<stamp>`` directory; a second backup in the same second gets ``-N``."""
    stamp = _stamp()
    for n in range(1000):
        name = stamp if n == 0 else f"{stamp}-{n}"
        if (root / name).exists() or (root / f"{name}.tar").exists():
            continue
        work = root / f"{PARTIAL_PREFIX}{name}"
        try:
            work.mkdir(mode=0o700)
        except FileExistsError:
            continue
        atomic_write_text(work / "started_at", datetime.now(UTC).isoformat())
        return work
    raise LockedError(f"cannot create a new backup directory under {root}")


def find_partial(root: Path, plan: dict[str, Any]) -> Path | None:
    text = json.dumps(plan, sort_keys=True)
    for d in sorted(root.glob(PARTIAL_PREFIX + "*")):
        plan_file = d / "plan.json"
        if d.is_dir() and plan_file.is_file():
            try:
                if plan_file.read_text(encoding="utf-8") == text:
                    return d
            except OSError:
                continue
    return None


def write_backup_manifest(
    work: Path,
    cfg: BackupConfig,
    source: str,
    server_version: str | None,
    entries: dict[str, CollectionEntry],
    slices: int,
    stamp: str,
) -> None:
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "tool": "qdrant-ops",
        "tool_version": __version__,
        "name": stamp,
        "created_at": _started_at(work),
        "completed_at": datetime.now(UTC).isoformat(),
        "complete": True,
        "source": {"url": source, "server_version": server_version},
        "options": {
            "compression": "zstd",
            "compression_level": cfg.compression_level,
            "batch_size": cfg.batch_size,
            "slices": slices,
            "rows_per_file": cfg.rows_per_file,
        },
        "collections": {name: e.to_json() for name, e in entries.items()},
    }
    parents = sorted({str(e.parent["backup"]) for e in entries.values() if e.parent})
    if parents:
        manifest["parent"] = ", ".join(parents)  # what `backups list` shows; per collection below
    for e in entries.values():
        for f in e.files:
            if (work / f.path).exists():  # a file already sent to an object store was checked before
                with_schema_check(work / f.path, e.fields)
    write_manifest(work, manifest)


def _started_at(work: Path) -> str:
    try:
        return (work / "started_at").read_text(encoding="utf-8").strip()
    except OSError:
        return datetime.now(UTC).isoformat()


def with_schema_check(path: Path, fields: list[VectorField]) -> None:
    import pyarrow.parquet as pq

    check_schema(pq.read_schema(path), fields, str(path))


def finish_backup(
    work: Path,
    root: Path,
    stamp: str,
    target: Location | None,
    report: BackupReport,
    sent: set[str],
) -> Path | str:
    """Put a finished work directory in place: renamed locally, or published to the object store."""
    if target is None:
        return _finalise(work, root, stamp)
    published = publish(work, target, sent)
    report.uploaded_files, report.reused_files = published.uploaded, published.reused
    if published.aborted:
        report.notes.append(f"aborted {published.aborted} multipart upload(s) an interrupted run left open")
    return published.url


def _finalise(work: Path, root: Path, stamp: str) -> Path:
    """Rename a finished partial directory into place, then drop its bookkeeping files.

    Renaming first means a run killed in between leaves either a partial directory that the
    rerun finds by its plan (and only renames), or a complete backup with stray state files.
    """
    final = root / stamp
    n = 1
    while final.exists():
        final = root / f"{stamp}-{n}"
        n += 1
    work.rename(final)
    fsync_dir(root)
    for leftover in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "plan.json", "started_at"):
        (final / leftover).unlink(missing_ok=True)
    return final
