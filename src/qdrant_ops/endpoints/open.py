"""Opening endpoints by URI or config block.

Opening the same embedded store twice in one process returns the same endpoint: local mode holds a
lock on its directory, and ``:memory:`` is one shared store per process, so a source and a target
that name the same store really share it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from qdrant_ops.endpoints.base import Endpoint
from qdrant_ops.endpoints.uri import EndpointConfig, ResolvedEndpoint, endpoint_from_uri
from qdrant_ops.errors import EndpointError, NotFoundError, UsageError

_registry: dict[str, Endpoint] = {}
_lock = threading.Lock()


def _key(where: ResolvedEndpoint) -> str | None:
    if where.kind == "memory":
        return ":memory:"
    if where.kind == "source":
        return where.location
    if where.kind in ("local", "edge"):
        return f"{where.kind}:" + os.path.realpath(where.location)
    return None


def open_endpoint(
    target: EndpointConfig | str, api_key: str | None = None, *, must_exist: bool = False
) -> Endpoint:
    """An endpoint for a config block or a URI string.

    ``must_exist`` is for reads: a local-mode or Edge directory that is not there is refused
    (NotFoundError, exit 2) before anything opens it, since opening creates it.
    """
    cfg = endpoint_from_uri(target, api_key) if isinstance(target, str) else target
    if not cfg.is_set:
        raise UsageError("no endpoint given")
    where = cfg.resolve()
    key = _key(where)
    with _lock:
        if key is not None and key in _registry:
            return _registry[key]
        if must_exist and where.kind in ("local", "edge") and not os.path.exists(where.location):
            what = "Edge store" if where.kind == "edge" else "local-mode store"
            raise NotFoundError(f"{where.display}: no such {what} (a read never creates one)")
        endpoint = _open(cfg, where)
        if key is not None:
            _registry[key] = endpoint
        return endpoint


def _open(cfg: EndpointConfig, where: ResolvedEndpoint) -> Endpoint:
    if where.kind == "source":
        from qdrant_ops.endpoints.sources import open_source

        return open_source(where.location)
    if where.kind == "edge":
        from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint

        return EdgeEndpoint(where.location)
    from qdrant_ops.endpoints.qdrant import QdrantEndpoint, make_client

    if where.kind == "local":
        path = where.location
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{path} is a file, not a store directory")
    try:
        client: Any = make_client(cfg, where)
    except RuntimeError as exc:
        raise EndpointError(f"cannot open {where.display}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"bad endpoint {where.display}: {exc}") from None
    return QdrantEndpoint(client, where.display, where.kind)


def register_endpoint(uri: str, endpoint: Endpoint) -> None:
    """Make ``open_endpoint(uri)`` return ``endpoint`` (library users with their own client)."""
    key = _key(endpoint_from_uri(uri).resolve()) or uri
    with _lock:
        _registry[key] = endpoint


def close_all(*, keep_memory: bool = False) -> None:
    """Close every store this process opened, unlocking their directories.

    ``keep_memory`` leaves the shared ``:memory:`` store open (closing it would drop its data).
    """
    with _lock:
        items = [(k, ep) for k, ep in _registry.items() if not (keep_memory and k == ":memory:")]
        for k, _ in items:
            del _registry[k]
    for _, ep in items:
        ep.close()


__all__ = ["Endpoint", "close_all", "open_endpoint", "register_endpoint"]
