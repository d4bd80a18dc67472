"""``qdrant-ops backup``: stream collections into a checksummed Parquet backup.

A backup is built in ``<backup-path>/.partial-<stamp>/`` with a checkpoint file, one Parquet file
series per slice, and renamed to ``<backup-path>/<stamp>/`` only once the manifest (written last)
is complete. A rerun with the same arguments finds the partial directory and resumes each slice
from its last completed file, so the finished backup is the same as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from qdrant_ops import __version__
from qdrant_ops._fs import atomic_write_text, fsync_dir, fsync_file
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.archive import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    PARTIAL_PREFIX,
    CollectionEntry,
    FileEntry,
    collection_dirname,
    write_tar,
)
from qdrant_ops.endpoints.base import CollectionSpec, Endpoint, VectorField, payloads_are_json
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.errors import LockedError, NotFoundError, PlanChangedError, UnsupportedError
from qdrant_ops.format.columns import check_schema, encode_columns, text_array
from qdrant_ops.format.integrity import Digest, digest_batch, sha256_file
from qdrant_ops.format.payload import encode_payloads_raw
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.pipeline.gcpolicy import bulk
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.pipeline.prefetch import scan_ahead
from qdrant_ops.pipeline.retry import RetryPolicy, RetryStats, call_with_retry
from qdrant_ops.pipeline.scope import select_collections, slice_count
from qdrant_ops.pipeline.sizing import page_size
from qdrant_ops.progress import NullProgress, ProgressSink, ProgressTask
from qdrant_ops.reports import Report, md_table

log = logging.getLogger(__name__)


class CollectionBackup(BaseModel):
    name: str
    points: int = 0
    bytes: int = 0
    files: int = 0
    slices: int = 1
    duration_s: float = 0.0
    points_per_s: float = 0.0
    digest: str = ""
    snapshots: int = 0  # native snapshot files beside the Parquet files (backup --snapshot)


class BackupReport(Report):
    verb: str = "backup"
    source: str = ""
    backup_dir: str = ""
    resumed: bool = False
    parallel_mode: str = ""
    collections: list[CollectionBackup] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        for c in self.collections:
            lines.append(
                f"  {c.name}: {c.points} points, {c.files} files, {c.bytes} bytes, "
                f"{c.points_per_s:.0f} points/s"
            )
        if self.backup_dir:
            lines.append(f"backup: {self.backup_dir}")
        return lines

    def markdown_sections(self) -> list[str]:
        rows = [
            [c.name, c.points, c.bytes, c.files, c.slices, f"{c.duration_s:.2f}", f"{c.points_per_s:.0f}", c.digest]
            for c in self.collections
        ]
        return [
            "",
            f"Source: `{self.source}` · backup: `{self.backup_dir}` · resumed: {self.resumed} · "
            f"parallelism: {self.parallel_mode}",
            "",
            "## Collections",
            "",
            md_table(
                ["collection", "points", "bytes", "files", "slices", "duration (s)", "points/s", "digest"],
                rows,
            ),
        ]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _plan(cfg: BackupConfig, source: Endpoint, collections: list[str], slices: int) -> dict[str, Any]:
    return {
        "source": source.info().display,
        "collections": collections,
        "compression_level": cfg.compression_level,
        "batch_size": cfg.batch_size,
        "slices": slices,
        "rows_per_file": cfg.rows_per_file,
        "format_version": FORMAT_VERSION,
    }


def _new_partial(root: Path) -> Path:
    """A fresh ``.partial-<stamp>`` directory; a second backup in the same second gets ``-N``."""
    stamp = _stamp()
    for n in range(1000):
        name = stamp if n == 0 else f"{stamp}-{n}"
        if (root / name).exists() or (root / f"{name}.tar").exists():
            continue
        work = root / f"{PARTIAL_PREFIX}{name}"
        try:
            work.mkdir(mode=0o700)
        except FileExistsError:
            continue
        atomic_write_text(work / "started_at", datetime.now(UTC).isoformat())
        return work
    raise LockedError(f"cannot create a new backup directory under {root}")


def _find_partial(root: Path, plan: dict[str, Any]) -> Path | None:
    text = json.dumps(plan, sort_keys=True)
    for d in sorted(root.glob(PARTIAL_PREFIX + "*")):
        plan_file = d / "plan.json"
        if d.is_dir() and plan_file.is_file():
            try:
                if plan_file.read_text(encoding="utf-8") == text:
                    return d
            except OSError:
                continue
    return None


@bulk
def backup(
    cfg: BackupConfig,
    *,
    source: Endpoint | None = None,
    progress: ProgressSink | None = None,
) -> BackupReport:
    """Back up the configured collections; returns the report (``backup_dir`` is the result)."""
    progress = progress or NullProgress()
    report = BackupReport()
    src = source or open_endpoint(cfg.source_endpoint())
    info = src.info()
    report.source = info.display
    names = select_collections(src, cfg.collections)
    if cfg.snapshot and info.kind in ("local", "memory"):
        from qdrant_ops.snapshot.commands import EMBEDDED_MESSAGE

        raise UnsupportedError(EMBEDDED_MESSAGE.format(what=f"{info.display} is qdrant-client local mode"))
    slices = slice_count(src, cfg.parallel, report.notes)
    report.parallel_mode = f"{slices} slice(s) in parallel" if slices > 1 else "one stream"

    root = Path(cfg.backup_path)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(root / ".qdrant-ops.lock", f"backup path {root}"):
        plan = _plan(cfg, src, names, slices)
        work = _find_partial(root, plan)
        report.resumed = work is not None
        if work is None:
            work = _new_partial(root)
            atomic_write_text(work / "plan.json", json.dumps(plan, sort_keys=True))
        stamp = work.name[len(PARTIAL_PREFIX) :]
        if (work / MANIFEST).exists():
            final = _finalise(work, root, stamp, cfg.tar)
        else:
            state = Checkpoint(work / "state.sqlite")
            try:
                state.bind_plan(plan, what="backup")
                entries: dict[str, CollectionEntry] = {}
                for name in names:
                    entries[name], row = _backup_collection(cfg, src, name, slices, work, state, progress)
                    report.collections.append(row)
            finally:
                state.close()
            _write_manifest(work, cfg, info.display, info.server_version, entries, slices, stamp)
            final = _finalise(work, root, stamp, cfg.tar)
        report.backup_dir = str(final)
    if cfg.verify_integrity:
        from qdrant_ops.data.verify import verify_backup

        check = verify_backup(str(final))
        report.checks.extend(check.checks)
    report.finish()
    return report


def _backup_collection(
    cfg: BackupConfig,
    src: Endpoint,
    name: str,
    slices: int,
    work: Path,
    state: Checkpoint,
    progress: ProgressSink,
) -> tuple[CollectionEntry, CollectionBackup]:
    started = time.monotonic()
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
    cdir = work / collection_dirname(name)
    cdir.mkdir(exist_ok=True, mode=0o700)
    task = progress.task(f"backup {name}", total=spec.points_count or None)
    policy = RetryPolicy()
    stats = RetryStats()

    def run(index: int) -> None:
        _backup_slice(cfg, src, name, spec, fields, (index, slices), cdir, work, state, task, policy, stats)

    # Remove files that no checkpoint vouches for (a file being written when a run died).
    known = {item["path"] for item in state.items(name)}
    for f in cdir.iterdir():
        if f"{cdir.name}/{f.name}" not in known:
            f.unlink()
    if slices == 1:
        run(0)
    else:
        with ThreadPoolExecutor(max_workers=slices, thread_name_prefix=f"backup-{name}") as pool:
            for fut in [pool.submit(run, i) for i in range(slices)]:
                fut.result()
    task.done()
    files: list[FileEntry] = []
    digest = Digest()
    for item in state.items(name):
        fe = FileEntry.from_json(item)
        files.append(fe)
        if fe.digest is not None:
            digest.add(fe.digest)
    elapsed = time.monotonic() - started
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
    row = CollectionBackup(
        name=name,
        points=digest.count,
        bytes=sum(f.bytes for f in files),
        files=len(files),
        slices=slices,
        duration_s=round(elapsed, 3),
        points_per_s=round(digest.count / elapsed, 1) if elapsed > 0 else 0.0,
        digest=f"{digest.full:032x}",
    )
    if cfg.snapshot:
        from qdrant_ops.snapshot.commands import backup_snapshots

        source_cfg = cfg.source_endpoint() if src.info().kind != "edge" else None
        entry.snapshots = backup_snapshots(source_cfg, src, name, cdir)
        row.snapshots = len(entry.snapshots)
        row.bytes += sum(int(s["bytes"]) for s in entry.snapshots)
    return entry, row


def _backup_slice(
    cfg: BackupConfig,
    src: Endpoint,
    name: str,
    spec: CollectionSpec,
    fields: list[VectorField],
    slice_: tuple[int, int],
    cdir: Path,
    work: Path,
    state: Checkpoint,
    task: ProgressTask,
    policy: RetryPolicy,
    stats: RetryStats,
) -> None:
    import pyarrow.parquet as pq

    from qdrant_ops.format.columns import arrow_schema

    index, total = slice_
    st = state.slice_state(name, index)
    if st["done"]:
        task.advance(st["rows"])
        return
    task.advance(st["rows"])
    offset, seq, rows_done = st["offset"], st["next_seq"], st["rows"]
    if not st["new"] and offset is None:
        state.save_slice(name, index, offset=None, done=True, next_seq=seq, rows=rows_done)
        return
    schema = arrow_schema(fields)
    writer: Any = None
    path: Path | None = None
    file_rows = 0
    file_digest = Digest()
    scan_slice = slice_ if total > 1 else None
    cursor = offset  # where the next page starts
    page_points = page_size(fields, cfg.batch_size)
    finite = payloads_are_json(src.info().kind)

    def scan_from(start: Any) -> Iterator[Any]:
        # From a server, the next page is scrolled while this one is encoded, hashed and
        # written (see ``scan_ahead``).
        scan = src.scan(name, batch_size=page_points, slice_=scan_slice, offset=start)
        return scan_ahead(scan, src, name=f"scan-{name}-{index}")

    pages = scan_from(cursor)

    def attempt() -> Any:
        nonlocal pages
        try:
            return next(pages, None)
        except Exception:
            # A generator that raised is finished: a retry must start a new scan at the cursor,
            # or next() would return None and the slice would look complete with points missing.
            pages = scan_from(cursor)
            raise

    def next_page() -> Any:
        return call_with_retry(attempt, policy, stats, what=f"scroll {name}")

    # Parquet encoding and zstd run in C without the GIL: each batch is written by a background
    # thread while the next page is encoded and hashed, one write in flight at a time, in order;
    # its error surfaces at the next wait. A full file that is not the last is closed (footer,
    # fsync, sha256) by a second thread while the scan and the next file's writes go on (a
    # close's fsync takes as long as the disk needs to take the file), and recorded in the
    # checkpoint by this thread once it is on disk. The threads start on first use: a backup of
    # one file starts no closing thread.
    io_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{name}-{index}")
    close_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"close-{name}-{index}")
    in_flight: Future[Any] | None = None
    # The close in flight and what records its file once it is on disk.
    closing: tuple[Future[tuple[int, str]], Callable[[tuple[int, str]], None]] | None = None

    def wait_write() -> None:
        nonlocal in_flight
        if in_flight is not None:
            done_write, in_flight = in_flight, None
            done_write.result()

    def check_close(*, wait: bool) -> None:
        """Record the file the last close put on disk, waiting for it (``wait``) or only if the
        close is over; the close's error is raised here."""
        nonlocal closing
        if closing is not None and (wait or closing[0].done()):
            (done_close, record), closing = closing, None
            record(done_close.result())

    def finish_file(w: Any, file: Path) -> tuple[int, str]:
        w.close()
        os.chmod(file, 0o600)
        # On disk before the checkpoint names it done: a resume after a crash skips done files.
        fsync_file(file)
        fsync_dir(file.parent)
        return file.stat().st_size, sha256_file(file)

    def close_file(next_offset: Any, done: bool) -> None:
        nonlocal writer, path, file_rows, file_digest, seq, rows_done, closing
        wait_write()
        check_close(wait=True)  # files are recorded in order
        if writer is None or path is None:
            state.save_slice(name, index, offset=next_offset, done=done, next_seq=seq, rows=rows_done)
            return
        w, file, rows, digest = writer, path, file_rows, file_digest
        writer, path, file_rows, file_digest = None, None, 0, Digest()
        seq += 1
        rows_done += rows
        next_seq, rows_upto = seq, rows_done

        def record(result: tuple[int, str]) -> None:
            size, checksum = result
            item = FileEntry(
                path=f"{cdir.name}/{file.name}", rows=rows, bytes=size, sha256=checksum, digest=digest
            ).to_json()
            state.save_slice(
                name, index, offset=next_offset, done=done, next_seq=next_seq, rows=rows_upto, item=item
            )

        if done:  # the last file: nothing is left to overlap with its close
            record(finish_file(w, file))
        else:
            closing = close_pool.submit(finish_file, w, file), record

    def write_page(page: Any) -> None:
        # A function of its own: the page's objects (the engine's records, the encoded columns)
        # are freed when it returns, before the next page is read, so one page's worth is alive
        # at a time besides the write in flight.
        nonlocal writer, path, file_rows, in_flight
        rows = len(page)
        # One vector field: its matrix straight from the engine's records where it can be.
        cols, matrix = page.columns_with_matrix(fields[0]) if len(fields) == 1 else (page.columns, None)
        texts, canonical = encode_payloads_raw(cols.payloads, finite=finite)
        dense = {fields[0].name: matrix} if matrix is not None else None
        batch = encode_columns(cols, fields, texts=text_array(texts), dense=dense)
        if writer is None:
            path = cdir / f"part-{index:03d}-{seq:05d}.parquet"
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            writer = pq.ParquetWriter(
                path,
                schema,
                compression="zstd",
                compression_level=cfg.compression_level,
                write_statistics=True,
                # Dictionary pages never pay here (float vectors, mostly unique payloads) and
                # cost most of the write: 10k 128-d points 0.13 s with them, 0.02 s without,
                # and the file is 35% smaller.
                use_dictionary=False,
            )
        check_close(wait=False)  # a closed file is recorded, a failed close fails the backup, now
        wait_write()
        in_flight = io_pool.submit(writer.write_batch, batch, row_group_size=rows)
        file_digest.add(digest_batch(batch, fields, canonical=canonical))
        file_rows += rows
        task.advance(rows)

    def stream_pages() -> None:
        nonlocal cursor
        while True:
            page = next_page()
            if page is None:
                close_file(None, True)
                return
            next_offset = page.next_offset
            if len(page):
                write_page(page)
            del page
            if next_offset is None:
                close_file(None, True)
                return
            cursor = next_offset
            if file_rows >= cfg.rows_per_file:
                close_file(next_offset, False)

    try:
        stream_pages()
    finally:
        # On an error, the write and the close in flight end before the caller looks at the
        # files; a file the close put on disk is recorded, so a resume does not write it again.
        io_pool.shutdown(wait=True)
        close_pool.shutdown(wait=True)
        if closing is not None and closing[0].exception() is None:
            check_close(wait=True)


