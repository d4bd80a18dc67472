"""Streaming snapshot transfers over Qdrant's documented REST paths, with sha256 checks.

- download: ``GET /collections/{c}/snapshots/{name}`` (shard: ``/collections/{c}/shards/{id}/
  snapshots/{name}``), streamed to ``<dest>.partial`` while hashing, renamed into place only when
  the sha256 equals the checksum the server reported; a mismatch leaves nothing behind.
- upload: ``POST /collections/{c}/snapshots/upload?priority=..&checksum=..`` (shard: ``.../shards/
  {id}/snapshots/upload``), the file streamed as the multipart field ``snapshot``; the server checks
  the checksum we send.

The API key travels in the ``api-key`` header, never in a URL or a log line.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from qdrant_ops.errors import (
    EndpointError,
    IntegrityError,
    NotFoundError,
    TransientEndpointError,
    UsageError,
)
from qdrant_ops.format.integrity import sha256_file

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def snapshot_path(collection: str, name: str | None = None, shard_id: int | None = None) -> str:
    """The REST path of a collection's (or shard's) snapshots, or of one snapshot."""
    path = f"/collections/{quote(collection, safe='')}"
    if shard_id is not None:
        path += f"/shards/{int(shard_id)}"
    path += "/snapshots"
    if name is not None:
        path += f"/{quote(name, safe='')}"
    return path


def upload_url(base: str, collection: str, *, shard_id: int | None, priority: str | None, checksum: str | None) -> str:
    query = {k: v for k, v in (("wait", "true"), ("priority", priority), ("checksum", checksum)) if v}
    return base.rstrip("/") + snapshot_path(collection, shard_id=shard_id) + "/upload?" + urlencode(query)


def _headers(api_key: str | None) -> dict[str, str]:
    return {"api-key": api_key} if api_key else {}


@dataclass
class Downloaded:
    path: Path
    bytes: int
    sha256: str
    verified: bool


def _raise_for(status: int, what: str, body: str) -> None:
    detail = body.strip().splitlines()[0][:200] if body.strip() else ""
    suffix = f": {detail}" if detail else ""
    if status == 404:
        raise NotFoundError(f"{what}: not found (HTTP 404){suffix}")
    if status in (401, 403):
        raise EndpointError(f"{what}: refused (HTTP {status}); check the API key{suffix}")
    if status in (408, 429, 500, 502, 503, 504):
        raise TransientEndpointError(f"{what}: HTTP {status}{suffix}")
    raise EndpointError(f"{what}: HTTP {status}{suffix}")


def download(
    url: str,
    dest: Path,
    *,
    api_key: str | None = None,
    expected_sha256: str | None = None,
    timeout: float = 3600.0,
) -> Downloaded:
    """Stream ``url`` to ``dest``; the sha256 must equal ``expected_sha256`` when one is given."""
    import httpx

    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    what = f"download {url.split('?')[0]}"
    try:
        with httpx.stream("GET", url, headers=_headers(api_key), timeout=timeout, follow_redirects=True) as resp:
            if resp.status_code != 200:
                resp.read()
                _raise_for(resp.status_code, what, resp.text)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                for chunk in resp.iter_bytes(CHUNK):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        partial.unlink(missing_ok=True)
        raise TransientEndpointError(f"{what}: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    actual = digest.hexdigest()
    if expected_sha256 and actual.lower() != expected_sha256.lower():
        partial.unlink(missing_ok=True)
        raise IntegrityError(
            f"{what}: sha256 {actual} differs from the server's checksum {expected_sha256}; nothing kept",
            file=str(dest),
        )
    partial.replace(dest)
    log.info("downloaded %s (%d bytes, sha256 %s)", dest, size, actual)
    return Downloaded(dest, size, actual, bool(expected_sha256))


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def upload(
    base: str,
    collection: str,
    file: Path,
    *,
    api_key: str | None = None,
    shard_id: int | None = None,
    priority: str | None = None,
    checksum: str | None = None,
    timeout: float = 3600.0,
) -> dict[str, Any]:
    """Upload a snapshot file for recovery; returns the server's JSON answer."""
    import httpx

    if not file.is_file():
        raise NotFoundError(f"snapshot file not found: {file}")
    checksum = checksum or sha256_file(file)
    url = upload_url(base, collection, shard_id=shard_id, priority=priority, checksum=checksum)
    what = f"upload {file.name} to {base.rstrip('/')}{snapshot_path(collection, shard_id=shard_id)}"
    try:
        with file.open("rb") as fh:
            resp = httpx.post(
                url,
                headers=_headers(api_key),
                files={"snapshot": (file.name, fh, "application/octet-stream")},
                timeout=timeout,
            )
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        raise TransientEndpointError(f"{what}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        _raise_for(resp.status_code, what, resp.text)
    try:
        data = resp.json()
    except ValueError:
        raise EndpointError(f"{what}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise EndpointError(f"{what}: unexpected answer")
    return data


def rest_base(url: str | None, host: str | None, port: int | None, https: bool | None) -> str:
    """The REST base URL of an endpoint (gRPC URLs map to the same host on the REST port)."""
    from urllib.parse import urlsplit

    if host:
        return f"{'https' if https else 'http'}://{host}:{port or 6333}"
    if not url:
        raise UsageError("no server URL")
    parts = urlsplit(url)
    if parts.scheme in ("grpc", "grpcs"):
        scheme = "https" if parts.scheme == "grpcs" else "http"
        return f"{scheme}://{parts.hostname}:6333"
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{url} is not a server URL")
    host_port = parts.hostname or ""
    if parts.port:
        host_port += f":{parts.port}"
    return f"{parts.scheme}://{host_port}{parts.path.rstrip('/')}"
