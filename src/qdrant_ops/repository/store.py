"""Files to and from an object-store prefix: streamed, retried, the manifest last.

A store without rename cannot take a backup into place in one step, so a backup is published by
writing every data file to its final key and ``manifest.json`` last: a prefix without a manifest
is never a complete backup. A republish after a crash sends only the files not already there and
first aborts the multipart uploads the crash left open under the backup's prefix.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from qdrant_ops.errors import CorruptBackupError, EndpointError, LockedError, NotFoundError, TransientEndpointError
from qdrant_ops.pipeline.heap import release_free_heap
from qdrant_ops.pipeline.retry import RetryPolicy, call_with_retry
from qdrant_ops.repository.location import LOCKS_DIR, Location, s3_endpoint

log = logging.getLogger(__name__)
T = TypeVar("T")
MANIFEST = "manifest.json"
CHUNK = 8 << 20
# pyarrow uploads an S3 object in parts of exactly 10 MiB, in the background, and takes more
# writes without limit; ``_Paced`` keeps one part uploading beside the one being filled.
PART = 10 << 20
# A streamed file's bytes are handed to its sending thread in blocks of this size, two queued.
BLOCK = 1 << 20
# What pyarrow's S3/GCS/Azure clients say when trying again may work.
_TRANSIENT = ("NETWORK_CONNECTION", "SLOW_DOWN", "SERVICE_UNAVAILABLE", "INTERNAL_FAILURE",
              "REQUEST_TIMEOUT", "Timeout", "timed out", "Connection reset", "Couldn't connect",
              "curlCode: 7", "HTTP response code: 500", "HTTP response code: 503",
              "UNAVAILABLE", "Could not connect", "Fail to get a new connection")


# What no retry mends although its status says "unavailable": no credentials to be had (GCS).
_PERMANENT = ("OAuth2 access token",)


def _first_line(exc: BaseException) -> str:
    """A store error's first line, without the GCS client's trailing ``error_info={...}``."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__).split(" error_info=", 1)[0]


