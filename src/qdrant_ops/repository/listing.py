"""What a repository holds: each backup with its time, collections, points, bytes and state.

A backup is complete when its manifest is there (a directory, a ``.tar`` or an object-store
prefix); anything else under the repository that looks like a backup is listed as partial.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.archive import MANIFEST, PARTIAL_PREFIX
from qdrant_ops.errors import NotFoundError
from qdrant_ops.repository.location import Location, is_remote, local_path, open_location
from qdrant_ops.repository.store import delete_prefix, list_dirs, list_files, read_text


@dataclass
class BackupInfo:
    name: str
    location: str
    complete: bool
    time: datetime | None = None
    collections: list[str] = field(default_factory=list)
    points: int = 0
    bytes: int = 0
    parent: str | None = None
    # Incremental backups: the backups this one reads through (per collection, one each).
    parents: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "time": self.time.isoformat() if self.time else None,
            "collections": self.collections,
            "points": self.points,
            "bytes": self.bytes,
            "parent": self.parent,
            "state": "complete" if self.complete else "partial",
        }


def _from_manifest(info: BackupInfo, text: str | None) -> BackupInfo:
    if text is None:
        return info
    try:
        data = json.loads(text)
        cols = dict(data.get("collections") or {})
        info.collections = sorted(cols)
        info.points = sum(int(c.get("points_count", 0)) for c in cols.values())
        info.bytes = sum(
            int(f.get("bytes", 0))
            for c in cols.values()
            for f in [*c.get("files", []), *c.get("index_files", []), *([c["deleted"]] if c.get("deleted") else [])]
        )
        info.parent = data.get("parent") or None
        info.parents = sorted({str(c["parent"]["backup"]) for c in cols.values() if c.get("parent")})
        info.time = _parse_time(data.get("created_at")) or info.time
        info.complete = bool(data.get("complete"))
    except (ValueError, TypeError, AttributeError):
        info.complete = False  # an unreadable manifest never makes a backup complete
    return info


def _parse_time(value: Any) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _stamp_time(name: str) -> datetime | None:
    base = name.removeprefix(PARTIAL_PREFIX).removesuffix(".tar").split("-")[0]
    try:
        return datetime.strptime(base, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def list_backups(repository: str | Path) -> list[BackupInfo]:
    """Every backup under ``repository``, oldest first."""
    if is_remote(repository):
        return _list_remote(open_location(str(repository)))
    root = local_path(repository)
    if not root.is_dir():
        raise NotFoundError(f"backup repository not found: {root}")
    out: list[BackupInfo] = []
    for child in sorted(root.iterdir()):
        name = child.name
        if child.is_dir() and (child / MANIFEST).is_file() and not name.startswith(PARTIAL_PREFIX):
            info = BackupInfo(name, str(child), False, _stamp_time(name))
            out.append(_from_manifest(info, (child / MANIFEST).read_text(encoding="utf-8")))
        elif child.is_file() and name.endswith(".tar") and not name.startswith(PARTIAL_PREFIX):
            info = BackupInfo(name.removesuffix(".tar"), str(child), False, _stamp_time(name))
            out.append(_from_manifest(info, tar_manifest(child)))
        elif name.startswith(PARTIAL_PREFIX) and _stamp_time(name) is not None:
            size = sum(f.stat().st_size for f in child.rglob("*.parquet")) if child.is_dir() else 0
            out.append(BackupInfo(name, str(child), False, _stamp_time(name), bytes=size))
    return sorted(out, key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name))


def tar_manifest(path: Path) -> str | None:
    try:
        with tarfile.open(path) as tf:
            for m in tf.getmembers():
                if m.isfile() and m.name.count("/") == 1 and m.name.endswith("/" + MANIFEST):
                    fh = tf.extractfile(m)
                    return fh.read().decode("utf-8") if fh is not None else None
    except (tarfile.TarError, OSError, UnicodeDecodeError):
        return None
    return None


def _list_remote(loc: Location) -> list[BackupInfo]:
    out: list[BackupInfo] = []
    for name in list_dirs(loc):
        if _stamp_time(name) is None:
            continue
        child = loc.child(name)
        info = BackupInfo(name, child.display, False, _stamp_time(name))
        text = read_text(child, MANIFEST)
        if text is None:
            info.bytes = sum(list_files(child).values())
        out.append(_from_manifest(info, text))
    return sorted(out, key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name))


def remove_backup(info: BackupInfo) -> None:
    """Delete one backup, its manifest first: a deletion cut short leaves a partial, never a
    complete-looking backup with files missing."""
    if is_remote(info.location):
        loc = open_location(info.location)
        delete_prefix(loc, first=MANIFEST)
        return
    path = Path(info.location)
    if path.is_file():
        path.unlink()
        return
    (path / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(path)
