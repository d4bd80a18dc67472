"""Endpoint addresses: URIs, config blocks and QDRANT_* variables, parsed in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator

from qdrant_ops.config.base import Model
from qdrant_ops.errors import UsageError

ENV_URL = "QDRANT_URL"
ENV_HOST = "QDRANT_HOST"
ENV_PORT = "QDRANT_PORT"
ENV_API_KEY = "QDRANT_API_KEY"


# --------------------------------------------------------------------------------------------
# Endpoints

EndpointKind = Literal["remote", "local", "memory", "edge", "source"]


@dataclass(frozen=True)
class ResolvedEndpoint:
    """An endpoint address parsed once: what opens it reads these instead of the config's fields.

    ``location`` is the store directory (``local``, ``edge``), ``:memory:``, or the server URL
    (``remote``; empty for the ``host`` form, whose parts stay on the config).
    """

    kind: EndpointKind
    location: str
    display: str


class EndpointConfig(Model):
    """Where points live: ``{url}``, ``{host, port, ...}`` or ``{path}``, each with api_key/timeout.

    ``url`` also accepts ``:memory:``, ``edge:DIR`` and a plain directory path, so every form an
    endpoint can take on the command line works in a config file too.
    """

    url: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    https: bool | None = None
    grpc_port: int | None = Field(default=None, ge=1, le=65535)
    prefer_grpc: bool = False
    path: str | None = None
    api_key: SecretStr | None = None
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        # ``source: http://host:6333`` in a config file reads like ``--source`` on the command line.
        if isinstance(data, str):
            return _uri_fields(data)
        return data

    @model_validator(mode="after")
    def _one_form(self) -> EndpointConfig:
        forms = [x for x in (self.url, self.host, self.path) if x]
        if len(forms) > 1:
            raise ValueError("give only one of url, host or path")
        problem = uri_problem(self.url) if self.url else None
        if problem is None and self.path and self.path != ":memory:":
            problem = _path_problem(self.path)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def is_set(self) -> bool:
        return bool(self.url or self.host or self.path)

    def resolve(self) -> ResolvedEndpoint:
        """The one place an address's kind and location are decided (not cached: a
        ``model_copy(update=...)`` would carry a stale one)."""
        display = self.display()
        if self.path:
            if self.path == ":memory:":
                return ResolvedEndpoint("memory", ":memory:", display)
            return ResolvedEndpoint("local", self.path, display)
        if self.host:
            return ResolvedEndpoint("remote", "", display)
        url = self.url or ""
        if url == ":memory:":
            return ResolvedEndpoint("memory", ":memory:", display)
        if url.startswith("edge:"):
            return ResolvedEndpoint("edge", url[len("edge:") :], display)
        if _is_source(url):  # another vector database, read-only (endpoints/sources)
            return ResolvedEndpoint("source", url, display)
        if re.match(r"^(https?|grpcs?)://", url):
            return ResolvedEndpoint("remote", url, display)
        return ResolvedEndpoint("local", url, display)

    def kind(self) -> EndpointKind:
        return self.resolve().kind

    def display(self) -> str:
        """The endpoint as a string safe to log: never holds credentials."""
        if self.path:
            return self.path
        if self.host:
            scheme = "https" if self.https else "http"
            port = self.port or 6333
            return f"{scheme}://{self.host}:{port}"
        return redact_url(self.url or "")


def _is_source(uri: str) -> bool:
    from qdrant_ops.endpoints.sources import is_source_uri

    return is_source_uri(uri)


def redact_url(url: str) -> str:
    """Drop user:password and query parameters (api keys travel there) from a URL."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # the port as written, even one that is not a number
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


REMOTE_SCHEMES = ("http", "https", "grpc", "grpcs")
URI_FORMS = "http(s)://HOST:PORT, grpc(s)://HOST:PORT, edge:DIR, :memory: or a directory path"
# ``scheme:`` at the start of an address; one letter is a Windows drive, not a scheme.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def _path_problem(path: str) -> str | None:
    """Why a plain path is really a mistyped URL (``htp://host``, ``localhost:6333``), or None."""
    m = _SCHEME.match(path)
    if m is None:
        return None
    hint = "" if "://" in path else f" (a directory whose name has a colon: ./{path})"
    return f"unknown endpoint scheme {m.group(1)!r} in {redact_url(path)}: use {URI_FORMS}{hint}"


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be an endpoint address, or None when it can."""
    if uri == ":memory:" or _is_source(uri):  # another database's URI: its source parses it
        return None
    if uri.startswith("edge:"):
        return None if uri[len("edge:") :] else "edge: needs a directory, e.g. edge:./vectors"
    m = _SCHEME.match(uri)
    if m is None:
        return None
    scheme = m.group(1)
    if scheme.lower() not in REMOTE_SCHEMES:
        return _path_problem(uri)
    if not uri.lower().startswith(f"{scheme.lower()}://"):
        return f"malformed URL {redact_url(uri)}: expected {scheme}://HOST[:PORT]"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        return f"malformed URL {redact_url(uri)}: {exc}"
    if not parts.hostname:
        return f"malformed URL {redact_url(uri)}: no host"
    return None


def _uri_fields(uri: str) -> dict[str, Any]:
    if uri == ":memory:" or _SCHEME.match(uri):
        return {"url": uri}
    return {"path": uri}


def endpoint_from_uri(uri: str, api_key: str | None = None) -> EndpointConfig:
    """An endpoint from a command-line URI: http(s)/grpc URL, ``:memory:``, ``edge:DIR`` or a path.

    An unknown scheme or a malformed URL is refused here (exit 2) rather than read as a local
    directory, which opening would create.
    """
    problem = uri_problem(uri)
    if problem is not None:
        raise UsageError(problem)
    key = SecretStr(api_key) if api_key else None
    return EndpointConfig(api_key=key, **_uri_fields(uri))


def endpoint_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Endpoint fields given by QDRANT_URL / QDRANT_HOST / QDRANT_PORT / QDRANT_API_KEY."""
    out: dict[str, Any] = {}
    if env.get(ENV_URL):
        url = env[ENV_URL]
        out.update(endpoint_from_uri(url).model_dump(exclude_none=True, exclude={"prefer_grpc"}))
    elif env.get(ENV_HOST):
        out["host"] = env[ENV_HOST]
        if env.get(ENV_PORT):
            out["port"] = env[ENV_PORT]
    if env.get(ENV_API_KEY):
        out["api_key"] = env[ENV_API_KEY]
    return out


def merge_endpoint(base: EndpointConfig | None, override: Mapping[str, Any]) -> EndpointConfig:
    """Overlay endpoint fields; a new location (url/host/path) replaces the old one entirely."""
    data = base.model_dump(exclude_none=True) if base else {}
    if any(override.get(k) for k in ("url", "host", "path")):
        for k in ("url", "host", "path", "port", "https", "grpc_port"):
            data.pop(k, None)
    for k, v in override.items():
        if v is not None:
            data[k] = v.get_secret_value() if isinstance(v, SecretStr) else v
    return EndpointConfig.model_validate(data)
