"""Run a verb's slices on threads and stop them all, within a page, on Ctrl-C or a failure.

Python delivers Ctrl-C (``KeyboardInterrupt``) only to the main thread. That thread waits for the
workers in short slices, so the interrupt lands at once; it then sets the shared ``stop`` event,
which every worker checks between pages, waits for them to leave (each ends its page and what it
has in flight, so the checkpoint names only what is on disk) and raises the interrupt again. A
worker's error stops the others the same way instead of letting them scan to the end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")

# How long the main thread sleeps between looks at its workers: the delay a Ctrl-C can wait.
WAIT_SLICE_S = 0.1


class Stopped(Exception):
    """Internal: a worker saw the stop event and left before finishing its unit."""


def run_all(
    fn: Callable[[T], None],
    units: Sequence[T],
    *,
    workers: int,
    name: str,
    stop: threading.Event | None = None,
) -> None:
    """``fn(unit)`` for every unit on ``workers`` threads (in this thread when ``workers`` is 1).

    ``fn`` checks ``stop`` between pages (``check(stop)``). The first error, or Ctrl-C, sets
    ``stop`` and is raised once every worker has left.
    """
    stop = stop if stop is not None else threading.Event()
    if workers <= 1 or len(units) <= 1:
        for u in units:
            check(stop)
            fn(u)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    futures: list[Future[None]] = []
    try:
        futures = [pool.submit(fn, u) for u in units]
        pending = set(futures)
        while pending:
            _done, pending = wait(pending, timeout=WAIT_SLICE_S, return_when=FIRST_EXCEPTION)
            for f in _done:
                if f.exception() is not None:
                    stop.set()
                    pending = set()
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    errors = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception() is not None]
    real = [e for e in errors if not isinstance(e, Stopped)]
    if real:
        raise real[0]  # type: ignore[misc]
    if errors:
        raise errors[0]  # type: ignore[misc]


def check(stop: threading.Event | None) -> None:
    """Raise ``Stopped`` when ``stop`` is set (called by workers between pages)."""
    if stop is not None and stop.is_set():
        raise Stopped()
