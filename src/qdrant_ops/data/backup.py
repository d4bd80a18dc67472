"""``qdrant-ops backup``: stream collections into a checksummed Parquet backup.

A backup is built in ``<backup-path>/.partial-<stamp>/`` with a checkpoint file, one Parquet file
series per slice, and renamed to ``<backup-path>/<stamp>/`` only once the manifest (written last)
is complete. A rerun with the same arguments finds the partial directory and resumes each slice
from its last completed file, so the finished backup is the same as an uninterrupted one.
To an object store (``s3://bucket/prefix``), the partial directory lives in a local staging cache
(with the checkpoint); each data file is streamed to ``<url>/<stamp>/`` as it is written (or
sent whole once recorded, if its stream failed), and the manifest last.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from qdrant_ops._fs import atomic_write_text
from qdrant_ops.data.backup_report import BackupReport, CollectionBackup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.data.incremental import parent_for, write_deleted
from qdrant_ops.data.partial import (
    backup_plan,
    find_partial,
    finish_backup,
    new_partial,
    with_schema_check,
    write_backup_manifest,
)
from qdrant_ops.data.slice_writer import SliceWriter
from qdrant_ops.endpoints.archive import (
    MANIFEST,
    MANIFEST_SHA256,
    PARTIAL_PREFIX,
    CollectionEntry,
    FileEntry,
    collection_dirname,
    write_manifest_checksum,
    write_tar,
)
from qdrant_ops.endpoints.base import CollectionSpec, Endpoint, VectorField, payloads_are_json
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.errors import NotFoundError, PlanChangedError, UnsupportedError, UsageError
from qdrant_ops.format.integrity import Digest
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.pipeline.gcpolicy import bulk
from qdrant_ops.pipeline.retry import RetryPolicy, RetryStats, retrying_scan
from qdrant_ops.pipeline.scope import select_collections, slice_count
from qdrant_ops.pipeline.sizing import page_size
from qdrant_ops.pipeline.stopping import check, run_all
from qdrant_ops.progress import NullProgress, ProgressSink, ProgressTask
from qdrant_ops.repository.chain import (
    Parent,
)
from qdrant_ops.repository.links import Origin, StoreOrigin, TarOrigin
from qdrant_ops.repository.location import (
    Location,
    cache_dir,
    is_remote,
    local_path,
    open_location,
)
from qdrant_ops.repository.lock import RepositoryHold
from qdrant_ops.repository.store import StreamedFile, remote_target, send_staged

log = logging.getLogger(__name__)


@bulk
def backup(
    cfg: BackupConfig,
    *,
    source: Endpoint | None = None,
    progress: ProgressSink | None = None,
) -> BackupReport:
    """Back up the configured collections; returns the report (``backup_dir`` is the result)."""
    report = BackupReport()
    progress = report.track(progress or NullProgress())
    src = source or open_endpoint(cfg.source_endpoint(), must_exist=True)
    info = src.info()
    report.source = info.display
    names = select_collections(src, cfg.collections)
    if not names and not cfg.allow_empty:
        raise NotFoundError(
            f"{info.display} holds no collections: nothing to back up "
            "(--allow-empty writes an empty backup of an empty source)"
        )
    if cfg.snapshot and info.kind in ("local", "memory"):
        from qdrant_ops.snapshot.commands import EMBEDDED_MESSAGE

        raise UnsupportedError(EMBEDDED_MESSAGE.format(what=f"{info.display} is qdrant-client local mode"))
    slices = slice_count(src, cfg.parallel, report.notes)
    report.parallel_mode = f"{slices} slice(s) in parallel" if slices > 1 else "one stream"

    repo = open_location(cfg.backup_path) if is_remote(cfg.backup_path) else None
    if repo is not None and cfg.tar:
        raise UsageError("--tar packs a local backup; an object-store backup is its files and manifest")
    # To an object store, the backup is built in a local staging directory kept per URL (so a
    # rerun resumes it) and published file by file, the manifest last.
    root = cache_dir("staging", repo) if repo is not None else local_path(cfg.backup_path)
    root.mkdir(parents=True, exist_ok=True)
    with RepositoryHold(cfg.backup_path, "backup", f"backup path {repo.display if repo else root}") as hold:
        report.notes.extend(hold.notes)
        # An incremental backup finds its parent where the repository's backups are: directories
        # here, objects in the store, or tars beside this one (a chain is all tars or all directories).
        origin: Origin | None = None
        if cfg.incremental and repo is not None:
            origin = StoreOrigin(repo)
        elif cfg.incremental and cfg.tar:
            origin = TarOrigin(root)
        plan = backup_plan(cfg, src, names, slices)
        work = find_partial(root, plan)
        report.resumed = work is not None
        report.resumed_from = str(work) if work is not None else ""
        if work is None:
            work = new_partial(root)
            atomic_write_text(work / "plan.json", json.dumps(plan, sort_keys=True))
        stamp = work.name[len(PARTIAL_PREFIX) :]
        target, sent = None, set[str]()
        if repo is not None:
            target, aborted = remote_target(work, repo, stamp)
            if aborted:
                report.notes.append(f"aborted {aborted} multipart upload(s) an interrupted run left open")
        if (work / MANIFEST).exists():
            with report.phase("finalise"):
                if not (work / MANIFEST_SHA256).exists():  # the run stopped between the two writes
                    write_manifest_checksum(work)
                final = finish_backup(work, root, stamp, target, report, sent)
        else:
            state = Checkpoint(work / "state.sqlite")
            try:
                state.bind_plan(plan, what="backup")
                entries: dict[str, CollectionEntry] = {}
                for name in names:
                    entries[name], row = _backup_collection(
                        cfg, src, name, slices, work, state, progress, report, root, report.notes,
                        (target, sent) if target else None, origin,
                    )
                    report.collections.append(row)
            finally:
                state.close()
            with report.phase("finalise"):
                write_backup_manifest(work, cfg, info.display, info.server_version, entries, slices, stamp)
                final = finish_backup(work, root, stamp, target, report, sent)
        # Still under the lock, so prune never sees a half-packed .partial tar. The directory is
        # checked before it is packed: checking the tar would extract a second copy. An
        # incremental tar is checked packed: its parents are tars, read from beside it.
        check_packed = cfg.tar and isinstance(final, Path) and _has_parent(final)
        if check_packed and isinstance(final, Path):
            with report.phase("tar"):
                final = write_tar(final)
        if cfg.verify_integrity:
            from qdrant_ops.data.verify import verify_backup

            with report.phase("verify"):
                verified = verify_backup(str(final), allow_empty=cfg.allow_empty, progress=progress)
            report.checks.extend(verified.checks)
        if cfg.tar and isinstance(final, Path) and not check_packed:
            with report.phase("tar"):
                final = write_tar(final)
    report.backup_dir = str(final)
    report.finish()
    return report


def _has_parent(backup_dir: Path) -> bool:
    """True when a finished backup directory builds on a parent (an incremental link)."""
    data = json.loads((backup_dir / MANIFEST).read_text(encoding="utf-8"))
    return any(c.get("parent") for c in dict(data.get("collections") or {}).values())


def _backup_collection(
    cfg: BackupConfig,
    src: Endpoint,
    name: str,
    slices: int,
    work: Path,
    state: Checkpoint,
    progress: ProgressSink,
    report: BackupReport,
    repository: Path,
    notes: list[str],
    remote: tuple[Location, set[str]] | None = None,
    origin: Origin | None = None,
) -> tuple[CollectionEntry, CollectionBackup]:
    saved = state.get_meta(f"spec:{name}")
    spec = src.get_spec(name)
    fields = spec.vector_fields()
    if saved is not None:
        old = CollectionSpec.from_json(saved)
        if old.vector_fields() != fields:
            raise PlanChangedError(
                f"collection {name!r} changed its vectors since the backup started; "
                f"remove {work} to start over"
            )
        spec = old
    else:
        state.set_meta(f"spec:{name}", spec.to_json())
    parent = parent_for(cfg, name, fields, repository, state, notes, origin)
    cdir = work / collection_dirname(name)
    cdir.mkdir(exist_ok=True, mode=0o700)
    task = progress.task(f"backup {name}", total=spec.points_count or None)
    policy = RetryPolicy()
    stats = RetryStats()
    stop = threading.Event()
    resumed_rows = [0] * slices

    # To an object store each file is sent as soon as it is recorded, so the staging directory
    # holds a few files at a time, not the backup.
    on_file: Callable[[Path], None] | None = None
    stream: Callable[[Path, threading.Lock], StreamedFile] | None = None
    if remote is not None:
        target, sent = remote
        streamed: set[str] = set()  # files whose upload completed as they were written

        def on_file(path: Path) -> None:
            with_schema_check(path, fields)  # checked here: the manifest is written after it is gone
            send_staged(path, work, target, sent, streamed)

        def stream(path: Path, turn: threading.Lock) -> StreamedFile:
            return StreamedFile(path, target, path.relative_to(work).as_posix(), streamed, turn)

    def run(index: int) -> None:
        resumed_rows[index] = _backup_slice(
            cfg, src, name, fields, (index, slices), cdir, state, task, policy, stats, stop, on_file, parent, stream
        )

    # Remove files that no checkpoint vouches for (a file being written when a run died).
    known = {item["path"] for item in state.items(name)} | {
        item["index"]["path"] for item in state.items(name) if "index" in item
    }
    for f in cdir.iterdir():
        if f"{cdir.name}/{f.name}" not in known:
            f.unlink()
    started = time.monotonic()
    try:
        with report.phase("copy"):
            run_all(run, range(slices), workers=slices, name=f"backup-{name}", stop=stop)
    finally:
        task.done()
    elapsed = time.monotonic() - started
    files: list[FileEntry] = []
    index_files: list[FileEntry] = []
    digest = Digest()
    for item in state.items(name):
        fe = FileEntry.from_json(item)
        if "index" in item:  # incremental: the digest is the whole collection's, from the index
            index_files.append(FileEntry.from_json(item["index"]))
            digest.add(index_files[-1].digest or Digest())
            if fe.rows:
                files.append(fe)
            continue
        files.append(fe)
        if fe.digest is not None:
            digest.add(fe.digest)
    if spec.points_count != digest.count:
        log.warning(
            "%s: %d points counted when the backup started, %d backed up: the collection changed "
            "during the backup",
            name,
            spec.points_count,
            digest.count,
        )
    entry = CollectionEntry(
        spec=spec, fields=fields, points_count=digest.count, digest=digest, files=files, slices=slices
    )
    # The rate counts what this run copied: points and bytes of the files an earlier run wrote
    # are left out.
    resumed = sum(resumed_rows)
    copied = digest.count - resumed
    copied_bytes = sum(f.bytes for f in files if f.path not in known)
    if cfg.incremental:
        entry.index_files = index_files
        if parent is not None:
            entry.parent = parent.ref()
            entry.deleted = write_deleted(cdir, index_files, work, parent.index)
    row = CollectionBackup(
        name=name,
        points=digest.count,
        bytes=sum(f.bytes for f in entry.all_files()),
        files=len(files),
        slices=slices,
        duration_s=round(elapsed, 3),
        resumed_points=resumed,
        points_per_s=round(copied / elapsed, 1) if elapsed > 0 else 0.0,
        mb_per_s=round(copied_bytes / elapsed / 1e6, 2) if elapsed > 0 else 0.0,
        digest=f"{digest.full:032x}",
    )
    if cfg.snapshot:
        from qdrant_ops.snapshot.commands import backup_snapshots

        source_cfg = cfg.source_endpoint() if src.info().kind != "edge" else None
        with report.phase("snapshot"):
            entry.snapshots = backup_snapshots(source_cfg, src, name, cdir)
        row.snapshots = len(entry.snapshots)
        row.bytes += sum(int(s["bytes"]) for s in entry.snapshots)
    return entry, row


def _backup_slice(
    cfg: BackupConfig,
    src: Endpoint,
    name: str,
    fields: list[VectorField],
    slice_: tuple[int, int],
    cdir: Path,
    state: Checkpoint,
    task: ProgressTask,
    policy: RetryPolicy,
    stats: RetryStats,
    stop: threading.Event,
    on_file: Callable[[Path], None] | None = None,
    parent: Parent | None = None,
    stream: Callable[[Path, threading.Lock], StreamedFile] | None = None,
) -> int:
    """Back up one slice from where its checkpoint left it; returns the rows an earlier run did."""
    index, total = slice_
    st = state.slice_state(name, index)
    task.resume(st["rows"])
    if st["done"]:
        return int(st["rows"])
    offset, seq, rows_done = st["offset"], st["next_seq"], st["rows"]
    if not st["new"] and offset is None:
        state.save_slice(name, index, offset=None, done=True, next_seq=seq, rows=rows_done)
        return int(rows_done)
    # From a server, the next page is scrolled while this one is encoded, hashed and written.
    pages = retrying_scan(
        src,
        name,
        policy,
        stats,
        batch_size=page_size(fields, cfg.batch_size),
        slice_=slice_ if total > 1 else None,
        offset=offset,
        ahead=f"scan-{name}-{index}",
    )
    with SliceWriter(
        name=name,
        index=index,
        cdir=cdir,
        state=state,
        fields=fields,
        compression_level=cfg.compression_level,
        finite=payloads_are_json(src.info().kind),
        task=task,
        next_seq=seq,
        rows_done=rows_done,
        on_file=on_file,
        parent_index=parent.index if parent is not None else None,
        incremental=cfg.incremental,
        stream=stream,
    ) as out:
        for page in pages:
            check(stop)  # Ctrl-C or another slice's error: the open file is not recorded
            next_offset = page.next_offset
            if len(page):
                out.write_page(page)
            del page  # one page alive at a time: dropped before the next is read
            if next_offset is not None and out.file_rows >= cfg.rows_per_file:
                out.roll_over(next_offset)
        out.finish()
    return int(rows_done)
