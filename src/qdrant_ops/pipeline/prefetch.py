"""Read ahead: pull the next item of an iterator in a background thread while the caller works.

Used to overlap a scan (scroll the next page) or a Parquet read with encoding and writing the
current one: pyarrow, zstd and network waits release the GIL, so the two overlap even in one
process. The embedded engines' own calls do not (qdrant-client's local mode is Python, Qdrant
Edge holds the GIL while it scrolls): there a read-ahead thread only adds switching, so
``scan_ahead`` reads their pages in the caller's thread.
At most ``depth`` items are read ahead of the one the caller holds (a read starts only once the
caller has taken the item before it), so memory stays bounded by the page size.

An exception raised by the source iterator is re-raised, unchanged, by the ``next()`` that would
have returned that item; the source is then finished, like a generator that raised. Closing the
returned generator (or dropping it) stops the thread after the item it is reading.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_END = object()


def prefetch(source: Iterable[T], depth: int = 1, *, name: str = "prefetch") -> Iterator[T]:
    """Iterate ``source`` one or more items ahead in a daemon thread; see the module docstring."""
    q: queue.Queue[tuple[object, BaseException | None]] = queue.Queue()
    slots = threading.Semaphore(max(1, depth))
    stop = threading.Event()

    def wait_slot() -> bool:
        while not stop.is_set():
            if slots.acquire(timeout=0.1):
                return True
        return False

    def run() -> None:
        it = iter(source)
        try:
            while wait_slot():
                try:
                    item = next(it)
                except StopIteration:
                    q.put((_END, None))
                    return
                q.put((item, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, never dropped
            q.put((_END, exc))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            slots.release()  # the caller takes ``item``: read the next one meanwhile
            yield item  # type: ignore[misc]
    finally:
        stop.set()


# Endpoint kinds whose calls hold the GIL (see the module docstring).
GIL_BOUND_KINDS = frozenset({"local", "memory", "edge"})


def scan_ahead(pages: Iterable[T], endpoint: Any, *, name: str) -> Iterator[T]:
    """``prefetch(pages)`` for an endpoint whose calls release the GIL (a server); the pages as
    they are for an embedded engine (``GIL_BOUND_KINDS``)."""
    if endpoint.info().kind in GIL_BOUND_KINDS:
        return iter(pages)
    return prefetch(pages, name=name)