def storage_call(fn: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
    """``fn()`` with the pipeline's retry policy; a store error becomes an EndpointError (exit 3)."""
    from pyarrow import ArrowException  # GCS raises it bare for a credentials file it cannot read

    def once() -> T:
        try:
            return fn()
        except (OSError, ArrowException) as exc:
            text = str(exc)
            if any(t in text for t in _TRANSIENT) and not any(t in text for t in _PERMANENT):
                raise TransientEndpointError(f"{what}: {_first_line(exc)}") from None
            raise
    try:
        return call_with_retry(once, policy or RetryPolicy(), what=what)
    except TransientEndpointError as exc:
        raise EndpointError(f"{exc} (gave up after retries)") from None
    except (OSError, ArrowException) as exc:
        raise EndpointError(f"{what}: {_first_line(exc)}") from None


def list_files(loc: Location, prefix: str = "") -> dict[str, int]:
    """Relative path -> size of every file under ``loc`` (or under ``loc``/``prefix``)."""
    import pyarrow.fs as pafs

    base = loc.key(prefix) if prefix else loc.root

    def run() -> dict[str, int]:
        sel = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        out: dict[str, int] = {}
        for info in loc.fs.get_file_info(sel):
            if info.type == pafs.FileType.File:
                out[info.path[len(loc.root) + 1 :]] = int(info.size or 0)
        return out

    return storage_call(run, f"list {loc.url(prefix)}")


def list_dirs(loc: Location) -> list[str]:
    """Names of the ``directories`` directly under ``loc``."""
    import pyarrow.fs as pafs

    def run() -> list[str]:
        if loc.scheme == "gs":
            # pyarrow's GCS listing names only marker objects as directories, not the prefixes
            # our objects make (apache/arrow#35993): read them off a recursive listing instead.
            sel = pafs.FileSelector(loc.root, recursive=True, allow_not_found=True)
            rels = (i.path[len(loc.root) + 1 :] for i in loc.fs.get_file_info(sel))
            return sorted({rel.split("/", 1)[0] for rel in rels if "/" in rel})
        sel = pafs.FileSelector(loc.root, recursive=False, allow_not_found=True)
        return sorted(i.base_name for i in loc.fs.get_file_info(sel) if i.type == pafs.FileType.Directory)

    return storage_call(run, f"list {loc.display}")


def _open_input(loc: Location, key: str) -> Any:
    """``loc.fs.open_input_stream(key)``; on Azure a metadata request first, because pyarrow's
    Azure input stream aborts the whole process when no token can be had (DefaultAzureCredential
    finding none), where a metadata request fails with an error."""
    if loc.scheme == "az":
        import pyarrow.fs as pafs

        if loc.fs.get_file_info(key).type == pafs.FileType.NotFound:
            raise FileNotFoundError(key)
    return loc.fs.open_input_stream(key)


def read_text(loc: Location, rel: str) -> str | None:
    """A small object's text, or None when it does not exist."""

    def run() -> str | None:
        try:
            with _open_input(loc, loc.key(rel)) as fh:
                return bytes(fh.read()).decode("utf-8")
        except FileNotFoundError:
            return None

    return storage_call(run, f"read {loc.url(rel)}")


def upload(local: Path, loc: Location, rel: str) -> None:
    """Stream one local file to ``loc``/``rel`` (multipart for large files), retried as a whole."""

    def run() -> None:
        with open(local, "rb") as src, loc.fs.open_output_stream(loc.key(rel), metadata={}) as dst:
            paced = _Paced(dst)
            while chunk := src.read(CHUNK):
                paced.write(chunk)

    storage_call(run, f"upload {loc.url(rel)}")
    release_free_heap()  # the last parts' buffers, freed on the client's threads


class _Paced:
    """Writes to a store's output stream, waiting for the part uploading before the next one is
    complete, so at most one part uploads while the next fills: without the wait, a store slower
    than the writer would see the whole file held in memory. Each write is at most ``PART``."""

    def __init__(self, dst: Any) -> None:
        self.dst = dst
        self.total = 0

    def write(self, data: Any) -> None:
        if self.total >= PART and self.total // PART != (self.total + len(data)) // PART:
            self.dst.flush()  # pyarrow's flush waits for the parts uploading; it sends no part
            # The part was freed on the client's threads, in glibc arenas the next may not reuse.
            release_free_heap()
        self.dst.write(data)
        self.total += len(data)


def download(loc: Location, rel: str, local: Path) -> None:
    """Stream ``loc``/``rel`` into a local file (written aside, renamed when whole)."""
    tmp = local.with_name(f".{local.name}.part")

    def run() -> None:
        try:
            with _open_input(loc, loc.key(rel)) as src, open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
        except FileNotFoundError:
            raise CorruptBackupError(f"{loc.url(rel)}: file missing from the backup", file=loc.url(rel)) from None
        tmp.replace(local)

    storage_call(run, f"download {loc.url(rel)}")


@dataclass
class OpenUpload:
    """A multipart upload left open under a prefix: its key, id, start time and bytes sent."""

    key: str
    upload_id: str
    initiated: str
    bytes: int


def _s3_client(loc: Location) -> Any | None:
    """A boto3 client for ``loc`` (pyarrow cannot list uploads; boto3 shares the credential
    chain), or None with a warning when boto3 is not installed."""
    try:
        import boto3
    except ImportError:
        log.warning("boto3 is not installed: open multipart uploads under %s were not checked", loc.display)
        return None
    opts = loc.options
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint(opts),
        aws_access_key_id=opts.get("access_key"),
        aws_secret_access_key=opts.get("secret_key"),
        aws_session_token=opts.get("session_token"),
        region_name=opts.get("region"),
    )


def _boto_call(fn: Callable[[], T], what: str) -> T:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call_with_retry(fn, RetryPolicy(), what=what)
    except (BotoCoreError, ClientError) as exc:
        raise EndpointError(f"{what}: {type(exc).__name__}") from None


