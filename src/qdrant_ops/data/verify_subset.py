"""``verify BACKUP --read-data-subset SPEC``: read a sample of a backup's files in full, as
restic's ``check --read-data-subset`` does for packs.

Every file the manifest lists (Parquet data, point indexes, deleted ids, native snapshots) is
checked for presence and size, and the manifest against its sha256; only the sampled files are
read: sha256, and for a data file its rows and content digest. The collection digests need every
row, so they are not recomputed: the report says so (an inconclusive ``digest`` check), and the
exit code 0 means nothing wrong was found in what was read, never a full verification.

The files sampled are those a full verify reads: for an incremental backup, its own and those of
every parent it reads through, each named ``<backup>/<path>``. ``n/t`` keeps a file when a hash
of that name falls in part n of t, so ``1/t`` .. ``t/t`` together read every file exactly once,
and a parent's file lands in the same part whichever child is verified.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.archive import (
    CollectionEntry,
    FileEntry,
    check_file,
    load_manifest,
    safe_member,
)
from qdrant_ops.errors import CorruptBackupError, UsageError
from qdrant_ops.progress import ProgressSink
from qdrant_ops.repository.chain import Link, open_chain

USAGE = "--read-data-subset wants n/t (1 <= n <= t, e.g. 2/5), x% (0 < x <= 100, e.g. 10%) or N files (e.g. 20)"
_PART = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")
_COUNT = re.compile(r"\s*(\d+)\s*")


@dataclass(frozen=True)
class Subset:
    """A parsed ``--read-data-subset``: part ``n`` of ``t``, ``percent`` % or ``count`` files."""

    spec: str
    n: int = 0
    t: int = 0
    percent: float = 0.0
    count: int = 0

    def choose(self, keys: Sequence[str], rng: random.Random | None = None) -> set[str]:
        """The keys to read in full: a stable part of them, or a random sample (at least one)."""
        if self.t:
            return {k for k in keys if part_of(k, self.t) == self.n}
        if not keys:
            return set()
        # Decimal: 0.1% of 3000 files is 3, where float arithmetic rounds up to 4.
        want = self.count if self.count else math.ceil(Decimal(str(self.percent)) * len(keys) / 100)
        return set((rng or random.SystemRandom()).sample(sorted(keys), min(len(keys), max(1, want))))


def part_of(key: str, t: int) -> int:
    """Which of ``t`` parts (1..t) ``key`` belongs to: a stable hash of the name, not of the run."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % t + 1


def parse_subset(spec: str) -> Subset:
    """``"2/5"``, ``"10%"`` or ``"20"``; anything else is a UsageError (exit 2) with the forms."""
    if m := _PART.fullmatch(spec):
        n, t = int(m.group(1)), int(m.group(2))
        if 1 <= n <= t:
            return Subset(spec.strip(), n=n, t=t)
    elif m := _PERCENT.fullmatch(spec):
        pct = float(m.group(1))
        if 0 < pct <= 100:
            return Subset(spec.strip(), percent=pct)
    elif (m := _COUNT.fullmatch(spec)) and int(m.group(1)) >= 1:
        return Subset(spec.strip(), count=int(m.group(1)))
    raise UsageError(f"{USAGE}; got {spec!r}")


@dataclass
class Item:
    """One file of the sample's domain."""

    key: str  # <backup>/<path>: what the partition hashes
    root: Path
    rel: str
    bytes: int
    file: FileEntry | None = None  # None: a native snapshot (``snapshot``)
    entry: CollectionEntry | None = None  # set for a data file (rows and content digest read too)
    snapshot: dict[str, Any] | None = None


def domain(root: Path, entry: CollectionEntry) -> list[Item]:
    """Every file a full verify of ``root``'s collection reads: its chain's data, index and
    deleted-ids files, and its own native snapshots."""
    links = open_chain(root, entry) if entry.parent is not None else [Link(root, entry)]
    out: list[Item] = []
    for link in links:
        data = {id(f) for f in link.entry.files}
        for fe in link.entry.all_files():
            out.append(Item(f"{link.root.name}/{fe.path}", link.root, fe.path, fe.bytes, file=fe,
                            entry=link.entry if id(fe) in data else None))
    for snap in entry.snapshots or []:
        rel = snap.get("path")
        if isinstance(rel, str) and rel:
            size = snap.get("bytes")
            out.append(Item(f"{root.name}/{rel}", root, rel, size if isinstance(size, int) else -1, snapshot=snap))
    return out


