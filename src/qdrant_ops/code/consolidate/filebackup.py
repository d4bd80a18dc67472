"""Backups outside git: a ``.tar.gz`` of every file a change touches, and restoring from it."""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from qdrant_ops.errors import CorruptBackupError, NotFoundError

log = logging.getLogger(__name__)

MANIFEST = ".qdrant-ops-backup.json"


def write_tar_backup(
    root: Path, paths: Iterable[str], backup_dir: Path, label: str = "consolidate", created: Iterable[str] = ()
) -> Path:
    """Archive ``paths`` (relative to ``root``) with their modes into ``backup_dir``; returns the file.
    ``created`` are files the change will create: restoring deletes them."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"{label}-{stamp}.tar.gz"
    files = sorted(set(paths))
    tmp = target.with_name(target.name + ".partial")
    with tarfile.open(tmp, "w:gz") as tar:
        for rel in files:
            full = root / rel
            if full.is_file():
                tar.add(full, arcname=rel, recursive=False)
        data = json.dumps({"root": str(root), "files": files, "created": stamp,
                           "new_files": sorted(set(created))}).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tmp.replace(target)
    log.info("backup of %d files at %s", len(files), target)
    return target


def restore_tar_backup(root: Path, archive: Path) -> list[str]:
    """Write every file of ``archive`` back under ``root``, byte for byte; returns them."""
    if not archive.is_file():
        raise NotFoundError(f"no backup file {archive}")
    restored: list[str] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            new_files: list[str] = []
            for member in tar.getmembers():
                if member.name == MANIFEST:
                    fh = tar.extractfile(member)
                    new_files = json.loads(fh.read()).get("new_files", []) if fh is not None else []
                    continue
                if not member.isfile():
                    continue
                dest = (root / member.name).resolve()
                if not dest.is_relative_to(root.resolve()):
                    raise CorruptBackupError(f"unsafe path {member.name!r} in backup", file=archive)
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(fh.read())
                dest.chmod(member.mode & 0o7777)
                restored.append(member.name)
            for rel in new_files:
                dest = (root / rel).resolve()
                if dest.is_relative_to(root.resolve()) and dest.is_file():
                    dest.unlink()
                    restored.append(rel)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise CorruptBackupError(f"cannot read backup: {exc}", file=archive) from None
    return restored
