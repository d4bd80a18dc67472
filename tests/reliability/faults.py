"""A fault-injecting wrapper around a qdrant-client ``QdrantClient``.

It stands where the network would: every public method call of the client may, with a given
probability, raise what servers and networks raise (connection reset, timeouts, HTTP 503 / 429,
gRPC UNAVAILABLE / RESOURCE_EXHAUSTED) instead of reaching the client, or, for idempotent calls,
after reaching it (the request was applied but the response was lost). It also adds latency.
Nothing here imitates a Qdrant server: the wrapped client is the real one (local mode in tests).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Calls that may be repeated without changing the result: a fault may strike after them.
IDEMPOTENT = {"scroll", "upsert", "count", "retrieve", "get_collection", "collection_exists",
              "get_collections", "get_aliases", "info"}


class _RpcError(Exception):
    """What grpcio raises: an exception with a ``code()`` returning a StatusCode."""

    def __init__(self, code_name: str) -> None:
        super().__init__(f"<_InactiveRpcError of RPC that terminated with: status = StatusCode.{code_name}>")
        self._code_name = code_name

    def code(self) -> Any:
        import grpc

        return getattr(grpc.StatusCode, self._code_name)


def _http_error(status: int, reason: str) -> Exception:
    from qdrant_client.http.exceptions import UnexpectedResponse

    return UnexpectedResponse(status_code=status, reason_phrase=reason, content=b"{}", headers=None)  # type: ignore[arg-type]


def transient_error(rng: random.Random) -> Exception:
    """One of the transient errors a real client raises."""
    import httpx

    kind = rng.choice(["reset", "timeout", "http503", "http429", "grpc_unavailable", "grpc_exhausted"])
    if kind == "reset":
        return ConnectionResetError(104, "Connection reset by peer")
    if kind == "timeout":
        return httpx.ReadTimeout("timed out")
    if kind == "http503":
        return _http_error(503, "Service Unavailable")
    if kind == "http429":
        return _http_error(429, "Too Many Requests")
    if kind == "grpc_unavailable":
        return _RpcError("UNAVAILABLE")
    return _RpcError("RESOURCE_EXHAUSTED")


def terminal_error(kind: str = "http400") -> Exception:
    if kind == "http400":
        return _http_error(400, "Bad Request: wrong input")
    return ValueError("wrong vector dimension: expected 8, got 3")


@dataclass
class FaultStats:
    calls: int = 0
    faults: int = 0
    after_call: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FaultyClient:
    """Delegates to ``inner``; method calls fail at ``rate`` and wait up to ``latency_s``."""

    def __init__(
        self,
        inner: Any,
        *,
        rate: float = 0.1,
        latency_s: float = 0.0,
        seed: int = 0,
        methods: set[str] | None = None,
        terminal: Callable[[str, tuple[Any, ...], dict[str, Any]], Exception | None] | None = None,
    ) -> None:
        self._inner = inner
        self._rate = rate
        self._latency = latency_s
        self._rng = random.Random(seed)
        self._methods = methods
        self._terminal = terminal
        self.stats = FaultStats()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr) or name == "close":
            return attr
        if self._methods is not None and name not in self._methods:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.stats.lock:
                self.stats.calls += 1
                roll = self._rng.random()
                after = name in IDEMPOTENT and self._rng.random() < 0.5
                err = transient_error(self._rng)
                delay = self._rng.uniform(0, self._latency) if self._latency else 0.0
            if delay:
                time.sleep(delay)
            if self._terminal is not None:
                fatal = self._terminal(name, args, kwargs)
                if fatal is not None:
                    with self.stats.lock:
                        self.stats.faults += 1
                        self.stats.by_method["terminal:" + name] += 1
                    raise fatal
            if roll < self._rate:
                with self.stats.lock:
                    self.stats.faults += 1
                    self.stats.by_method[name] += 1
                    if after:
                        self.stats.after_call += 1
                if after:
                    attr(*args, **kwargs)
                raise err
            return attr(*args, **kwargs)

        return call