def local_size(root: Path, rel: str) -> int | None:
    """The size of ``root``/``rel``, or None when it is missing (or not a regular file)."""
    path = safe_member(root, rel)
    return path.stat().st_size if path.is_file() else None


def check_sampled(item: Item, digest_file: Callable[[Path, CollectionEntry], Any]) -> None:
    """Read one sampled file in full: sha256, and for a data file its rows and content digest."""
    if item.snapshot is not None:
        from qdrant_ops.snapshot.verify import check_snapshot

        check_snapshot(item.root, item.snapshot)
        return
    if item.file is None:
        return
    path = check_file(item.root, item.file)
    if item.entry is not None:
        whole = digest_file(path, item.entry)
        if whole.count != item.file.rows:
            raise CorruptBackupError(f"{path}: {whole.count} rows, manifest says {item.file.rows}", file=path)
        if item.file.digest is not None and whole != item.file.digest:
            raise CorruptBackupError(f"{path}: content digest differs from the manifest", file=path)


def check_present(item: Item, size: int | None) -> str | None:
    """The problem with a file not read in full (missing, or another size), or None."""
    where = item.root / item.rel
    if size is None:
        return f"{where}: file missing"
    if item.bytes >= 0 and size != item.bytes:
        return f"{where}: size {size} differs from the manifest's {item.bytes}"
    return None


def remote_backup(location: str, scratch: Path) -> tuple[Path, str, Callable[[Path, str], int | None], Callable[[Path, str], None]]:
    """An object-store backup for a subset read: its manifest (and checksum) fetched into
    ``scratch``, with its parents' manifests beside it for an incremental backup; the sizes the
    store lists, and a function that fetches one file (of any link) when sampled."""
    from qdrant_ops.repository.links import StoreOrigin, bring_backup, bring_parents
    from qdrant_ops.repository.location import open_location
    from qdrant_ops.repository.store import download, find_backup, list_files

    backup = find_backup(open_location(location))
    name = backup.root.rsplit("/", 1)[-1] or "backup"
    repo = backup.parent()
    origin = StoreOrigin(repo)
    dest = scratch / name
    bring_backup(origin, name, dest)
    load_manifest(dest)  # refused here when missing or changed, before anything is listed
    # The chain's manifests only: which files are sampled is known once every link is read.
    try:
        bring_parents(dest, origin, manifests_only=True)
    except CorruptBackupError:
        pass  # a parent missing from the store: open_chain names it, as a failed check
    sizes: dict[str, dict[str, int]] = {}

    def size(root: Path, rel: str) -> int | None:
        if root.name not in sizes:
            sizes[root.name] = list_files(repo.child(root.name))
        return sizes[root.name].get(rel)

    def fetch_one(root: Path, rel: str) -> None:
        if size(root, rel) is not None:
            local = safe_member(root, rel)
            local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            download(repo.child(root.name), rel, local)

    return dest, backup.display, size, fetch_one


def run_subset(
    root: Path,
    entries: dict[str, CollectionEntry],
    subset: Subset,
    progress: ProgressSink,
    digest_file: Callable[[Path, CollectionEntry], Any],
    size_of: Callable[[Path, str], int | None] = local_size,
    fetch_one: Callable[[Path, str], None] | None = None,
) -> tuple[dict[str, list[str]], dict[str, tuple[int, int]]]:
    """Check every file of ``entries`` for presence and size and read the sampled ones in full.

    Returns per collection the problems found and ``(files read in full, files in all)``.
    """
    items: dict[str, list[Item]] = {}
    problems: dict[str, list[str]] = {name: [] for name in entries}
    for name, entry in entries.items():
        try:
            items[name] = domain(root, entry)
        except CorruptBackupError as exc:
            items[name] = []
            problems[name].append(str(exc))
    chosen = subset.choose([i.key for group in items.values() for i in group])
    counts: dict[str, tuple[int, int]] = {}
    task = progress.task(f"verify {subset.spec} of the files", total=len(chosen) or None)
    for name, group in items.items():
        read = 0
        for item in group:
            if item.key not in chosen:
                if (p := check_present(item, size_of(item.root, item.rel))) is not None:
                    problems[name].append(p)
                continue
            read += 1
            try:
                if fetch_one is not None:
                    fetch_one(item.root, item.rel)
                check_sampled(item, digest_file)
            except CorruptBackupError as exc:
                problems[name].append(str(exc))
            finally:
                task.advance(1, nbytes=max(item.bytes, 0))
                if fetch_one is not None:
                    (item.root / item.rel).unlink(missing_ok=True)
        counts[name] = (read, len(group))
    task.done()
    return problems, counts