def open_uploads(loc: Location, *, sizes: bool = False) -> list[OpenUpload]:
    """The multipart uploads open under ``loc`` (S3 only; none elsewhere), with the bytes their
    parts hold when ``sizes``."""
    if loc.scheme != "s3":
        return []
    client = _s3_client(loc)
    if client is None:
        return []
    bucket, _, prefix = loc.root.partition("/")

    def run() -> list[OpenUpload]:
        out: list[OpenUpload] = []
        pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix + "/" if prefix else "")
        for page in pages:
            for up in page.get("Uploads", []):
                size = 0
                if sizes:
                    parts = client.get_paginator("list_parts").paginate(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
                    size = sum(int(p.get("Size", 0)) for pp in parts for p in pp.get("Parts", []))
                initiated = up.get("Initiated")
                out.append(OpenUpload(up["Key"], up["UploadId"], initiated.isoformat() if initiated else "", size))
        return out

    return _boto_call(run, f"listing multipart uploads under {loc.display}")


def abort_uploads(loc: Location, uploads: list[OpenUpload]) -> int:
    """Abort ``uploads`` (from ``open_uploads(loc)``); how many were aborted."""
    if not uploads:
        return 0
    client = _s3_client(loc)
    if client is None:
        return 0
    bucket = loc.root.partition("/")[0]

    def run() -> int:
        for up in uploads:
            client.abort_multipart_upload(Bucket=bucket, Key=up.key, UploadId=up.upload_id)
        return len(uploads)

    return _boto_call(run, f"aborting multipart uploads under {loc.display}")


def abort_multipart(loc: Location) -> int:
    """Abort the multipart uploads left open under ``loc`` (an S3 upload killed mid-way); their count.

    Without boto3 the cleanup is skipped with a warning.
    """
    return abort_uploads(loc, open_uploads(loc))


@dataclass
class Published:
    url: str
    uploaded: int = 0
    reused: int = 0
    aborted: int = 0


# Bookkeeping files of a local work directory that never leave the machine.
REMOTE_NAME = "remote_name"
_LOCAL_ONLY = {"state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "plan.json", "started_at", REMOTE_NAME, MANIFEST}


def remote_target(work: Path, repo: Location, stamp: str) -> tuple[Location, int]:
    """Where the backup being built in ``work`` goes, and how many multipart uploads an earlier,
    interrupted run left open there (now aborted). The name is chosen once, a prefix no object
    is under yet (two backups in one second: ``<stamp>-1``), and kept in ``work``."""
    from qdrant_ops._fs import atomic_write_text

    marker = work / REMOTE_NAME
    if marker.is_file():
        name = marker.read_text(encoding="utf-8").strip()
    else:
        for n in range(1000):
            name = stamp if n == 0 else f"{stamp}-{n}"
            if not list_files(repo.child(name)):
                break
        atomic_write_text(marker, name)
    target = repo.child(name)
    return target, abort_multipart(target)


class StreamedFile:
    """A local file being written, its bytes hashed and sent on to ``target``/``rel`` by a thread
    of its own as they come, so the upload runs beside the scan instead of after it: the writer
    hands over blocks of ``BLOCK`` bytes and waits only when two are still queued.

    The local file stays the one the checkpoint records: if the store fails mid-way, the stream is
    given up and the finished file is uploaded whole once recorded, as an unstreamed one is. The
    object exists once ``finish`` completes its upload, before the checkpoint records the file (a
    run killed in between writes and sends it again); ``publish`` checks every size before the
    manifest. pyarrow cannot abort an upload, so one given up may leave a part-object at the key
    until the whole file replaces it."""

    def __init__(self, path: Path, target: Location, rel: str, done: set[str], turn: threading.Lock) -> None:
        self.path, self.rel, self._done, self._turn = path, rel, done, turn
        self._sent = False
        self._fh = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
        self._sha = hashlib.sha256()
        self._block = bytearray()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._ok = True
        self._dst: Any = None
        try:
            self._dst = target.fs.open_output_stream(target.key(rel), metadata={})
        except OSError as exc:
            self._ok = False
            log.info("streaming %s: %s; it is uploaded once written", rel, _first_line(exc))
            return
        self._thread = threading.Thread(target=self._send, name=f"stream-{path.name}", daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._fh.closed

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._fh.tell()

    def write(self, data: Any) -> int:
        n = self._fh.write(data)
        self._sha.update(data)
        if self._ok:
            self._block += data
            while len(self._block) >= BLOCK:
                self._queue.put(bytes(self._block[:BLOCK]))  # waits while two blocks are queued
                del self._block[:BLOCK]
        return n

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        """Close the local file (the Parquet writer closes its sink); the upload goes on."""
        self._fh.close()

    def sha256(self) -> str:
        return self._sha.hexdigest()

    def finish(self) -> None:
        """Send the rest and complete the upload; on success ``rel`` joins ``done`` (no upload is
        needed after it)."""
        if self._dst is None:
            return
        if self._ok and self._block:
            self._queue.put(bytes(self._block))
        self._block = bytearray()
        self._queue.put(None)
        self._thread.join()
        self._dst = None
        if self._sent:
            self._done.add(self.rel)

    def abandon(self) -> None:
        """Stop sending (the backup failed with the file open); the thread ends."""
        self._ok = False
        if self._dst is not None:
            self._queue.put(None)
            self._thread.join()

    def _send(self) -> None:
        paced = _Paced(self._dst)
        # One file of a slice uploads at a time: the next file's blocks wait in its queue (and its
        # writer with them) while the last parts of the one before complete.
        with self._turn:
            while (block := self._queue.get()) is not None:
                if not self._ok:
                    continue  # drained until the end marker
                try:
                    paced.write(block)
                except OSError as exc:
                    self._ok = False
                    log.info("streaming %s: %s; it is uploaded once written", self.rel, _first_line(exc))
            if not self._ok:
                # Closed here, before the whole file is uploaded: pyarrow cannot abort an upload,
                # and its closing later could complete a part-object over the whole one.
                try:
                    self._dst.close()
                except OSError:
                    pass
                return
            try:
                self._dst.close()
            except OSError as exc:
                log.info("streaming %s: %s; it is uploaded again", self.rel, _first_line(exc))
                return
            release_free_heap()
            self._sent = True


def send_staged(path: Path, work: Path, target: Location, sent: set[str], streamed: set[str] | None = None) -> None:
    """Send one finished, recorded file of the backup in ``work`` to its final key (unless it was
    ``streamed`` there whole as it was written); drop it here."""
    rel = path.relative_to(work).as_posix()
    if streamed is None or rel not in streamed:
        upload(path, target, rel)
    sent.add(rel)
    path.unlink()


def publish(work: Path, target: Location, sent: set[str] | None = None) -> Published:
    """Send what is left of a finished backup directory to ``target`` (the manifest's checksum
    sidecar among it), check that every file the manifest names is there with its size, write the
    manifest last, then remove ``work``.

    ``sent``: the files this run already sent. A target holding this very manifest is this
    backup, published by a run killed before its cleanup.
    """
    sent = sent if sent is not None else set()
    mine = (work / MANIFEST).read_text(encoding="utf-8")
    there_manifest = read_text(target, MANIFEST)
    if there_manifest == mine:
        shutil.rmtree(work)
        return Published(url=target.display, reused=len(list_files(target)) - 1)
    if there_manifest is not None:
        raise LockedError(f"{target.display} holds another backup's manifest; remove {work} to start over")
    out = Published(url=target.display, aborted=abort_multipart(target))
    there = list_files(target)
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        rel = path.relative_to(work).as_posix()
        if rel in _LOCAL_ONLY or path.name.startswith("."):
            continue
        if there.get(rel) != path.stat().st_size:  # Azure shows a blob being written as empty
            upload(path, target, rel)
            sent.add(rel)
    there = list_files(target)
    expected = manifest_sizes(json.loads(mine))
    for rel, size in expected.items():
        if there.get(rel) != size:
            raise CorruptBackupError(
                f"{target.url(rel)}: missing from the store or of the wrong size; remove {work} to start over",
                file=target.url(rel),
            )
    out.uploaded = len(sent & set(expected))
    out.reused = len(expected) - out.uploaded
    upload(work / MANIFEST, target, MANIFEST)
    shutil.rmtree(work)
    return out


def manifest_sizes(manifest: dict[str, Any]) -> dict[str, int]:
    """Relative path -> bytes of every file a manifest names."""
    out: dict[str, int] = {}
    for entry in dict(manifest.get("collections") or {}).values():
        files = [*entry.get("files", []), *(entry.get("snapshots", []) or []), *(entry.get("index_files", []) or [])]
        for f in files + ([entry["deleted"]] if entry.get("deleted") else []):
            out[str(f["path"])] = int(f["bytes"])
    return out


def manifest_files(manifest: dict[str, Any]) -> list[str]:
    """Every relative path a manifest names: data files and native snapshots."""
    out: list[str] = []
    for entry in dict(manifest.get("collections") or {}).values():
        out.extend(str(f["path"]) for f in entry.get("files", []))
        out.extend(str(f["path"]) for f in entry.get("index_files", []) or [])
        if entry.get("deleted"):
            out.append(str(entry["deleted"]["path"]))
        out.extend(str(s["path"]) for s in entry.get("snapshots", []) or [] if "path" in s)
    return out


def find_backup(loc: Location) -> Location:
    """``loc`` itself when it holds a manifest, else its newest child that does."""
    if read_text(loc, MANIFEST) is not None:
        return loc
    names = [n for n in list_dirs(loc) if n != LOCKS_DIR]
    for name in sorted(names, reverse=True):
        if read_text(loc.child(name), MANIFEST) is not None:
            return loc.child(name)
    hint = f" (incomplete, no manifest: {', '.join(names)})" if names else ""
    raise NotFoundError(f"no complete backup in {loc.display}{hint}")


def fetch(loc: Location, cache: Path) -> Path:
    """The backup at ``loc`` as a local directory under ``cache``, every file streamed afresh (a
    copy left by an earlier run would hide a change in the store from verify). The directory stays
    between runs for restore's resume state; the data files are removed when the process ends."""
    backup = find_backup(loc)
    text = read_text(backup, MANIFEST) or ""
    try:
        data = json.loads(text)
        files = manifest_files(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CorruptBackupError(f"{backup.url(MANIFEST)}: manifest unreadable: {exc}", file=backup.url(MANIFEST)) from None
    name = backup.root.rsplit("/", 1)[-1] or "backup"
    dest = cache / name
    from qdrant_ops.endpoints.archive import MANIFEST_SHA256, safe_member

    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    sizes = list_files(backup)
    for rel in files:
        local = safe_member(dest, rel)
        local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if rel not in sizes:
            raise CorruptBackupError(f"{backup.url(rel)}: file missing from the backup", file=backup.url(rel))
        atexit.register(_remove, local)
        download(backup, rel, local)
    (dest / MANIFEST).write_bytes(text.encode("utf-8"))
    sidecar = read_text(backup, MANIFEST_SHA256)  # the manifest's own checksum, when it has one
    if sidecar is not None:
        (dest / MANIFEST_SHA256).write_bytes(sidecar.encode("utf-8"))
    else:
        (dest / MANIFEST_SHA256).unlink(missing_ok=True)
    if any(e.get("parent") for e in dict(data.get("collections") or {}).values()):
        # An incremental backup reads through its parents: they are fetched beside it.
        from qdrant_ops.repository.links import StoreOrigin, bring_parents

        for path in bring_parents(dest, StoreOrigin(backup.parent())):
            atexit.register(_remove, path)
    return dest


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def delete_prefix(loc: Location, first: str | None = None) -> None:
    """Delete every object under ``loc``, ``first`` (the manifest) before the others."""

    def run() -> None:
        if first is not None:
            try:
                loc.fs.delete_file(loc.key(first))
            except FileNotFoundError:
                pass
        loc.fs.delete_dir_contents(loc.root, missing_dir_ok=True)
        try:
            loc.fs.delete_dir(loc.root)
        except (FileNotFoundError, OSError):
            pass  # an object store has no directory left to remove

    storage_call(run, f"delete {loc.display}")


def send_file(local: Path, url: str, rel: str) -> str:
    """Upload one finished local file to ``url``/``rel``, remove the local copy; the object's URL."""
    from qdrant_ops.repository.location import open_location

    loc = open_location(url)
    upload(local, loc, rel)
    local.unlink()
    return loc.url(rel)
