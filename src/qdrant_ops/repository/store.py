"""Files to and from an object-store prefix: streamed, retried, the manifest last.

A store without rename cannot take a backup into place in one step, so a backup is published by
writing every data file to its final key and ``manifest.json`` last: a prefix without a manifest
is never a complete backup. A republish after a crash sends only the files not already there and
first aborts the multipart uploads the crash left open under the backup's prefix.
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from qdrant_ops.errors import CorruptBackupError, EndpointError, LockedError, NotFoundError, TransientEndpointError
from qdrant_ops.pipeline.retry import RetryPolicy, call_with_retry
from qdrant_ops.repository.location import LOCKS_DIR, Location, s3_endpoint

log = logging.getLogger(__name__)
T = TypeVar("T")
MANIFEST = "manifest.json"
CHUNK = 8 << 20
# What pyarrow's S3/GCS/Azure clients say when trying again may work.
_TRANSIENT = ("NETWORK_CONNECTION", "SLOW_DOWN", "SERVICE_UNAVAILABLE", "INTERNAL_FAILURE",
              "REQUEST_TIMEOUT", "Timeout", "timed out", "Connection reset", "Couldn't connect",
              "curlCode: 7", "HTTP response code: 500", "HTTP response code: 503")


def storage_call(fn: Callable[[], T], what: str, policy: RetryPolicy | None = None) -> T:
    """``fn()`` with the pipeline's retry policy; a store error becomes an EndpointError (exit 3)."""

    def once() -> T:
        try:
            return fn()
        except OSError as exc:
            text = str(exc)
            if any(t in text for t in _TRANSIENT):
                raise TransientEndpointError(f"{what}: {text.splitlines()[0] if text else 'error'}") from None
            raise
    try:
        return call_with_retry(once, policy or RetryPolicy(), what=what)
    except TransientEndpointError as exc:
        raise EndpointError(f"{exc} (gave up after retries)") from None
    except OSError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EndpointError(f"{what}: {first}") from None


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
        sel = pafs.FileSelector(loc.root, recursive=False, allow_not_found=True)
        return sorted(i.base_name for i in loc.fs.get_file_info(sel) if i.type == pafs.FileType.Directory)

    return storage_call(run, f"list {loc.display}")


def read_text(loc: Location, rel: str) -> str | None:
    """A small object's text, or None when it does not exist."""

    def run() -> str | None:
        try:
            with loc.fs.open_input_stream(loc.key(rel)) as fh:
                return bytes(fh.read()).decode("utf-8")
        except FileNotFoundError:
            return None

    return storage_call(run, f"read {loc.url(rel)}")


def upload(local: Path, loc: Location, rel: str) -> None:
    """Stream one local file to ``loc``/``rel`` (multipart for large files), retried as a whole."""

    def run() -> None:
        with open(local, "rb") as src, loc.fs.open_output_stream(loc.key(rel), metadata={}) as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)

    storage_call(run, f"upload {loc.url(rel)}")


def download(loc: Location, rel: str, local: Path) -> None:
    """Stream ``loc``/``rel`` into a local file (written aside, renamed when whole)."""
    tmp = local.with_name(f".{local.name}.part")

    def run() -> None:
        try:
            with loc.fs.open_input_stream(loc.key(rel)) as src, open(tmp, "wb") as dst:
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


def send_staged(path: Path, work: Path, target: Location, sent: set[str]) -> None:
    """Send one finished, recorded file of the backup in ``work`` to its final key; drop it here."""
    rel = path.relative_to(work).as_posix()
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
        if there.get(rel) != path.stat().st_size:  # an object exists only once its upload completed
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
        for f in list(entry.get("files", [])) + list(entry.get("snapshots", []) or []):
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
