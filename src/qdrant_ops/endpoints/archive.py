"""A backup on disk: a directory (or one .tar of it) of Parquet files and ``manifest.json``.

This module knows the format: where files go, what the manifest holds, how a backup is found
(directory, .tar, or a root holding many), and how its files are checked. Every path the manifest
names must stay inside the backup directory; symlinks are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdrant_ops._fs import atomic_write_text, fsync_dir, fsync_file
from qdrant_ops.endpoints.base import CollectionSpec, VectorField
from qdrant_ops.errors import CorruptBackupError, NotFoundError
from qdrant_ops.format.integrity import Digest, sha256_file

log = logging.getLogger(__name__)

FORMAT_NAME = "qdrant-ops-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# The manifest's own sha256, in ``sha256sum`` format (``sha256sum -c manifest.json.sha256``), as
# Qdrant writes a checksum beside each snapshot: any change to the manifest is refused.
MANIFEST_SHA256 = "manifest.json.sha256"
OLDER_FORMAT_NOTE = "manifest not checksummed (older format)"
PARTIAL_PREFIX = ".partial-"
MAX_VECTOR_SIZE = 65536  # Qdrant's limit on a dense vector's dimension
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def collection_dirname(name: str) -> str:
    """A directory name for a collection: unsafe characters percent-encoded, never ``..``."""
    safe = _SAFE.sub(lambda m: "%" + "".join(f"{b:02X}" for b in m.group().encode()), name)
    return safe if safe not in (".", "..", "") else f"%{safe}"


@dataclass
class FileEntry:
    path: str
    rows: int
    bytes: int
    sha256: str
    digest: Digest | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }
        if self.digest is not None:
            out["digest"] = self.digest.to_json()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FileEntry:
        return cls(
            path=str(d["path"]),
            rows=int(d["rows"]),
            bytes=int(d["bytes"]),
            sha256=str(d["sha256"]),
            digest=Digest.from_json(d["digest"]) if d.get("digest") else None,
        )


@dataclass
class CollectionEntry:
    spec: CollectionSpec
    fields: list[VectorField]
    points_count: int
    digest: Digest
    files: list[FileEntry]
    slices: int = 1
    snapshots: list[dict[str, Any]] | None = None
    # A point-level incremental backup (repository/chain.py): the per-point hash index of the
    # whole collection, the ids deleted since the parent, and the parent (backup name + digest).
    index_files: list[FileEntry] | None = None
    deleted: FileEntry | None = None
    parent: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": self.spec.to_json(),
            "vector_fields": [
                {
                    "name": f.name,
                    "kind": f.kind,
                    "size": f.size,
                    "distance": f.distance,
                    "datatype": f.datatype,
                    "column": f.column,
                }
                for f in self.fields
            ],
            "points_count": self.points_count,
            "digest": self.digest.to_json(),
            "slices": self.slices,
            "files": [f.to_json() for f in self.files],
            "snapshots": self.snapshots or [],
        }
        if self.index_files is not None:
            out["index_files"] = [f.to_json() for f in self.index_files]
        if self.deleted is not None:
            out["deleted"] = self.deleted.to_json()
        if self.parent is not None:
            out["parent"] = self.parent
        return out

    def all_files(self) -> list[FileEntry]:
        """The files this backup itself holds for the collection: data, index, deleted ids."""
        return [*self.files, *(self.index_files or []), *([self.deleted] if self.deleted else [])]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CollectionEntry:
        spec = CollectionSpec.from_json(d["spec"])
        # Manifests written before fields carried their datatype: the spec's config says it.
        datatypes = {f.name: f.datatype for f in spec.vector_fields()}
        return cls(
            spec=spec,
            fields=[
                VectorField(
                    name=f["name"],
                    kind=f["kind"],
                    size=int(f["size"]),
                    distance=f["distance"],
                    datatype=str(f.get("datatype") or datatypes.get(f["name"], "float32")),
                )
                for f in d["vector_fields"]
            ],
            points_count=int(d["points_count"]),
            digest=Digest.from_json(d["digest"]),
            files=[FileEntry.from_json(f) for f in d["files"]],
            slices=int(d.get("slices", 1)),
            snapshots=_snapshot_list(d.get("snapshots")),
            index_files=[FileEntry.from_json(f) for f in d["index_files"]] if d.get("index_files") is not None else None,
            deleted=FileEntry.from_json(d["deleted"]) if d.get("deleted") else None,
            parent=_parent(d.get("parent")),
        )


def _parent(value: Any) -> dict[str, Any] | None:
    """The manifest's ``parent`` entry: ``{"backup": name, "digest": {...}}`` or None."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("backup"), str) or not value["backup"]:
        raise ValueError("'parent' must name a backup")
    Digest.from_json(value["digest"])
    return dict(value)


