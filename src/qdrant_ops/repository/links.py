"""An incremental backup's parents, brought beside it from where they live.

``chain.py`` reads a chain from local directories: a backup's parent is ``<backup>/../<parent>``.
A backup read from an object store or from a ``.tar`` is first put in a local directory (fetched
or extracted); its parents are then brought beside it the same way, from the repository it came
from: downloaded from the store's ``<repository>/<parent>/``, or extracted from the
``<repository>/<parent>.tar`` beside the archive. Only the files of the collections on the chain
are brought (for a backup being built, only their point indexes), each streamed to disk and
checked against its manifest on arrival, so a missing or altered object is named where it lives.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from qdrant_ops.endpoints.archive import (
    MANIFEST,
    MANIFEST_SHA256,
    PARTIAL_PREFIX,
    CollectionEntry,
    FileEntry,
    load_manifest,
    safe_member,
)
from qdrant_ops.errors import CorruptBackupError, IntegrityError
from qdrant_ops.format.integrity import sha256_file
from qdrant_ops.repository.location import Location


class Origin(Protocol):
    """A repository whose backups are read by name into local directories."""

    display: str

    def names(self) -> list[str]:
        """The backups it may hold (a name without a manifest is not a complete backup)."""
        ...

    def manifest(self, name: str) -> tuple[bytes, bytes | None] | None:
        """The manifest of ``name`` and its sha256 sidecar; None when there is no such backup."""
        ...

    def bring(self, name: str, files: Sequence[FileEntry], dest: Path) -> None:
        """Stream ``files`` of backup ``name`` into the directory ``dest``, as their paths say."""
        ...

    def url(self, name: str, rel: str) -> str:
        """Where a file of a backup lives, to name it."""
        ...


class StoreOrigin:
    """Backups under an object-store prefix: ``<prefix>/<name>/...``."""

    def __init__(self, loc: Location) -> None:
        self.loc = loc
        self.display = loc.display

    def names(self) -> list[str]:
        from qdrant_ops.repository.store import list_dirs

        return list_dirs(self.loc)

    def manifest(self, name: str) -> tuple[bytes, bytes | None] | None:
        from qdrant_ops.repository.store import read_text

        text = read_text(self.loc.child(name), MANIFEST)
        if text is None:
            return None
        sidecar = read_text(self.loc.child(name), MANIFEST_SHA256)
        return text.encode("utf-8"), sidecar.encode("utf-8") if sidecar is not None else None

    def bring(self, name: str, files: Sequence[FileEntry], dest: Path) -> None:
        from qdrant_ops.repository.store import download

        for fe in files:
            local = safe_member(dest, fe.path)
            local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            download(self.loc.child(name), fe.path, local)

    def url(self, name: str, rel: str) -> str:
        return self.loc.url(name, rel)


class TarOrigin:
    """Backups packed as ``<dir>/<name>.tar``, each holding ``<name>/...``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.display = str(root)

    def names(self) -> list[str]:
        return [
            p.name.removesuffix(".tar")
            for p in self.root.glob("*.tar")
            if p.is_file() and not p.name.startswith(PARTIAL_PREFIX)
        ]

    def _open(self, name: str) -> tarfile.TarFile | None:
        path = self.root / f"{name}.tar"
        if not path.is_file():
            return None
        try:
            return tarfile.open(path)
        except (tarfile.TarError, OSError) as exc:
            raise CorruptBackupError(f"{path}: unreadable tar: {exc}", file=path) from None

    def _member(self, tf: tarfile.TarFile, name: str, rel: str) -> bytes | None:
        try:
            m = tf.getmember(f"{name}/{rel}")
        except KeyError:
            return None
        fh = tf.extractfile(m) if m.isfile() else None
        return fh.read() if fh is not None else None

    def manifest(self, name: str) -> tuple[bytes, bytes | None] | None:
        tf = self._open(name)
        if tf is None:
            return None
        try:
            text = self._member(tf, name, MANIFEST)  # a few kB: read whole
            return (text, self._member(tf, name, MANIFEST_SHA256)) if text is not None else None
        except (tarfile.TarError, OSError) as exc:
            raise CorruptBackupError(f"{self.root / name}.tar: unreadable tar: {exc}", file=self.root) from None
        finally:
            tf.close()

    def bring(self, name: str, files: Sequence[FileEntry], dest: Path) -> None:
        tf = self._open(name)
        if tf is None:
            raise CorruptBackupError(f"{self.root / name}.tar: missing", file=self.root / f"{name}.tar")
        try:
            for fe in files:
                local = safe_member(dest, fe.path)
                local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                try:
                    m = tf.getmember(f"{name}/{fe.path}")
                except KeyError:
                    raise CorruptBackupError(
                        f"{self.url(name, fe.path)}: file missing from the backup", file=self.url(name, fe.path)
                    ) from None
                src = tf.extractfile(m) if m.isfile() else None  # links and devices are never read
                if src is None:
                    raise CorruptBackupError(f"{self.url(name, fe.path)}: not a regular file", file=self.url(name, fe.path))
                with src, open(local, "wb") as out:
                    shutil.copyfileobj(src, out, 8 << 20)
        except (tarfile.TarError, OSError) as exc:
            raise CorruptBackupError(f"{self.root / name}.tar: unreadable tar: {exc}", file=self.root) from None
        finally:
            tf.close()

    def url(self, name: str, rel: str) -> str:
        return f"{self.root / name}.tar:{name}/{rel}"


