"""One backup slice's Parquet file series: pages in, checksummed files recorded in the checkpoint.

Parquet encoding and zstd run in C without the GIL: each batch is written by a background thread
while the next page is encoded and hashed, one write in flight at a time, in order; its error
surfaces at the next wait. A full file that is not the last is closed (footer, fsync, sha256) by a
second thread while the scan and the next file's writes go on, and recorded in the checkpoint by
the scanning thread once it is on disk. The last file is closed on the scanning thread. The
threads start on first use: a backup of one file starts no closing thread. To an object store,
each file's bytes are also streamed to its key as they are written (``store.StreamedFile``) and
hashed as written; the close then completes the upload.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from qdrant_ops._fs import fsync_dir, fsync_file
from qdrant_ops.endpoints.archive import FileEntry
from qdrant_ops.endpoints.base import ScanPage, VectorField
from qdrant_ops.format.columns import encode_columns, text_array
from qdrant_ops.format.integrity import Digest, digest_batch, sha256_file
from qdrant_ops.format.payload import encode_payloads_raw
from qdrant_ops.pipeline.checkpoint import Checkpoint
from qdrant_ops.progress import ProgressTask

# What a close returns: the file's size and sha256.
Closed = tuple[int, str]


class SliceWriter:
    """Writes slice ``index`` of collection ``name`` as ``part-<index>-<seq>.parquet`` files in
    ``cdir``, ``rows_per_file`` rows or more each, and records each finished file in ``state``.

    Use as a context manager: on leaving, the write and the close in flight end, and a file the
    close put on disk is recorded, so a resume does not write it again.
    """

    def __init__(
        self,
        *,
        name: str,
        index: int,
        cdir: Path,
        state: Checkpoint,
        fields: list[VectorField],
        compression_level: int,
        finite: bool,
        task: ProgressTask,
        next_seq: int,
        rows_done: int,
        on_file: Callable[[Path], None] | None = None,
        parent_index: dict[int | str, int] | None = None,
        incremental: bool = False,
        stream: Callable[[Path, threading.Lock], Any] | None = None,
    ) -> None:
        from qdrant_ops.format.columns import arrow_schema

        self.name = name
        self.index = index
        self.cdir = cdir
        self.state = state
        self.fields = fields
        self.schema = arrow_schema(fields)
        self.compression_level = compression_level
        self.finite = finite
        self.task = task
        self.seq = next_seq  # the number of the next file
        self.rows_done = rows_done  # rows in the files recorded or closing
        self.on_file = on_file  # called with each file once the checkpoint records it
        self.writer: Any = None  # the open file's ParquetWriter
        # To an object store: opens each file as a sink that sends its bytes on as they are written
        # (``store.StreamedFile``), and whose sha256 is taken as written.
        self.stream = stream
        self.sink: Any = None
        self._turn = threading.Lock()  # held by the file uploading, one at a time
        self.path: Path | None = None
        self.file_rows = 0
        self.file_digest = Digest()
        self._io_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{name}-{index}")
        self._close_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"close-{name}-{index}")
        self._in_flight: Future[Any] | None = None
        # The close in flight and what records its file once it is on disk.
        self._closing: tuple[Future[Closed], Callable[[Closed], None]] | None = None
        # Incremental (repository/chain.py): every scanned point goes to the index file of this
        # file's number; only points whose hash differs from the parent's go to the data file.
        self.incremental = incremental
        self.parent_index = parent_index or {}
        self.index_ids: list[Any] = []
        self.index_hashes: list[int | None] = []
        self.scanned = Digest()
        self.data_rows = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._io_pool.shutdown(wait=True)
        self._close_pool.shutdown(wait=True)
        if self.sink is not None:  # a file left open by an error: its stream stops
            self.sink.abandon()
        if self._closing is not None and self._closing[0].exception() is None:
            self._check_close(wait=True)

    def write_page(self, page: ScanPage) -> None:
        """Encode, hash and queue one page's rows for the open file (opened here if none is).

        Nothing of the page is kept once this returns, besides the write in flight, so the
        caller can drop it before reading the next page.
        """
        fields = self.fields
        rows = len(page)
        # One vector field: its matrix straight from the engine's records where it can be.
        cols, matrix = page.columns_with_matrix(fields[0]) if len(fields) == 1 else (page.columns, None)
        texts, canonical = encode_payloads_raw(cols.payloads, finite=self.finite)
        dense = {fields[0].name: matrix} if matrix is not None else None
        batch = encode_columns(cols, fields, texts=text_array(texts), dense=dense)
        self.file_rows += rows
        self.task.advance(rows, nbytes=batch.nbytes)
        if not self.incremental:
            self._write_batch(batch, canonical=canonical)
            return
        changed, digest = self._changed_rows(batch, canonical)
        if changed.num_rows:
            self._write_batch(changed, digest=digest)

    def _changed_rows(self, batch: Any, canonical: list[bytes]) -> tuple[Any, Digest]:
        """Index every row of ``batch``; the rows new or changed since the parent, and their digest."""
        import pyarrow as pa

        from qdrant_ops.repository.chain import fast_ids

        hashes: list[int] = []
        whole = digest_batch(batch, self.fields, canonical=canonical, hashes=hashes)
        self.scanned.add(whole)
        ids = fast_ids(batch)
        self.index_ids.extend(ids)
        parent = self.parent_index
        keep = [parent.get(pid) != h for pid, h in zip(ids, hashes, strict=True)]
        self.index_hashes.extend(h if k else None for h, k in zip(hashes, keep, strict=True))
        if all(keep):
            return batch, whole
        changed = batch.filter(pa.array(keep, pa.bool_()))
        kept = [c for c, k in zip(canonical, keep, strict=True) if k]
        return changed, digest_batch(changed, self.fields, canonical=kept)

    def _write_batch(self, batch: Any, *, digest: Digest | None = None, canonical: list[bytes] | None = None) -> None:
        """Queue ``batch`` for the open file; its digest is ``digest``, or hashed from ``canonical``
        while the write runs."""
        import pyarrow.parquet as pq

        rows = batch.num_rows
        if self.writer is None:
            self.path = self.cdir / f"part-{self.index:03d}-{self.seq:05d}.parquet"
            if self.stream is not None:
                self.sink = self.stream(self.path, self._turn)
            else:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            self.writer = pq.ParquetWriter(
                self.sink if self.sink is not None else self.path,
                self.schema,
                compression="zstd",
                compression_level=self.compression_level,
                write_statistics=True,
                # Dictionary pages never pay here (float vectors, mostly unique payloads) and
                # cost most of the write time.
                use_dictionary=False,
            )
        self._check_close(wait=False)  # a closed file is recorded, a failed close fails the backup, now
        self._wait_write()
        self._in_flight = self._io_pool.submit(self.writer.write_batch, batch, row_group_size=rows)
        self.file_digest.add(digest if digest is not None else digest_batch(batch, self.fields, canonical=canonical))
        self.data_rows += rows

    def roll_over(self, next_offset: Any) -> None:
        """Close the open file on the closing thread; the slice resumes at ``next_offset``."""
        self._close_file(next_offset, done=False)

    def finish(self) -> None:
        """Close the last file here and record the slice as done."""
        self._close_file(None, done=True)

    def _wait_write(self) -> None:
        if self._in_flight is not None:
            done_write, self._in_flight = self._in_flight, None
            done_write.result()

    def _check_close(self, *, wait: bool) -> None:
        """Record the file the last close put on disk, waiting for it (``wait``) or only if the
        close is over; the close's error is raised here."""
        if self._closing is not None and (wait or self._closing[0].done()):
            (done_close, record), self._closing = self._closing, None
            record(done_close.result())

    def _close_file(self, next_offset: Any, done: bool) -> None:
        self._wait_write()
        self._check_close(wait=True)  # files are recorded in order
        if self.incremental:
            self._close_incremental(next_offset, done)
            return
        if self.writer is None or self.path is None:
            self.state.save_slice(
                self.name, self.index, offset=next_offset, done=done, next_seq=self.seq, rows=self.rows_done
            )
            return
        w, file, rows, digest, sink = self.writer, self.path, self.file_rows, self.file_digest, self.sink
        self.writer, self.path, self.file_rows, self.file_digest, self.sink = None, None, 0, Digest(), None
        self.data_rows = 0
        self.seq += 1
        self.rows_done += rows
        next_seq, rows_upto = self.seq, self.rows_done

        def record(result: Closed) -> None:
            size, checksum = result
            item = FileEntry(
                path=f"{self.cdir.name}/{file.name}", rows=rows, bytes=size, sha256=checksum, digest=digest
            ).to_json()
            self.state.save_slice(
                self.name, self.index, offset=next_offset, done=done, next_seq=next_seq, rows=rows_upto, item=item
            )
            if self.on_file is not None:
                self.on_file(file)

        if done:  # the last file: nothing is left to overlap with its close
            record(_finish_file(w, file, sink))
        else:
            self._closing = self._close_pool.submit(_finish_file, w, file, sink), record

    def _close_incremental(self, next_offset: Any, done: bool) -> None:
        """Close this number's data file (if any row changed) and write its index file, here;
        the checkpoint item is the data file's entry with the index's under ``index``."""
        if not self.index_ids:
            self.state.save_slice(
                self.name, self.index, offset=next_offset, done=done, next_seq=self.seq, rows=self.rows_done
            )
            return
        from qdrant_ops.repository.chain import ids_file_arrays, write_ids

        item: dict[str, Any] = {"path": "", "rows": 0, "bytes": 0, "sha256": ""}
        data_file = self.path if self.writer is not None else None
        if self.writer is not None and self.path is not None:
            size, checksum = _finish_file(self.writer, self.path, self.sink)
            item = FileEntry(
                path=f"{self.cdir.name}/{self.path.name}", rows=self.data_rows, bytes=size, sha256=checksum,
                digest=self.file_digest,
            ).to_json()
        index_path = self.cdir / f"index-{self.index:03d}-{self.seq:05d}.parquet"
        write_ids(index_path, *ids_file_arrays(self.index_ids), self.index_hashes)
        size, checksum = _sync_file(index_path)
        item["index"] = FileEntry(
            path=f"{self.cdir.name}/{index_path.name}", rows=len(self.index_ids), bytes=size, sha256=checksum,
            digest=self.scanned,
        ).to_json()
        self.seq += 1
        self.rows_done += self.file_rows
        self.state.save_slice(
            self.name, self.index, offset=next_offset, done=done, next_seq=self.seq, rows=self.rows_done, item=item
        )
        self.writer, self.path, self.file_rows, self.file_digest, self.sink = None, None, 0, Digest(), None
        self.data_rows, self.index_ids, self.index_hashes, self.scanned = 0, [], [], Digest()
        # The data file goes to an object store now; the index stays until the deleted ids are known.
        if data_file is not None and self.on_file is not None:
            self.on_file(data_file)


def _sync_file(file: Path) -> Closed:
    os.chmod(file, 0o600)
    fsync_file(file)
    fsync_dir(file.parent)
    return file.stat().st_size, sha256_file(file)


def _finish_file(w: Any, file: Path, sink: Any = None) -> Closed:
    w.close()
    if sink is not None:
        sink.close()
    os.chmod(file, 0o600)
    # On disk before the checkpoint names it done: a resume after a crash skips done files.
    fsync_file(file)
    fsync_dir(file.parent)
    if sink is None:
        return file.stat().st_size, sha256_file(file)
    sink.finish()
    return file.stat().st_size, sink.sha256()
