"""Incremental backups: the parent a collection's backup builds on, and the ids deleted since."""

from __future__ import annotations

from pathlib import Path

from qdrant_ops._fs import fsync_dir
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.archive import (
    FileEntry,
)
from qdrant_ops.endpoints.base import VectorField
from qdrant_ops.errors import PlanChangedError
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.repository.chain import (
    DELETED_FILE,
    Parent,
    PointKey,
    find_parent,
    ids_file_arrays,
    read_ids,
    write_ids,
)
from qdrant_ops.repository.links import Origin


def parent_for(
    cfg: BackupConfig,
    name: str,
    fields: list[VectorField],
    repository: Path,
    state: Checkpoint,
    notes: list[str],
    origin: Origin | None = None,
) -> Parent | None:
    """The parent of an incremental backup of ``name``; a resumed run keeps the one it started
    with, even when a newer backup appeared meanwhile. ``origin``: where the repository's backups
    are read from when they are not directories of ``repository`` (an object store, tars)."""
    if not cfg.incremental:
        return None
    saved = state.get_meta(f"parent:{name}")
    if saved == "":
        return None  # the run that started this backup found no parent: it stays full
    parent = find_parent(repository, name, fields, notes, origin=origin, name=saved)
    chosen = parent.name if parent is not None else ""
    if saved is None:
        state.set_meta(f"parent:{name}", chosen)
    elif saved != chosen:
        raise PlanChangedError(
            f"the parent backup of {name!r} changed since this incremental backup started "
            f"({saved or 'none'} -> {chosen or 'none'}); remove the partial backup to start over"
        )
    if parent is not None:
        notes.append(f"{name}: incremental on {parent.name}")
    return parent


def write_deleted(cdir: Path, index_files: list[FileEntry], work: Path, parent_index: dict[PointKey, int]) -> FileEntry:
    """Write the ids the parent held that this backup's index does not, and return its entry."""
    from qdrant_ops.format.integrity import sha256_file

    gone = set(parent_index)
    for fe in index_files:
        gone.difference_update(read_ids(work / fe.path))
    path = cdir / DELETED_FILE
    write_ids(path, *ids_file_arrays(sorted(gone, key=str)), None)
    fsync_dir(cdir)
    return FileEntry(path=f"{cdir.name}/{DELETED_FILE}", rows=len(gone), bytes=path.stat().st_size, sha256=sha256_file(path))
