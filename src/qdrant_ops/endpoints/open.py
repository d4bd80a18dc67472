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
from qdrant_ops.endpoints.uri import EndpointConfig, endpoint_from_uri
from qdrant_ops.errors import EndpointError, UsageError

_registry: dict[str, Endpoint] = {}
_lock = threading.Lock()


def _key(cfg: EndpointConfig) -> str | None:
    kind = cfg.kind()
    if kind == "memory":
        return ":memory:"
    if kind == "local":
        return "local:" + os.path.realpath(cfg.path or cfg.url or "")
    if kind == "edge":
        return "edge:" + os.path.realpath((cfg.url or "")[len("edge:") :])
    return None


def open_endpoint(target: EndpointConfig | str, api_key: str | None = None) -> Endpoint:
    """An endpoint for a config block or a URI string."""
    cfg = endpoint_from_uri(target, api_key) if isinstance(target, str) else target
    if not cfg.is_set:
        raise UsageError("no endpoint given")
    key = _key(cfg)
    with _lock:
        if key is not None and key in _registry:
            return _registry[key]
        endpoint = _open(cfg)
        if key is not None:
            _registry[key] = endpoint
        return endpoint


def _open(cfg: EndpointConfig) -> Endpoint:
    kind = cfg.kind()
    if kind == "edge":
        from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint

        return EdgeEndpoint((cfg.url or "")[len("edge:") :])
    from qdrant_ops.endpoints.qdrant import QdrantEndpoint, make_client

    if kind == "local":
        path = cfg.path or cfg.url or ""
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{path} is a file, not a store directory")
    try:
        client: Any = make_client(cfg)
    except RuntimeError as exc:
        raise EndpointError(f"cannot open {cfg.display()}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"bad endpoint {cfg.display()}: {exc}") from None
    return QdrantEndpoint(client, cfg.display(), kind)


def register_endpoint(uri: str, endpoint: Endpoint) -> None:
    """Make ``open_endpoint(uri)`` return ``endpoint`` (library users with their own client)."""
    cfg = endpoint_from_uri(uri)
    key = _key(cfg) or uri
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