def _write_manifest(
    work: Path,
    cfg: BackupConfig,
    source: str,
    server_version: str | None,
    entries: dict[str, CollectionEntry],
    slices: int,
    stamp: str,
) -> None:
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "tool": "qdrant-ops",
        "tool_version": __version__,
        "name": stamp,
        "created_at": _started_at(work),
        "completed_at": datetime.now(UTC).isoformat(),
        "complete": True,
        "source": {"url": source, "server_version": server_version},
        "options": {
            "compression": "zstd",
            "compression_level": cfg.compression_level,
            "batch_size": cfg.batch_size,
            "slices": slices,
            "rows_per_file": cfg.rows_per_file,
        },
        "collections": {name: e.to_json() for name, e in entries.items()},
    }
    for e in entries.values():
        for f in e.files:
            with_schema_check(work / f.path, e.fields)
    atomic_write_text(work / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def _started_at(work: Path) -> str:
    try:
        return (work / "started_at").read_text(encoding="utf-8").strip()
    except OSError:
        return datetime.now(UTC).isoformat()


def with_schema_check(path: Path, fields: list[VectorField]) -> None:
    import pyarrow.parquet as pq

    check_schema(pq.read_schema(path), fields, str(path))


def _finalise(work: Path, root: Path, stamp: str, tar: bool) -> Path:
    """Rename a finished partial directory into place, then drop its bookkeeping files.

    Renaming first means a run killed in between leaves either a partial directory that the
    rerun finds by its plan (and only renames), or a complete backup with stray state files.
    """
    final = root / stamp
    n = 1
    while final.exists():
        final = root / f"{stamp}-{n}"
        n += 1
    work.rename(final)
    fsync_dir(root)
    for leftover in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "plan.json", "started_at"):
        (final / leftover).unlink(missing_ok=True)
    if tar:
        return write_tar(final)
    return final
