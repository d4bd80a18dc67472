"""Point-level incremental backups: per-point hash indexes, parents, and reading a chain.

An incremental backup of a collection stores, beside its data files:

- ``index-<slice>-<seq>.parquet``: every id of the collection at that time (``id_int`` /
  ``id_uuid`` as in the data files) and, for the points new or changed since the parent (all of
  them in a chain's first backup), ``hash``: the 16-byte xxh3-128 ``full`` hash that the
  collection digest sums; null means the parent's. The next backup rebuilds the whole index from
  the chain and knows what changed without reading any data (hashes are incompressible: storing
  only the changed ones keeps an unchanged point at about the size of its id);
- ``deleted.parquet``: the ids its parent held that the collection no longer has;
- data files holding only the points that are new or changed since the parent.

Its manifest names the parent (backup name + the parent's collection digest). A reader walks the
chain newest first: a link's rows are read unless a newer link wrote or deleted that id, so every
backup reads as the complete collection it was taken from.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from qdrant_ops.endpoints.archive import (
    MANIFEST,
    CollectionEntry,
    FileEntry,
    check_file,
    is_complete_backup,
    iter_batches,
    load_manifest,
)
from qdrant_ops.endpoints.base import VectorField
from qdrant_ops.errors import CorruptBackupError, IntegrityError
from qdrant_ops.format.columns import batch_ids
from qdrant_ops.format.integrity import MOD, Digest
from qdrant_ops.repository.links import Origin, bring_backup, bring_files, bring_parents

log = logging.getLogger(__name__)

PointKey = int | str
DELETED_FILE = "deleted.parquet"


def index_schema(with_hash: bool = True) -> Any:
    import pyarrow as pa

    cols = [pa.field("id_int", pa.uint64()), pa.field("id_uuid", pa.string())]
    if with_hash:
        cols.append(pa.field("hash", pa.binary(16)))
    return pa.schema(cols)


def write_ids(path: Path, id_int: Any, id_uuid: Any, hashes: Sequence[int | None] | None) -> None:
    """Write an index (``hashes`` given) or a deleted-ids file; Arrow id columns as the data's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [id_int, id_uuid]
    if hashes is not None:
        arrays.append(pa.array([None if h is None else h.to_bytes(16, "big") for h in hashes], pa.binary(16)))
    table = pa.Table.from_arrays(arrays, schema=index_schema(hashes is not None))
    pq.write_table(table, path, compression="zstd", use_dictionary=False)


def fast_ids(batch: Any) -> list[PointKey]:
    """``batch_ids``, all-int batches (the common case) through numpy in one call."""
    ints = batch.column("id_int")
    if ints.null_count == 0:
        ids: list[PointKey] = ints.to_numpy(zero_copy_only=False).tolist()
        return ids
    return batch_ids(batch)


def ids_file_arrays(ids: Sequence[PointKey]) -> tuple[Any, Any]:
    import pyarrow as pa

    return (
        pa.array([i if isinstance(i, int) else None for i in ids], pa.uint64()),
        pa.array([i if isinstance(i, str) else None for i in ids], pa.string()),
    )


