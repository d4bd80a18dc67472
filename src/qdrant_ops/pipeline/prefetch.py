"""Read ahead: pull the next item of an iterator in a background thread while the caller works.

Used to overlap a scan (scroll the next page) or a Parquet read with encoding and writing the
current one: pyarrow, zstd and the hashes release the GIL, so the two overlap even in one process.
The queue is bounded (``depth`` items ahead), so memory stays bounded by the page size.

An exception raised by the source iterator is re-raised, unchanged, by the ``next()`` that would
have returned that item; the source is then finished, like a generator that raised. Closing the
returned generator (or dropping it) stops the thread after the item it is reading.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


def prefetch(source: Iterable[T], depth: int = 1, *, name: str = "prefetch") -> Iterator[T]:
    """Iterate ``source`` one or more items ahead in a daemon thread; see the module docstring."""
    q: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not put((item, None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, never dropped
            put((_END, exc))
            return
        put((_END, None))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
