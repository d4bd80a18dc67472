"""Handing the C heap's free memory back to the system after an engine call that allocates in
proportion to a collection on a thread of its own.

glibc gives each thread that allocates an arena of its own. Memory freed in an arena stays
resident: below anything still allocated after it always, at the arena's top up to a threshold
that glibc raises to twice the largest mapped block freed (up to 64 MiB). So a block of a few MiB,
allocated and freed on one of an engine's worker threads, stays resident for as long as the
engine keeps what that thread allocated after it. ``malloc_trim(0)`` hands back the free pages on
every arena's free lists (and at the top of the main heap); it changes no setting, and later
allocations work as before.

Qdrant Edge's exact ``count`` is such a call: it runs on Edge's own threads, in arenas other than
the caller's, and what it freed would stay resident after it; ``malloc_trim(0)`` hands that back
and is cheap beside the count.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None on another C library or platform (nothing to do there)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


def release_free_heap() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
