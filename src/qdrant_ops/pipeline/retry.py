"""Retrying what is transient: exponential backoff with full jitter; terminal errors pass through."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qdrant_ops.errors import is_transient
from qdrant_ops.pipeline.prefetch import scan_ahead

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RetryStats:
    calls: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, calls: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.retries += retries


@dataclass
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    stats: RetryStats | None = None,
    what: str = "call",
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn``; on a transient error wait and call again, up to ``policy.max_retries`` times."""
    attempt = 0
    while True:
        if stats is not None:
            stats.count(calls=1)
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc) or attempt >= policy.max_retries:
                raise
            wait = policy.delay(attempt)
            log.info("%s failed (%s); retry %d in %.2fs", what, exc, attempt + 1, wait)
            if stats is not None:
                stats.count(retries=1)
            attempt += 1
            sleep(wait)


def retrying_scan(
    ep: Any,
    name: str,
    policy: RetryPolicy | None = None,
    stats: RetryStats | None = None,
    *,
    batch_size: int,
    slice_: tuple[int, int] | None = None,
    offset: Any = None,
    with_vectors: bool = True,
    ahead: str | None = None,
) -> Iterator[Any]:
    """``ep.scan(...)`` whose pages are retried on transient errors without skipping any.

    A generator that raised is finished: retrying ``next()`` on it would return None and the scan
    would look complete with points missing. Each retry starts a new scan at the saved cursor.
    With ``ahead`` (a thread name), each scan reads its next page ahead (``scan_ahead``) while the
    caller works on the current one.
    """
    policy = policy or RetryPolicy()
    cursor = offset

    def open_scan() -> Iterator[Any]:
        result: Iterator[Any] = ep.scan(name, batch_size=batch_size, slice_=slice_, offset=cursor,
                                        with_vectors=with_vectors)
        if ahead is not None:
            return scan_ahead(result, ep, name=ahead)
        return result

    pages = open_scan()

    def attempt() -> Any:
        nonlocal pages
        try:
            return next(pages, None)
        except Exception:
            pages = open_scan()
            raise

    while True:
        page = call_with_retry(attempt, policy, stats, what=f"scroll {name}")
        if page is None:
            return
        nxt = page.next_offset
        # Not held while the next page is read: the caller decides how long a page lives.
        yield page
        del page
        if nxt is None:
            return
        cursor = nxt
