"""A backup path as a place to read and write: a local directory or an object-store prefix.

Object stores go through ``pyarrow.fs`` (S3, GCS, Azure): it is already a dependency, streams
both ways and sends large files as multipart uploads (benchmarks/README.md compares the choices).
Credentials come from each cloud's standard chain, or from storage options: the URL's query
(``s3://bucket/prefix?endpoint_url=http://...``), ``--storage-option key=value``, and
``AWS_ENDPOINT_URL`` for S3-compatible stores (gs:// and az://: ``cloudfs``). Only ``display``
(no query, no credentials) is ever shown or recorded.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from qdrant_ops.errors import ConfigError
from qdrant_ops.repository.cloudfs import azure_filesystem, gcs_filesystem
from qdrant_ops.secrets import register_secret

REMOTE_SCHEMES = {"s3": "s3", "gs": "gs", "gcs": "gs", "az": "az", "abfs": "az", "abfss": "az"}
# Options whose values are credentials: registered so every output masks them.
SECRET_OPTIONS = ("access_key", "secret_key", "session_token", "account_key", "sas_token", "client_secret")
_S3_OPTIONS = {
    "access_key": "access_key",
    "secret_key": "secret_key",
    "session_token": "session_token",
    "region": "region",
    "role_arn": "role_arn",
    "anonymous": "anonymous",
    "force_virtual_addressing": "force_virtual_addressing",
}

_lock = threading.Lock()
_options: dict[str, str] = {}
# Options from a URL's query, by the URL they came with: a backup's own URL (shown without the
# query) opened later in the same command gets them too.
_url_options: dict[str, dict[str, str]] = {}


def set_storage_options(options: dict[str, str]) -> None:
    """Options for every object store this process opens (``--storage-option key=value``)."""
    for key in SECRET_OPTIONS:
        register_secret(options.get(key))
    with _lock:
        _options.clear()
        _options.update(options)


def parse_storage_options(items: list[str] | None) -> dict[str, str]:
    """``["key=value", ...]`` -> dict; a malformed item is a ConfigError naming it."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--storage-option wants key=value, got {item.split('=')[0]!r}")
        out[key.strip()] = value
    return out


def is_remote(location: str | Path) -> bool:
    """True for an object-store URL (s3://, gs://, az://); a plain path or file:// is local."""
    text = str(location)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in REMOTE_SCHEMES


def local_path(location: str | Path) -> Path:
    """A plain path, or the path of a ``file://`` URL."""
    text = str(location)
    if text.lower().startswith("file://"):
        return Path(urlsplit(text).path)
    return Path(text)


@dataclass
class Location:
    """An object-store prefix: ``fs`` and ``root`` (``bucket/prefix``) address it, ``display`` names it."""

    scheme: str
    fs: Any
    root: str
    display: str
    options: dict[str, str] = field(default_factory=dict, repr=False)

    def key(self, *parts: str) -> str:
        return "/".join([self.root, *(p.strip("/") for p in parts if p)])

    def url(self, *parts: str) -> str:
        return "/".join([self.display, *(p.strip("/") for p in parts if p)])

    def child(self, name: str) -> Location:
        return Location(self.scheme, self.fs, self.key(name), self.url(name), self.options)

    def parent(self) -> Location:
        """The prefix this one is a child of: a backup's repository."""
        return Location(self.scheme, self.fs, self.root.rsplit("/", 1)[0], self.display.rsplit("/", 1)[0], self.options)

    def cache_name(self) -> str:
        """A stable local directory name for this location (its staging and fetch caches)."""
        return hashlib.sha256(self.display.encode()).hexdigest()[:16]