def read_ids(path: Path) -> list[PointKey]:
    """The ids of a data, index or deleted-ids file (only the id columns are read)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=["id_int", "id_uuid"])
    except (OSError, ValueError, KeyError) as exc:
        raise CorruptBackupError(f"{path}: unreadable Parquet: {exc}", file=path) from None
    out: list[PointKey] = []
    for batch in table.to_batches():
        out.extend(fast_ids(batch))
    return out


def read_index(links: Sequence[Link]) -> dict[PointKey, int]:
    """The per-point hash index of ``links[0]`` (a chain from ``open_chain``), checked against
    that backup's digest. A link's index lists every id it saw, with a hash only where the point
    changed since its parent (null: the parent's hash), so it is rebuilt oldest link first."""
    import pyarrow.parquet as pq

    out: dict[PointKey, int] = {}
    for link in reversed(links):
        here: dict[PointKey, int] = {}
        for fe in link.entry.index_files or []:
            path = check_file(link.root, fe)
            try:
                table = pq.read_table(path)
                if table.schema != index_schema():
                    raise ValueError(f"columns {table.schema.names}, not a point index")
                for batch in table.to_batches():
                    ids, hashes = fast_ids(batch), _hash_ints(batch.column("hash"))
                    if batch.column("hash").null_count == 0:
                        here.update(zip(ids, cast("list[int]", hashes), strict=True))
                        continue
                    for pid, h in zip(ids, hashes, strict=True):
                        here[pid] = h if h is not None else out[pid]
            except KeyError as exc:
                raise CorruptBackupError(f"{path}: id {exc} unchanged, yet not in the parent's index", file=path) from None
            except (OSError, ValueError) as exc:
                raise CorruptBackupError(f"{path}: unreadable point index: {exc}", file=path) from None
        out = here
        entry = link.entry
        if len(out) != entry.digest.count or sum(out.values()) % MOD != entry.digest.full:
            raise CorruptBackupError(
                f"{link.root}: the point index of {entry.spec.name!r} does not add up to the backup's digest",
                file=link.root,
            )
    return out


def _hash_ints(col: Any) -> list[int | None]:
    """A ``binary(16)`` column as ints (None where null), through two big-endian u64 halves."""
    import numpy as np

    # A fixed-size column keeps 16 bytes for a null row too, so the halves line up either way.
    raw = np.frombuffer(col.buffers()[1], dtype=">u8", count=2 * (col.offset + len(col)))[2 * col.offset :]
    halves = raw.reshape(-1, 2)
    ints = [(hi << 64) | lo for hi, lo in zip(halves[:, 0].tolist(), halves[:, 1].tolist(), strict=True)]
    if not col.null_count:
        return list(ints)
    return [None if null else h for h, null in zip(ints, col.is_null().to_pylist(), strict=True)]


# -- finding a parent (backup) -------------------------------------------------------------


def _stamp_order(name: str) -> tuple[str, int]:
    """Backups by name, ``<stamp>-N`` (a second backup in the same second) after ``<stamp>``."""
    stamp, _, n = name.partition("-")
    return stamp, int(n) if n.isdigit() else 0


@dataclass
class Parent:
    name: str
    root: Path  # where it was read: for one brought from an origin, a scratch directory since removed
    entry: CollectionEntry
    index: dict[PointKey, int]

    def ref(self) -> dict[str, Any]:
        return {"backup": self.name, "digest": self.entry.digest.to_json()}


def find_parent(
    repository: Path,
    collection: str,
    fields: Sequence[VectorField],
    notes: list[str],
    *,
    origin: Origin | None = None,
    name: str | None = None,
) -> Parent | None:
    """The newest complete backup of ``collection`` in ``repository`` (or ``name`` itself, the
    parent a resumed backup started with), with its point index.

    ``origin``: the backups live elsewhere (an object store, ``.tar`` files); the parent's
    manifest and its chain's point indexes are brought into a scratch directory under
    ``repository`` to be read, and removed after. A newest backup made without an index (not
    incremental), or with other vectors, cannot be built on: None, and a note says the backup is
    full.
    """
    if origin is None:
        if not repository.is_dir():
            return None
        names = [c.name for c in repository.iterdir() if is_complete_backup(c)]
    else:
        names = origin.names()
    if name is not None:
        names = [name]
    for child in sorted(names, key=_stamp_order, reverse=True):
        scratch = None
        if origin is None:
            root = repository / child
            if name is not None and not is_complete_backup(root):
                raise CorruptBackupError(
                    f"the parent backup {name} this incremental backup started on is missing from {repository}; "
                    "remove the partial backup to start over", file=root,
                )
        else:
            scratch = repository / f".qdrant-ops-parent-{os.getpid()}-{secrets.token_hex(4)}"
            root = scratch / child
            if not bring_backup(origin, child, root):
                shutil.rmtree(scratch, ignore_errors=True)
                if name is not None:
                    raise CorruptBackupError(
                        f"the parent backup {name} this incremental backup started on is missing from "
                        f"{origin.display}; remove the partial backup to start over", file=origin.url(name, MANIFEST),
                    )
                continue
        try:
            found = _parent_in(root, child, collection, fields, notes, origin)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        if found is not False:
            return found
    return None


def _parent_in(
    root: Path, name: str, collection: str, fields: Sequence[VectorField], notes: list[str], origin: Origin | None
) -> Parent | None | Literal[False]:
    """The parent ``root`` makes for ``collection``; False when it does not hold the collection."""
    entry = load_manifest(root).collections.get(collection)
    if entry is None:
        return False
    if entry.index_files is None:
        notes.append(f"{collection}: the newest backup {name} has no point index; this one is full")
        return None
    if entry.fields != list(fields):  # its files could not be read with this backup's columns
        notes.append(f"{collection}: its vectors changed since the backup {name}; this one is full")
        return None
    if origin is not None:
        bring_files(origin, name, entry.index_files, root)
        bring_parents(root, origin, collections=[collection], index_only=True)
    # A broken chain is refused before anything is built on it.
    return Parent(name, root, entry, read_index(open_chain(root, entry)))


# -- reading a chain -----------------------------------------------------------------------------


@dataclass
class Link:
    root: Path
    entry: CollectionEntry


def open_chain(root: Path, entry: CollectionEntry) -> list[Link]:
    """``root``'s collection and its ancestors, newest first; a missing or changed parent is
    refused, naming it."""
    chain = [Link(root, entry)]
    seen = {root.name}
    while chain[-1].entry.parent is not None:
        ref = chain[-1].entry.parent
        name = str(ref["backup"])
        here = chain[-1].root
        where = here.parent / name
        what = f"{here.name} (collection {entry.spec.name!r}) needs its parent backup {name}"
        if name in seen:
            raise CorruptBackupError(f"{what}, which is already in its chain (a loop)", file=where)
        if not is_complete_backup(where):
            raise CorruptBackupError(f"{what}: missing from {here.parent}", file=where)
        try:
            parent = load_manifest(where).collections.get(entry.spec.name)
        except IntegrityError as exc:
            raise CorruptBackupError(f"{what}: {exc}", file=where) from None
        if parent is None:
            raise CorruptBackupError(f"{what}: it holds no such collection", file=where)
        if parent.digest != Digest.from_json(ref["digest"]):
            raise CorruptBackupError(f"{what}: its digest differs from the one recorded", file=where)
        chain.append(Link(where, parent))
        seen.add(name)
    return chain


@dataclass
class Unit:
    """One data file of a chain, and the ids newer links replaced or deleted (skipped on read)."""

    root: Path
    file: FileEntry
    drop: frozenset[PointKey]

    @property
    def key(self) -> str:
        return f"{self.root.name}/{self.file.path}"


def chain_units(links: Sequence[Link]) -> list[Unit]:
    """Every data file a reader of ``links[0]`` reads, with what to skip in each."""
    units: list[Unit] = []
    drop: set[PointKey] = set()
    for link in links:
        frozen = frozenset(drop)
        written: list[PointKey] = []
        for fe in link.entry.files:
            units.append(Unit(link.root, fe, frozen))
            if link is not links[-1]:
                written.extend(read_ids(check_file(link.root, fe)))
        if link.entry.deleted is not None:
            drop.update(read_ids(check_file(link.root, link.entry.deleted)))
        drop.update(written)
    return units


def keep_mask(batch: Any, drop: frozenset[PointKey]) -> Any | None:
    """A boolean mask of the rows of ``batch`` not in ``drop``; None when every row is kept."""
    if not drop:
        return None
    import pyarrow as pa

    mask = [pid not in drop for pid in fast_ids(batch)]
    return None if all(mask) else pa.array(mask, pa.bool_())


def unit_batches(unit: Unit, batch_size: int | None = None, *, checked: bool = False) -> Iterator[Any]:
    """The rows of ``unit`` a reader sees, batch by batch (the file checked first unless ``checked``)."""
    path = unit.root / unit.file.path if checked else check_file(unit.root, unit.file)
    for batch in iter_batches(path, batch_size):
        mask = keep_mask(batch, unit.drop)
        yield batch if mask is None else batch.filter(mask)


def reader_units(root: Path, entry: CollectionEntry) -> list[Unit]:
    """What a reader of ``root``'s collection reads: its own files, or its chain's."""
    if entry.parent is None:
        return [Unit(root, fe, frozenset()) for fe in entry.files]
    return chain_units(open_chain(root, entry))
