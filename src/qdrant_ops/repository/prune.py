"""``qdrant-ops prune``: remove what no complete backup in a repository references.

Under the repository lock that ``backup`` and ``forget`` take (a running backup holds it from its
first file to its last check, so anything half-made found here is abandoned):

- partial backups: ``.partial-<stamp>`` directories and ``.partial-<stamp>.tar`` files, a backup
  directory or object-store prefix without a manifest, and, for an object store, the local staging
  directories of its interrupted runs. A rerun of such a backup starts afresh;
- files inside a complete backup that its manifest does not list (bookkeeping an interrupted
  finish left behind);
- on S3, multipart uploads left open under the repository's prefix.

A complete backup itself, and every file its manifest lists, is never touched, so a parent an
incremental backup reads through stays. A backup whose manifest cannot be read is left alone and
named: prune cannot know which of its files matter. Anything else in the repository directory
(the lock, ``locks/``, a reader's scratch directory) is not a backup and is not looked at.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import Field

from qdrant_ops.endpoints.archive import MANIFEST, MANIFEST_SHA256, PARTIAL_PREFIX, load_manifest
from qdrant_ops.errors import CorruptBackupError, NotFoundError
from qdrant_ops.reports import Report, human_bytes, md_table
from qdrant_ops.repository.listing import tar_manifest
from qdrant_ops.repository.location import (
    Location,
    cache_dir,
    is_remote,
    local_path,
    open_location,
)
from qdrant_ops.repository.lock import RepositoryHold
from qdrant_ops.repository.store import (
    abort_uploads,
    delete_prefix,
    list_dirs,
    list_files,
    manifest_files,
    open_uploads,
    read_text,
    storage_call,
)

PARTIAL = "partial backup"
UNLISTED = "unlisted file"
UPLOAD = "open upload"
NOT_RESUMABLE = "no manifest: an interrupted backup; a rerun starts afresh, it can no longer be resumed"


@dataclass
class Garbage:
    """One thing prune removes: what it is, where, its bytes and why it goes."""

    kind: str
    location: str
    bytes: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location, "bytes": self.bytes, "reason": self.reason}


@dataclass
class _Found:
    items: list[Garbage]
    left_alone: list[dict[str, str]]
    remove: list[Callable[[], object]]  # one per item, in the same order


def size(n: int) -> str:
    """``12,345 B (12.3 kB)``: the exact count, and past a kilobyte its human size."""
    return f"{n:,} B" + (f" ({human_bytes(n)})" if n >= 1000 else "")


class PruneResult(Report):
    """What prune removed (or, on a dry run, would remove); also carried inside forget's report."""

    verb: str = "prune"
    repository: str = ""
    dry_run: bool = False
    removed: list[dict[str, Any]] = Field(default_factory=list)
    left_alone: list[dict[str, str]] = Field(default_factory=list)
    removed_count: int = 0
    removed_bytes: int = 0
    by_kind: dict[str, dict[str, int]] = Field(default_factory=dict)

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{verb} {g['kind']} {g['location']}, {size(g['bytes'])}: {g['reason']}" for g in self.removed]
        out += [f"left alone {x['location']}: {x['reason']}" for x in self.left_alone]
        kinds = "; ".join(f"{k}: {v['count']}, {size(v['bytes'])}" for k, v in self.by_kind.items())
        out.append(f"prune: {self.removed_count} item(s), {size(self.removed_bytes)} "
                   + ("would be removed" if self.dry_run else "removed") + (f" ({kinds})" if kinds else ""))
        return out

    def summary_lines(self) -> list[str]:
        return [*super().summary_lines(), *self.lines()]

    def markdown_rows(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        rows = [[verb, g["kind"], g["location"], size(g["bytes"]), g["reason"]] for g in self.removed]
        rows += [["left alone", "", x["location"], "", x["reason"]] for x in self.left_alone]
        rows.append([f"total {verb}", f"{self.removed_count} item(s)", "", size(self.removed_bytes), ""])
        return [md_table(["action", "what", "location", "bytes", "reason"], rows)]

    def markdown_sections(self) -> list[str]:
        return ["", f"Repository: `{self.repository}` · dry run: {self.dry_run}", "", *self.markdown_rows()]


def require_repository(repository: str | Path) -> str:
    """The repository's name to show; a local one must exist (taking its lock would create it)."""
    if is_remote(repository):
        return open_location(str(repository)).display
    if not local_path(repository).is_dir():
        raise NotFoundError(f"backup repository not found: {local_path(repository)}")
    return str(repository)


def prune(repository: str | Path, *, dry_run: bool = False) -> PruneResult:
    """Remove everything in ``repository`` that no complete backup references (not on a dry run)."""
    shown = require_repository(repository)
    with RepositoryHold(repository, "prune", f"backup repository {shown}") as hold:
        result = prune_locked(repository, dry_run=dry_run)
        result.notes.extend(hold.notes)
    result.finish("dry-run" if dry_run else None)
    return result


def prune_locked(repository: str | Path, *, dry_run: bool = False, skip: frozenset[str] = frozenset()) -> PruneResult:
    """``prune`` for a caller that already holds the repository lock (``forget --prune``);
    ``skip``: backups the caller is removing anyway."""
    found = _find_remote(repository, skip) if is_remote(repository) else _find_local(local_path(repository), skip)
    result = PruneResult(repository=open_location(str(repository)).display if is_remote(repository) else str(repository),
                         dry_run=dry_run, left_alone=found.left_alone)
    for item, remove in zip(found.items, found.remove, strict=True):
        if not dry_run:
            remove()
        result.removed.append(item.to_json())
        kind = result.by_kind.setdefault(item.kind, {"count": 0, "bytes": 0})
        kind["count"] += 1
        kind["bytes"] += item.bytes
    result.removed_count = len(found.items)
    result.removed_bytes = sum(g.bytes for g in found.items)
    return result


# -- local directory -----------------------------------------------------------------------------


def _stamp(name: str) -> str | None:
    """The UTC stamp a backup's name starts with (``<stamp>`` or ``<stamp>-N``), else None."""
    base = name.split("-")[0]
    try:
        datetime.strptime(base, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
    rest = name[len(base):]
    return base if not rest or (rest[0] == "-" and rest[1:].isdigit()) else None


def _tree_bytes(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for dirpath, _, files in os.walk(path):
        total += sum((Path(dirpath) / f).lstat().st_size for f in files)
    return total


def _rmtree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _find_local(root: Path, skip: frozenset[str]) -> _Found:
    if not root.is_dir():
        raise NotFoundError(f"backup repository not found: {root}")
    found = _Found([], [], [])
    for child in sorted(root.iterdir()):
        name = child.name
        if name.startswith(PARTIAL_PREFIX) and _stamp(name.removeprefix(PARTIAL_PREFIX).removesuffix(".tar")):
            why = ("a .tar being packed when its backup stopped; the backup directory beside it is whole"
                   if name.endswith(".tar") and child.is_file() else NOT_RESUMABLE)
            _add(found, Garbage(PARTIAL, str(child), _tree_bytes(child), why), partial(_rmtree, child))
        elif _stamp(name.removesuffix(".tar")) and name.endswith(".tar") and child.is_file():
            if tar_manifest(child) is None:  # a packed backup prune cannot read: never guessed at
                found.left_alone.append({"location": str(child), "reason": "a .tar whose manifest cannot be read; not touched"})
        elif _stamp(name) and child.is_dir() and not child.is_symlink() and name not in skip:
            if not (child / MANIFEST).is_file():
                _add(found, Garbage(PARTIAL, str(child), _tree_bytes(child), "a backup directory without a manifest: "
                                    "never completed or half removed; not restorable"), partial(_rmtree, child))
                continue
            try:
                listed = _listed(load_manifest(child).data)
            except CorruptBackupError as exc:
                found.left_alone.append({"location": str(child), "reason": f"manifest unreadable, so its files "
                                         f"cannot be told apart ({exc}); not touched"})
                continue
            _unlisted_local(found, child, listed)
    return found


def _listed(manifest: dict[str, Any]) -> set[str]:
    return {MANIFEST, MANIFEST_SHA256, *manifest_files(manifest)}


def _unlisted_local(found: _Found, backup: Path, listed: set[str]) -> None:
    """Files under a complete backup that its manifest does not list; a directory that holds
    none of the listed files goes whole."""
    keep_dirs = {Path(*Path(rel).parts[:n]).as_posix() for rel in listed for n in range(1, len(Path(rel).parts))}
    for dirpath, dirnames, files in os.walk(backup):
        here = Path(dirpath)
        for d in sorted(dirnames):
            path = here / d
            if path.relative_to(backup).as_posix() not in keep_dirs:
                _add(found, Garbage(UNLISTED, f"{path}/", _tree_bytes(path),
                                    "a directory holding nothing its backup's manifest lists"),
                     partial(_rmtree, path))
        dirnames[:] = [d for d in dirnames if (here / d).relative_to(backup).as_posix() in keep_dirs]
        for f in sorted(files):
            path = here / f
            if path.relative_to(backup).as_posix() not in listed:
                _add(found, Garbage(UNLISTED, str(path), path.lstat().st_size,
                                    "not in its backup's manifest: left by an interrupted run"),
                     partial(path.unlink, missing_ok=True))


def _add(found: _Found, item: Garbage, remove: Callable[[], object]) -> None:
    found.items.append(item)
    found.remove.append(remove)


# -- object store --------------------------------------------------------------------------------


def _find_remote(repository: str | Path, skip: frozenset[str]) -> _Found:
    loc = open_location(str(repository))
    found = _Found([], [], [])
    for name in list_dirs(loc):
        if not _stamp(name) or name in skip:
            continue
        child = loc.child(name)
        files = list_files(child)
        if MANIFEST not in files:
            _add(found, Garbage(PARTIAL, child.display, sum(files.values()), NOT_RESUMABLE),
                 partial(delete_prefix, child))
            continue
        listed = _remote_listed(child)
        if isinstance(listed, str):
            found.left_alone.append({"location": child.display, "reason": listed})
            continue
        for rel in sorted(set(files) - listed):
            _add(found, Garbage(UNLISTED, child.url(rel), files[rel], "not in its backup's manifest: left by an interrupted run"),
                 partial(_delete_object, child, rel))
    uploads = open_uploads(loc, sizes=True)
    for up in uploads:
        bucket = loc.root.partition("/")[0]
        _add(found, Garbage(UPLOAD, f"{loc.scheme}://{bucket}/{up.key}", up.bytes,
                            f"a multipart upload an interrupted run left open (started {up.initiated or 'unknown'})"),
             partial(abort_uploads, loc, [up]))
    staging = cache_dir("staging", loc)
    for work in sorted(staging.glob(PARTIAL_PREFIX + "*")):
        if work.is_dir() and _stamp(work.name.removeprefix(PARTIAL_PREFIX)):
            _add(found, Garbage(PARTIAL, str(work), _tree_bytes(work), "this machine's staging directory of an "
                                f"interrupted backup to {loc.display}; it can no longer be resumed"),
                 partial(_rmtree, work))
    return found


def _remote_listed(child: Location) -> set[str] | str:
    """The files a backup's manifest lists, or why it cannot be read."""
    text = read_text(child, MANIFEST) or ""
    sidecar = read_text(child, MANIFEST_SHA256)
    if sidecar is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() != (sidecar.split() or [""])[0]:
        return f"{MANIFEST} differs from {MANIFEST_SHA256}, so its files cannot be told apart; not touched"
    try:
        data = json.loads(text)
        return _listed(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return f"manifest unreadable ({type(exc).__name__}), so its files cannot be told apart; not touched"


def _delete_object(loc: Location, rel: str) -> None:
    def run() -> None:
        try:
            loc.fs.delete_file(loc.key(rel))
        except FileNotFoundError:
            pass

    storage_call(run, f"delete {loc.url(rel)}")