def _snapshot_list(value: Any) -> list[dict[str, Any]]:
    """The manifest's ``snapshots`` entry: a list of objects, or a ValueError (a corrupt manifest)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        raise ValueError("'snapshots' must be a list of objects")
    return list(value)


@dataclass
class Manifest:
    data: dict[str, Any]
    collections: dict[str, CollectionEntry]
    # False for a backup written before manifests had their sha256 beside them: it still reads.
    checksummed: bool = True

    @property
    def created_at(self) -> str:
        return str(self.data.get("created_at", ""))


def write_manifest(backup_dir: Path, data: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically, then its sha256 beside it (``MANIFEST_SHA256``)."""
    text = json.dumps({**data, "manifest_sha256_file": MANIFEST_SHA256}, indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(backup_dir / MANIFEST, text)
    write_manifest_checksum(backup_dir)


def write_manifest_checksum(backup_dir: Path) -> None:
    """Write the sha256 of the manifest as it is on disk now (a resumed backup whose run stopped
    between the two writes finishes here)."""
    digest = hashlib.sha256((backup_dir / MANIFEST).read_bytes()).hexdigest()
    atomic_write_text(backup_dir / MANIFEST_SHA256, f"{digest}  {MANIFEST}\n")


def _check_manifest_bytes(backup_dir: Path, raw: bytes) -> bool:
    """True when the manifest's sidecar checksum matches ``raw``; False when there is no sidecar
    (checked again once parsed: only an older manifest may lack it); refused when it differs."""
    path = backup_dir / MANIFEST
    sidecar = backup_dir / MANIFEST_SHA256
    if not sidecar.exists():
        return False
    if sidecar.is_symlink() or not sidecar.is_file():
        raise CorruptBackupError(f"{sidecar}: not a regular file", file=sidecar)
    try:
        words = sidecar.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptBackupError(f"{sidecar}: unreadable: {exc}", file=sidecar) from None
    if not words or not re.fullmatch(r"[0-9a-f]{64}", words[0]):
        raise CorruptBackupError(f"{sidecar}: not a sha256 checksum", file=sidecar)
    if hashlib.sha256(raw).hexdigest() != words[0]:
        raise CorruptBackupError(
            f"{path}: sha256 differs from {MANIFEST_SHA256}: the manifest was changed after it was "
            "written",
            file=path,
        )
    return True


def load_manifest(backup_dir: Path) -> Manifest:
    """Read and check the manifest; a missing, altered, partial or malformed one is refused.

    Its sha256 is checked first, against ``manifest.json.sha256``; a manifest from before that
    file existed still reads (``Manifest.checksummed`` is False)."""
    path = backup_dir / MANIFEST
    if backup_dir.name.startswith(PARTIAL_PREFIX):
        raise CorruptBackupError(
            f"{backup_dir} is an incomplete backup; rerun the backup to finish it", file=path
        )
    if not path.is_file():
        if (backup_dir / "state.sqlite").exists() or (backup_dir / "state.sqlite").exists():
            raise CorruptBackupError(
                f"{backup_dir} is an incomplete backup (no manifest); rerun the backup to finish it",
                file=path,
            )
        raise CorruptBackupError(f"{path}: manifest missing; this is not a complete backup", file=path)
    if path.is_symlink():
        raise CorruptBackupError(f"{path}: manifest is a symlink", file=path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorruptBackupError(f"{path}: manifest unreadable: {exc}", file=path) from None
    checksummed = _check_manifest_bytes(backup_dir, raw)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptBackupError(f"{path}: manifest unreadable: {exc}", file=path) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise CorruptBackupError(f"{path}: not a {FORMAT_NAME} manifest", file=path)
    if not checksummed and data.get("manifest_sha256_file"):
        raise CorruptBackupError(
            f"{backup_dir / MANIFEST_SHA256}: missing, and {MANIFEST} says it was written", file=path
        )
    if data.get("format_version") != FORMAT_VERSION:
        raise CorruptBackupError(
            f"{path}: format version {data.get('format_version')!r} is not supported "
            f"(this tool reads {FORMAT_VERSION})",
            file=path,
        )
    if not data.get("complete"):
        raise CorruptBackupError(f"{path}: the backup is marked incomplete", file=path)
    try:
        collections = {
            str(name): CollectionEntry.from_json(entry)
            for name, entry in dict(data["collections"]).items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptBackupError(f"{path}: manifest malformed ({type(exc).__name__}: {exc})", file=path) from None
    for entry in collections.values():
        _check_spec(path, entry)
        total = 0
        for f in entry.all_files():
            safe_member(backup_dir, f.path)
        for f in entry.files:
            total += f.rows
        # An incremental backup's files hold only what changed; its chain makes up the count.
        if entry.parent is None and total != entry.points_count:
            raise CorruptBackupError(
                f"{path}: collection {entry.spec.name!r} lists {total} rows in its files but "
                f"{entry.points_count} points",
                file=path,
            )
    return Manifest(data, collections, checksummed)


def _check_spec(path: Path, entry: CollectionEntry) -> None:
    """Refuse a manifest whose collection config could not recreate the collection."""
    from qdrant_ops.endpoints.qdrant_requests import payload_indexes, spec_to_create_kwargs

    if not all(isinstance(a, str) and a for a in entry.spec.aliases):
        raise CorruptBackupError(f"{path}: collection {entry.spec.name!r} has invalid aliases", file=path)
    try:
        spec_to_create_kwargs(entry.spec)
        payload_indexes(entry.spec)
        spec_fields = entry.spec.vector_fields()
        for f in entry.fields:
            if f.kind != "sparse" and not 1 <= f.size <= MAX_VECTOR_SIZE:
                raise ValueError(f"vector {f.name or '(default)'} has size {f.size}")
        if spec_fields != entry.fields:
            raise ValueError("its vector fields differ from its config")
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptBackupError(
            f"{path}: collection {entry.spec.name!r} has an invalid config ({first})", file=path
        ) from None


def safe_member(root: Path, rel: str) -> Path:
    """``root/rel``, refusing absolute paths, ``..`` and symlinks anywhere on the way."""
    if not rel or os.path.isabs(rel) or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        raise CorruptBackupError(f"manifest names a path outside the backup: {rel!r}", file=rel)
    parts = Path(rel).parts
    if any(p in ("..", "") for p in parts):
        raise CorruptBackupError(f"manifest names a path outside the backup: {rel!r}", file=rel)
    cur = root
    for p in parts:
        cur = cur / p
        if cur.is_symlink():
            raise CorruptBackupError(f"{cur}: symlinks are not allowed in a backup", file=str(cur))
    resolved = cur.resolve()
    if not str(resolved).startswith(str(root.resolve()) + os.sep):
        raise CorruptBackupError(f"manifest names a path outside the backup: {rel!r}", file=rel)
    return cur


def check_file(root: Path, entry: FileEntry) -> Path:
    """The file of ``entry``, after checking presence, size and sha256."""
    path = safe_member(root, entry.path)
    if not path.is_file():
        raise CorruptBackupError(f"{path}: data file missing", file=path)
    size = path.stat().st_size
    if size != entry.bytes:
        raise CorruptBackupError(
            f"{path}: size {size} differs from the manifest's {entry.bytes}", file=path
        )
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise CorruptBackupError(f"{path}: sha256 differs from the manifest", file=path)
    return path


def is_complete_backup(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file() and not path.name.startswith(PARTIAL_PREFIX)


def resolve_backup(location: str | Path, extract_to: Path | None = None) -> Path:
    """A backup directory from a directory, a ``.tar``, or a root (then its newest complete one).

    An object-store URL (s3://, gs://, az://) is read into a local cache, file by file (streamed);
    ``file://`` is a local path.
    """
    from qdrant_ops.repository.location import is_remote, local_path

    if is_remote(location):
        from qdrant_ops.repository.location import cache_dir, open_location
        from qdrant_ops.repository.store import fetch

        loc = open_location(str(location))
        return fetch(loc, extract_to or cache_dir("fetch", loc))
    p = local_path(location)
    if not p.exists():
        raise NotFoundError(f"backup not found: {p}")
    if p.is_file():
        if not tarfile.is_tarfile(p):
            # Usage, like a directory that holds no backup (exit 2): nothing here was ever a backup.
            raise NotFoundError(f"{p}: not a backup (a backup directory, a .tar of one, or their root)")
        return _with_parents(extract_tar(p, extract_to), p)
    if (p / MANIFEST).exists() or p.name.startswith(PARTIAL_PREFIX) or any(p.glob("*/part-*.parquet")):
        return p  # a backup directory (load_manifest refuses it if the manifest is missing)
    candidates = sorted(
        (c for c in p.iterdir() if is_complete_backup(c)), key=lambda c: c.name, reverse=True
    )
    if candidates:
        return candidates[0]
    tars = sorted((c for c in p.iterdir() if c.suffix == ".tar" and c.is_file()), reverse=True)
    if tars:
        return _with_parents(extract_tar(tars[0], extract_to), tars[0])
    partial = [c.name for c in p.iterdir() if c.name.startswith(PARTIAL_PREFIX)]
    hint = f" (incomplete: {', '.join(partial)})" if partial else ""
    raise NotFoundError(f"no complete backup in {p}{hint}")


def _with_parents(root: Path, tar_path: Path) -> Path:
    """An extracted incremental backup's parents, extracted beside it from the tars beside its own."""
    from qdrant_ops.repository.links import TarOrigin, bring_parents

    bring_parents(root, TarOrigin(tar_path.parent))
    return root


@contextmanager
def open_backup(location: str | Path) -> Iterator[tuple[Path, str]]:
    """``(directory, name to show)`` of a backup to read; a tar is extracted into a scratch
    directory beside it that is removed afterwards, so that reading leaves one copy. An object
    store's backup is read into a scratch directory of the local cache, removed the same way."""
    from qdrant_ops.repository.location import cache_dir, is_remote, open_location

    p = Path(location)
    scratch_name = f".qdrant-ops-read-{os.getpid()}-{secrets.token_hex(4)}"
    if is_remote(location):
        loc = open_location(str(location))
        scratch = cache_dir("fetch", loc) / scratch_name
        try:
            yield resolve_backup(location, extract_to=scratch), loc.display
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    scratch = (p.parent if p.is_file() else p) / scratch_name
    try:
        root = resolve_backup(location, extract_to=scratch)
        yield root, (str(p) if root.is_relative_to(scratch) else str(root))
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)


def extraction_of(root: Path) -> Path | None:
    """The directory ``extract_tar`` made for ``<name>.tar`` when ``root`` lies in one, else None."""
    parent = root.parent
    if parent.name.endswith(".tar.d") and (parent / ".extracted").is_file():
        return parent
    return None


def extract_tar(tar_path: Path, extract_to: Path | None = None) -> Path:
    """Extract a backup tar safely (no member may leave the target) and return its directory."""
    dest = extract_to or tar_path.with_name(tar_path.name + ".d")
    marker = dest / ".extracted"
    if marker.exists():
        return _single_child(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tar_path) as tf:
            for m in tf.getmembers():
                if m.issym() or m.islnk() or m.isdev():
                    raise CorruptBackupError(f"{tar_path}: member {m.name!r} is a link or device", file=tar_path)
                target = (dest / m.name).resolve()
                if not str(target).startswith(str(dest.resolve()) + os.sep):
                    raise CorruptBackupError(f"{tar_path}: member {m.name!r} escapes the target", file=tar_path)
            tf.extractall(dest, filter="data")
    except tarfile.TarError as exc:
        raise CorruptBackupError(f"{tar_path}: unreadable tar: {exc}", file=tar_path) from None
    child = _single_child(dest)
    marker.write_text(child.name)  # parents of an incremental backup may be extracted beside it
    return child


def _single_child(dest: Path) -> Path:
    marker = dest / ".extracted"
    name = marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
    if name and name != "ok" and (dest / name).is_dir():
        return dest / name
    dirs = [c for c in dest.iterdir() if c.is_dir()]
    if len(dirs) != 1:
        raise CorruptBackupError(f"{dest}: a backup tar must hold exactly one backup directory", file=dest)
    return dirs[0]


def iter_batches(path: Path, batch_size: int | None = None) -> Iterator[Any]:
    """Record batches of one Parquet data file, one row group at a time."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        for rg in range(pf.num_row_groups):
            table = pf.read_row_group(rg)
            yield from table.to_batches(max_chunksize=batch_size)
    except (OSError, ValueError) as exc:
        raise CorruptBackupError(f"{path}: unreadable Parquet: {exc}", file=path) from None


def write_tar(backup_dir: Path) -> Path:
    """Pack a finished backup directory into ``<dir>.tar`` (atomically) and remove the directory."""
    import shutil

    out = backup_dir.with_name(backup_dir.name + ".tar")
    tmp = backup_dir.with_name(f"{PARTIAL_PREFIX}{backup_dir.name}.tar")
    with tarfile.open(tmp, "w") as tf:
        tf.add(backup_dir, arcname=backup_dir.name)
    os.chmod(tmp, 0o600)
    fsync_file(tmp)  # the tar is on disk before the directory it replaces is removed
    tmp.replace(out)
    fsync_dir(out.parent)
    shutil.rmtree(backup_dir)
    return out