def bring_backup(origin: Origin, name: str, dest: Path) -> bool:
    """Write backup ``name``'s manifest (and sidecar) into ``dest``; False when it has none."""
    texts = origin.manifest(name)
    if texts is None:
        return False
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    (dest / MANIFEST).write_bytes(texts[0])
    if texts[1] is not None:
        (dest / MANIFEST_SHA256).write_bytes(texts[1])
    else:
        (dest / MANIFEST_SHA256).unlink(missing_ok=True)
    return True


def bring_files(origin: Origin, name: str, files: Sequence[FileEntry], dest: Path) -> list[Path]:
    """Bring ``files`` of backup ``name`` into ``dest``, each checked on arrival; their paths."""
    origin.bring(name, files, dest)
    out = []
    for fe in files:
        local = dest / fe.path
        where = origin.url(name, fe.path)
        size = local.stat().st_size
        if size != fe.bytes:
            raise CorruptBackupError(f"{where}: size {size} differs from the manifest's {fe.bytes}", file=where)
        if sha256_file(local) != fe.sha256:
            raise CorruptBackupError(f"{where}: sha256 differs from the manifest", file=where)
        out.append(local)
    return out


def needed(entry: CollectionEntry, index_only: bool) -> list[FileEntry]:
    """A link's files a reader needs: its point indexes (to build on it), or every file."""
    return list(entry.index_files or []) if index_only else entry.all_files()


def bring_parents(
    root: Path,
    origin: Origin,
    *,
    collections: Sequence[str] | None = None,
    index_only: bool = False,
    manifests_only: bool = False,
) -> list[Path]:
    """Bring the chain of each incremental collection of the backup in ``root`` beside it, from
    ``origin``: the parents' manifests and the files a reader needs (none with
    ``manifests_only``); returns the files brought. A parent that is not in ``origin`` is
    refused, naming it; a parent whose manifest does not load is left for ``chain.open_chain``
    to refuse."""
    out: list[Path] = []
    try:
        manifest = load_manifest(root)
    except IntegrityError:
        return out  # the reader refuses it, naming what is wrong
    brought: set[str] = set()
    for cname, entry in manifest.collections.items():
        if collections is not None and cname not in collections:
            continue
        here, seen = root, {root.name}
        while entry.parent is not None:
            pname = str(entry.parent["backup"])
            if pname in seen:
                break  # a loop: open_chain names it
            seen.add(pname)
            dest = root.parent / pname
            if pname not in brought:
                if not bring_backup(origin, pname, dest):
                    raise CorruptBackupError(
                        f"{here.name} (collection {cname!r}) needs its parent backup {pname}: "
                        f"missing from {origin.display}",
                        file=origin.url(pname, MANIFEST),
                    )
                brought.add(pname)
            try:
                parent = load_manifest(dest).collections.get(cname)
            except IntegrityError:
                break
            if parent is None:
                break
            if not manifests_only:
                out.extend(bring_files(origin, pname, needed(parent, index_only), dest))
            here, entry = dest, parent
    return out