def open_location(url: str) -> Location:
    """Parse an object-store URL and open its filesystem (no request is made here)."""
    parts = urlsplit(url)
    scheme = REMOTE_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ConfigError(f"not an object-store URL (s3://bucket/prefix, gs://, az://): {url.split('?')[0]}")
    query = dict(parse_qsl(parts.query))
    bare = url.split("?", 1)[0].rstrip("/")
    with _lock:
        options = dict(_options)
        if query:
            _url_options[bare] = query
        else:
            for known, extra in _url_options.items():
                if bare == known or bare.startswith(known + "/"):
                    options.update(extra)
    options.update(query)
    for key in SECRET_OPTIONS:
        register_secret(options.get(key))
    netloc, account = parts.netloc, None
    if scheme == "az" and parts.username and not parts.password and parts.hostname:
        # abfs://container@account.dfs.core.windows.net/prefix names the storage account.
        netloc, account = parts.username, parts.hostname.split(".")[0]
    elif parts.username or parts.password:
        raise ConfigError("credentials do not go in a backup URL; use the environment or --storage-option")
    root = f"{netloc}/{parts.path.strip('/')}".rstrip("/")
    display = f"{parts.scheme.lower()}://{parts.netloc}/{parts.path.strip('/')}".rstrip("/")
    return Location(scheme, _filesystem(scheme, options, account), root, display, options)


def s3_endpoint(options: dict[str, str]) -> str | None:
    """The S3-compatible endpoint: ``endpoint_url`` option, else AWS_ENDPOINT_URL(_S3)."""
    return options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def _filesystem(scheme: str, options: dict[str, str], account: str | None = None) -> Any:
    import pyarrow.fs as pafs

    known = dict(options)
    known.pop("endpoint_url", None)
    try:
        if scheme == "s3":
            kwargs: dict[str, Any] = {}
            endpoint = s3_endpoint(options)
            if endpoint:
                ep = urlsplit(endpoint)
                kwargs["endpoint_override"] = ep.netloc or ep.path
                kwargs["scheme"] = ep.scheme or "https"
            for key, value in known.items():
                if key not in _S3_OPTIONS:
                    raise ConfigError(f"unknown storage option {key!r} for s3:// (known: endpoint_url, "
                                      f"{', '.join(sorted(_S3_OPTIONS))})")
                kwargs[_S3_OPTIONS[key]] = value.lower() in ("1", "true", "yes") if key in (
                    "anonymous", "force_virtual_addressing") else value
            # One attempt per call: retries are the pipeline's policy (store.storage_call), not a second layer.
            kwargs["retry_strategy"] = pafs.AwsStandardS3RetryStrategy(max_attempts=1)
            kwargs.setdefault("region", os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
            return pafs.S3FileSystem(**kwargs)
        if scheme == "gs":
            return gcs_filesystem(options)
        return azure_filesystem(options, account)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"storage options for {scheme}:// are not valid: {type(exc).__name__}") from None


def cache_dir(kind: str, loc: Location) -> Path:
    """A local directory kept between runs for ``loc``: ``staging`` (a backup being written, so a
    rerun resumes it), ``fetch`` (a backup read back) or ``convert`` (a snapshot being turned into
    a backup). QDRANT_OPS_CACHE, else the XDG cache."""
    base = os.environ.get("QDRANT_OPS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qdrant-ops"
    )
    path = Path(base) / kind / loc.cache_name()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def state_root(location: str | Path) -> Path:
    """The local directory for a verb's state beside a backup path: the path itself, or for an
    object store the local cache kept for that URL (SQLite state cannot live in a bucket)."""
    if is_remote(location):
        base = os.environ.get("QDRANT_OPS_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qdrant-ops"
        )
        return Path(base) / "state" / hashlib.sha256(str(location).split("?")[0].encode()).hexdigest()[:16]
    return local_path(location)


LOCK_FILE = ".qdrant-ops.lock"
# The folder of lock objects inside a repository (repository/lock.py); never a backup.
LOCKS_DIR = "locks"


def repository_lock_path(location: str | Path) -> Path:
    """This machine's flock that ``backup``, ``forget`` and ``prune`` take before the repository's
    lock object (repository/lock.py): in the directory itself, or for an object store in its local
    staging cache, which it also guards."""
    if is_remote(location):
        return cache_dir("staging", open_location(str(location))) / LOCK_FILE
    return local_path(location) / LOCK_FILE
