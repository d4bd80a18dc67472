"""``qdrant-ops verify``: a backup alone, a backup against a live endpoint, or two live endpoints.

- A backup alone: every file present, its size, sha256, schema and row count as the manifest says,
  and each file's digest recomputed from its data equal to the manifest's. With
  ``--read-data-subset`` only a sample is read in full, every file still checked for presence and
  size (verify_subset.py).
- Against a live endpoint (or two): counts and digests; where the bitwise digest differs, or
  ``--full`` is given, every point is compared with the tolerances of ``compare.py`` and the first
  differences are listed.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from qdrant_ops.data.config import VerifyConfig
from qdrant_ops.data.verify_subset import Subset, local_size, parse_subset, remote_backup, run_subset
from qdrant_ops.endpoints.archive import (
    MANIFEST_SHA256,
    OLDER_FORMAT_NOTE,
    CollectionEntry,
    Manifest,
    check_file,
    iter_batches,
    load_manifest,
    open_backup,
)
from qdrant_ops.endpoints.base import Endpoint, Point, VectorField
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.errors import CorruptBackupError, NotFoundError, UsageError
from qdrant_ops.format.columns import check_schema, decode_batch
from qdrant_ops.format.compare import ComparisonResult, compare_with_endpoint, lossiest
from qdrant_ops.format.integrity import Digest, digest_batch, scan_digest
from qdrant_ops.pipeline.gcpolicy import bulk
from qdrant_ops.pipeline.prefetch import prefetch
from qdrant_ops.pipeline.retry import retrying_scan
from qdrant_ops.progress import NullProgress, ProgressSink
from qdrant_ops.reports import Report, md_table
from qdrant_ops.repository.chain import (
    PointKey,
    Unit,
    keep_mask,
    open_chain,
    read_index,
    reader_units,
    unit_batches,
)
from qdrant_ops.repository.location import cache_dir, is_remote, open_location
from qdrant_ops.snapshot.verify import check_snapshots

log = logging.getLogger(__name__)


class CollectionVerify(BaseModel):
    name: str
    target_name: str = ""
    expected_points: int = 0
    actual_points: int = 0
    files_checked: int = 0
    files_total: int = 0  # with --read-data-subset: the files checked for presence and size, all of them
    expected_digest: str = ""
    actual_digest: str = ""
    verdict: str = ""  # exact | within tolerance | differs | corrupt
    compared_points: int = 0
    differences: list[dict[str, str]] = Field(default_factory=list)


class VerifyReport(Report):
    verb: str = "verify"
    backup: str = ""
    against: str = ""
    source: str = ""
    target: str = ""
    collections: list[CollectionVerify] = Field(default_factory=list)
    # --read-data-subset: the spec, and the files read in full of all the files checked. None: a
    # full read (a backup alone) or a comparison.
    read_data_subset: str | None = None
    files_read: int = 0
    files_total: int = 0

    def partial_read_line(self) -> str:
        return (f"partial read (--read-data-subset {self.read_data_subset}): read {self.files_read} of "
                f"{self.files_total} data files in full; the other {self.files_total - self.files_read} checked "
                "for presence and size. Not a full verification: collection digests not recomputed")

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        if self.read_data_subset is not None:
            lines.append("  " + self.partial_read_line())
            for c in self.collections:
                lines.append(f"  {c.name}: {c.verdict} (read {c.files_checked} of {c.files_total} files in full)")
            return lines
        for c in self.collections:
            lines.append(
                f"  {c.name}: {c.verdict} ({c.actual_points}/{c.expected_points} points"
                + (f", {c.files_checked} files" if c.files_checked else "")
                + ")"
            )
            for d in c.differences[:5]:
                lines.append(f"    {d['kind']} {d['id']}: {d['detail']}")
        return lines

    def markdown_sections(self) -> list[str]:
        what = self.backup or self.source
        other = self.against or self.target
        out = ["", f"Checked `{what}`" + (f" against `{other}`" if other else "") + ".", ""]
        if self.read_data_subset is not None:
            out += [f"**{self.partial_read_line()}.**", ""]
            out.append(md_table(["collection", "verdict", "points (manifest)", "files read in full", "files"],
                                [[c.name, c.verdict, c.expected_points, c.files_checked, c.files_total]
                                 for c in self.collections]))
            return out
        out.append(
            md_table(
                ["collection", "verdict", "expected points", "actual points", "files", "digest"],
                [
                    [c.name, c.verdict, c.expected_points, c.actual_points, c.files_checked, c.actual_digest]
                    for c in self.collections
                ],
            )
        )
        diffs = [(c.name, d) for c in self.collections for d in c.differences]
        if diffs:
            out += ["", "## First differences", ""]
            out.append(md_table(["collection", "id", "kind", "detail"], [[n, d["id"], d["kind"], d["detail"]] for n, d in diffs]))
        return out


# -- building blocks ---------------------------------------------------------------------------


def archive_points(
    root: Path, entry: CollectionEntry, batch_size: int = 1000, units: list[Unit] | None = None
) -> Iterator[list[Point]]:
    """Points of one collection of a backup, batch by batch, each file checked first (of an
    incremental backup, its chain's files, newest link winning per id)."""
    for unit in units if units is not None else reader_units(root, entry):
        for batch in unit_batches(unit, batch_size):
            if batch.num_rows:
                yield list(decode_batch(batch, entry.fields))


def endpoint_points(ep: Endpoint, name: str, batch_size: int = 1000) -> Iterator[list[Point]]:
    """A live collection's points, page by page; a page that fails transiently is read again."""
    for page in retrying_scan(ep, name, batch_size=batch_size):
        yield page.points


def _select(names: Sequence[str], wanted: Sequence[str] | None, where: str) -> list[str]:
    if not wanted:
        return list(names)
    missing = [w for w in wanted if w not in names]
    if missing:
        raise NotFoundError(f"collection(s) not in {where}: {', '.join(missing)}")
    return list(wanted)


def _nothing_checked(report: VerifyReport, where: str, *, allow_empty: bool = False) -> None:
    """An empty backup is a failed check: a typo in the source must not verify as ok forever."""
    if report.collections:
        return
    if allow_empty:
        report.notes.append(f"{where} holds no collections (written with --allow-empty)")
        return
    report.check("collections", False, f"{where} holds no collections: nothing was checked")


def target_name(name: str, rename: dict[str, str], suffix: str) -> str:
    return rename.get(name, name + suffix)


# -- verbs -------------------------------------------------------------------------------------


@bulk
def verify_backup(
    location: str,
    *,
    collections: Sequence[str] | None = None,
    progress: ProgressSink | None = None,
    allow_empty: bool = False,
    subset: Subset | None = None,
) -> VerifyReport:
    """Check every file of a backup against its manifest and recompute its digests; with
    ``subset``, read only that sample in full (the others: presence and size).

    A backup without collections fails unless ``allow_empty`` (backup --allow-empty wrote it)."""
    if subset is not None:
        return _verify_subset(location, subset, collections, progress or NullProgress(), allow_empty)
    with open_backup(location) as (root, shown):
        return _verify_backup_dir(root, shown, collections, progress or NullProgress(), allow_empty)


def _verify_subset(
    location: str, subset: Subset, collections: Sequence[str] | None, progress: ProgressSink, allow_empty: bool
) -> VerifyReport:
    """``verify_backup`` reading ``subset``: an object store's files are fetched one by one, only
    those sampled; a local directory or tar is read where it is (a tar is extracted whole)."""
    if not is_remote(location):
        with open_backup(location) as (root, shown):
            return _subset_dir(root, shown, subset, collections, progress, allow_empty, local_size, None)
    loc = open_location(location)
    scratch = cache_dir("fetch", loc) / f".qdrant-ops-read-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        root, shown, size_of, fetch_one = remote_backup(location, scratch)
        return _subset_dir(root, shown, subset, collections, progress, allow_empty, size_of, fetch_one)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _subset_dir(
    root: Path,
    shown: str,
    subset: Subset,
    collections: Sequence[str] | None,
    progress: ProgressSink,
    allow_empty: bool,
    size_of: Callable[[Path, str], int | None],
    fetch_one: Callable[[Path, str], None] | None,
) -> VerifyReport:
    report = VerifyReport(backup=shown, read_data_subset=subset.spec)
    progress = report.track(progress)
    manifest = load_manifest(root)
    _manifest_checked(report, manifest)
    names = _select(list(manifest.collections), collections, f"backup {root}")
    entries = {name: manifest.collections[name] for name in names}
    problems, counts = run_subset(root, entries, subset, progress, lambda p, e: _digest_file(p, e)[0], size_of, fetch_one)
    for name, entry in entries.items():
        read, total = counts[name]
        row = CollectionVerify(name=name, expected_points=entry.points_count, expected_digest=f"{entry.digest.full:032x}",
                               files_checked=read, files_total=total, verdict="corrupt" if problems[name] else "sample ok")
        report.collections.append(row)
        report.files_read += read
        report.files_total += total
        report.check("files", not problems[name], "; ".join(problems[name]) or
                     f"{read} of {total} files read in full (sha256, rows, content digest); all {total} present "
                     "with the manifest's sizes", collection=name)
        report.check("digest", False, f"inconclusive: not recomputed, only {subset.spec} of the files was read",
                     collection=name, inconclusive=True)
    _nothing_checked(report, f"backup {root}", allow_empty=allow_empty)
    report.finish()
    return report


def _verify_backup_dir(
    root: Path, shown: str, collections: Sequence[str] | None, progress: ProgressSink, allow_empty: bool
) -> VerifyReport:
    report = VerifyReport()
    progress = report.track(progress)
    report.backup = shown
    manifest = load_manifest(root)
    _manifest_checked(report, manifest)
    for name in _select(list(manifest.collections), collections, f"backup {root}"):
        entry = manifest.collections[name]
        row = CollectionVerify(name=name, expected_points=entry.points_count, expected_digest=f"{entry.digest.full:032x}")
        report.collections.append(row)
        task = progress.task(f"verify {name}", total=entry.points_count or None)
        total = Digest()
        problems: list[str] = []
        try:
            units = reader_units(root, entry)
        except CorruptBackupError as exc:
            units = []
            problems.append(str(exc))
        for unit in units:
            fe = unit.file
            try:
                path = check_file(unit.root, fe)
                file_digest, seen = _digest_file(path, entry, unit.drop)
            except CorruptBackupError as exc:
                problems.append(str(exc))
                continue
            finally:
                task.advance(fe.rows, nbytes=fe.bytes)
            row.files_checked += 1
            if file_digest.count != fe.rows:
                problems.append(f"{path}: {file_digest.count} rows, manifest says {fe.rows}")
            elif fe.digest is not None and file_digest != fe.digest:
                problems.append(f"{path}: content digest differs from the manifest")
            total.add(seen)
        for fe in (entry.index_files or []) + ([entry.deleted] if entry.deleted else []):
            try:
                check_file(root, fe)
                row.files_checked += 1
            except CorruptBackupError as exc:
                problems.append(str(exc))
        if entry.index_files is not None and not problems:
            try:  # the index the next incremental backup builds on adds up to this digest
                read_index(open_chain(root, entry))
            except CorruptBackupError as exc:
                problems.append(str(exc))
        task.done()
        row.actual_points = total.count
        row.actual_digest = f"{total.full:032x}"
        if not problems and total != entry.digest:
            problems.append(f"collection {name}: digest recomputed from the data differs from the manifest")
        row.verdict = "corrupt" if problems else "exact"
        report.check("files", not problems, "; ".join(problems) or f"{row.files_checked} files, sha256 and rows match", collection=name)
        report.check(
            "digest",
            not problems,
            f"{row.actual_digest}" if not problems else "not recomputed: files failed",
            collection=name,
        )
        if entry.snapshots:
            snaps_ok, bad = check_snapshots(root, entry.snapshots)
            report.check("snapshots", not bad, "; ".join(bad) or f"{snaps_ok} native snapshot file(s), sha256 match", collection=name)
    _nothing_checked(report, f"backup {root}", allow_empty=allow_empty)
    report.finish()
    return report


def _manifest_checked(report: VerifyReport, manifest: Manifest) -> None:
    """Say how the manifest itself was checked (a changed one never gets here)."""
    if manifest.checksummed:
        report.check("manifest", True, f"sha256 matches {MANIFEST_SHA256}")
    else:
        report.notes.append(OLDER_FORMAT_NOTE)


def _digest_file(path: Path, entry: CollectionEntry, drop: frozenset[PointKey] = frozenset()) -> tuple[Digest, Digest]:
    """The file's digest, and that of its rows a reader sees (those not in ``drop``)."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise CorruptBackupError(f"{path}: unreadable Parquet: {exc}", file=path) from None
    check_schema(schema, entry.fields, str(path))
    d = Digest()
    seen = Digest()
    # The next row group is read and decompressed (no GIL) while this one is hashed.
    for batch in prefetch(iter_batches(path), name=f"verify-{path.name}"):
        whole = digest_batch(batch, entry.fields)
        d.add(whole)
        mask = keep_mask(batch, drop)
        seen.add(whole if mask is None else digest_batch(batch.filter(mask), entry.fields))
    return d, seen


def _compare(
    report: VerifyReport,
    row: CollectionVerify,
    left: Iterator[list[Point]],
    left_digest: Digest,
    right: Endpoint,
    right_name: str,
    fields: Sequence[VectorField],
    *,
    full: bool,
    ulps: int,
    limit: int,
    batch_size: int,
) -> None:
    right_count = right.count(right_name)
    row.actual_points = right_count
    right_digest = scan_digest(right, right_name, fields, batch_size)
    row.actual_digest = f"{right_digest.full:032x}"
    exact = right_digest == left_digest
    report.check(
        "count", right_count == left_digest.count, f"{right_count} vs {left_digest.count}", collection=row.name
    )
    result: ComparisonResult | None = None
    if full or not exact:
        result = compare_with_endpoint(
            left, right, right_name, fields, right_count=right_count, ulps=ulps, limit=limit, batch_size=batch_size
        )
        row.compared_points = result.compared
        row.differences = [{"id": d.id, "kind": d.kind, "detail": d.detail} for d in result.differences]
    if exact:
        row.verdict = "exact"
        report.check("digest", True, f"bitwise equal: {row.actual_digest}", collection=row.name)
    elif result is not None and result.ok and right_count == left_digest.count:
        row.verdict = "within tolerance"
        why = "payload floats within 1 ULP (Qdrant Edge), " if ulps else ""
        report.check(
            "digest",
            True,
            f"bitwise digests differ; all {result.compared} points equal point by point ({why}vectors within tolerance)",
            collection=row.name,
        )
    else:
        row.verdict = "differs"
        detail = (
            f"missing {result.missing}, extra {result.extra}, payload differs {result.payload_differs}, "
            f"vector differs {result.vector_differs}"
            if result
            else "digest differs"
        )
        report.check("digest", False, detail, collection=row.name)
    if result is not None and full:
        report.check("points", result.ok, f"{result.equal}/{result.compared} points equal", collection=row.name)


def _target_present(report: VerifyReport, row: CollectionVerify, live: Endpoint, where: str) -> bool:
    """Add ``row`` to the report; False (and a failed check) when its target collection is absent."""
    report.collections.append(row)
    if live.collection_exists(row.target_name):
        return True
    row.verdict = "differs"
    report.check("exists", False, f"{row.target_name} not found at {where}", collection=row.name)
    return False


@bulk
def verify_against(
    location: str,
    live: Endpoint,
    *,
    collections: Sequence[str] | None = None,
    rename: dict[str, str] | None = None,
    suffix: str = "",
    full: bool = False,
    limit: int = 20,
    batch_size: int = 1000,
) -> VerifyReport:
    """Compare a backup with a live endpoint holding its collections."""
    with open_backup(location) as (root, shown):
        return _verify_against_dir(
            root, shown, live, collections=collections, rename=rename, suffix=suffix, full=full,
            limit=limit, batch_size=batch_size,
        )


def _verify_against_dir(
    root: Path,
    shown: str,
    live: Endpoint,
    *,
    collections: Sequence[str] | None,
    rename: dict[str, str] | None,
    suffix: str,
    full: bool,
    limit: int,
    batch_size: int,
) -> VerifyReport:
    report = VerifyReport()
    report.backup = shown
    report.against = live.info().display
    manifest = load_manifest(root)
    _manifest_checked(report, manifest)
    ulps = 1 if live.info().kind == "edge" else 0
    for name in _select(list(manifest.collections), collections, f"backup {root}"):
        entry = manifest.collections[name]
        tname = target_name(name, rename or {}, suffix)
        row = CollectionVerify(name=name, target_name=tname, expected_points=entry.points_count, expected_digest=f"{entry.digest.full:032x}")
        # An incremental backup's chain is checked here, even where equal digests spare the read.
        units = reader_units(root, entry)
        if not _target_present(report, row, live, report.against):
            continue
        # Each vector is compared within what the lossier of the two sides' datatypes keeps.
        fields = lossiest(entry.fields, live.get_spec(tname).vector_fields())
        _compare(
            report, row, archive_points(root, entry, batch_size, units), entry.digest, live, tname, fields,
            full=full, ulps=ulps, limit=limit, batch_size=batch_size,
        )
    _nothing_checked(report, f"backup {root}")
    report.finish()
    return report


@bulk
def verify_live(
    source: Endpoint,
    target: Endpoint,
    *,
    collections: Sequence[str] | None = None,
    rename: dict[str, str] | None = None,
    suffix: str = "",
    full: bool = False,
    limit: int = 20,
    batch_size: int = 1000,
) -> VerifyReport:
    """Compare collections of two live endpoints (or two names in one)."""
    report = VerifyReport()
    report.source = source.info().display
    report.target = target.info().display
    ulps = 1 if "edge" in (source.info().kind, target.info().kind) else 0
    for name in _select(source.list_collections(), collections, report.source):
        tname = target_name(name, rename or {}, suffix)
        spec = source.get_spec(name)
        fields = spec.vector_fields()
        row = CollectionVerify(name=name, target_name=tname)
        if not _target_present(report, row, target, report.target):
            continue
        fields = lossiest(fields, target.get_spec(tname).vector_fields())
        left_digest = scan_digest(source, name, fields, batch_size)
        row.expected_points = left_digest.count
        row.expected_digest = f"{left_digest.full:032x}"
        _compare(
            report, row, endpoint_points(source, name, batch_size), left_digest, target, tname, fields,
            full=full, ulps=ulps, limit=limit, batch_size=batch_size,
        )
    report.finish()
    return report


def _subset_flag(cfg: VerifyConfig) -> Subset | None:
    """The parsed --read-data-subset, refused where it means nothing: it samples a backup's own
    files, while --against and --source/--target compare every point, and --full reads all."""
    if cfg.read_data_subset is None:
        return None
    subset = parse_subset(cfg.read_data_subset)
    if not cfg.backup:
        raise UsageError("--read-data-subset samples a backup's files: give a BACKUP, not --source/--target")
    if cfg.against is not None and cfg.against.is_set:
        raise UsageError("--read-data-subset checks a backup alone; --against reads every point of it to compare: give one")
    if cfg.full:
        raise UsageError("--full reads everything and --read-data-subset a sample: give one")
    return subset


@bulk
def verify(cfg: VerifyConfig, *, progress: ProgressSink | None = None) -> VerifyReport:
    """Dispatch on what the config names: a backup, a backup and a live endpoint, or two endpoints."""
    if cfg.backup and (cfg.source or cfg.target):
        raise UsageError("give a backup (optionally --against URI) or --source and --target, not both")
    subset = _subset_flag(cfg)
    if cfg.backup:
        if cfg.against is not None and cfg.against.is_set:
            return verify_against(
                cfg.backup,
                open_endpoint(cfg.against, must_exist=True),
                collections=cfg.collections or None,
                rename=cfg.rename, suffix=cfg.suffix, full=cfg.full, limit=cfg.max_differences,
                batch_size=cfg.batch_size,
            )
        if cfg.full:
            log.info("--full has no effect on a backup alone: every file is always checked in full")
        return verify_backup(cfg.backup, collections=cfg.collections or None, progress=progress, subset=subset)
    if cfg.source is None or cfg.target is None or not cfg.source.is_set or not cfg.target.is_set:
        raise UsageError("give a BACKUP to verify, or both --source and --target")
    return verify_live(
        open_endpoint(cfg.source, must_exist=True),
        open_endpoint(cfg.target, must_exist=True),
        collections=cfg.collections or None,
        rename=cfg.rename, suffix=cfg.suffix, full=cfg.full, limit=cfg.max_differences,
        batch_size=cfg.batch_size,
    )
