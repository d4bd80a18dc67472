"""Garbage-collector settings for bulk work: collect young objects less often while points stream.

A page of points arrives as hundreds of thousands of container objects (a list per vector, a dict
per payload). With CPython's default threshold (a young collection every 700 new containers),
older collections keep running and each one walks everything alive, the engine's own store
included, which makes a scroll from an embedded store and the conversion of its records into
points much slower.

Nothing is switched off: reference counting still frees every acyclic object at once (all that
points are made of), and cycles are still collected, only after 100,000 new containers rather than
700. The previous thresholds come back when the outermost ``bulk_gc`` block ends.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

BULK_THRESHOLD = 100_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def bulk_gc(threshold: int = BULK_THRESHOLD) -> Iterator[None]:
    """Raise the young-generation threshold to at least ``threshold`` inside the block.

    Nested and concurrent blocks share one setting; the outermost restores what was there. A
    threshold of 0 (collection disabled by the program) is left alone.
    """
    global _depth, _saved
    with _lock:
        if _depth == 0:
            current = gc.get_threshold()
            _saved = (current[0], current[1], current[2])
            if current[0] != 0 and current[0] < threshold:
                gc.set_threshold(threshold, current[1], current[2])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None


def bulk(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a verb so that it runs inside ``bulk_gc``."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with bulk_gc():
            return fn(*args, **kwargs)

    return wrapper
