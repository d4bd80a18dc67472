"""What a copy covers: the collections it names (all by default) and how many slices it scans."""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_ops.endpoints.base import Endpoint
from qdrant_ops.errors import NotFoundError
from qdrant_ops.pipeline.prefetch import GIL_BOUND_KINDS

# qdrant-client's local mode (in memory or on disk) evaluates a slice filter point by point in
# Python, on every scroll call, and its slices take turns on the GIL, so slices are slower than
# one stream, more so as the collection grows. ``--parallel`` there scans one stream, and says so.
ONE_STREAM_KINDS = frozenset({"memory", "local"})


def select_collections(src: Endpoint, wanted: Sequence[str] | None) -> list[str]:
    """``wanted`` (every collection when empty), refusing names the endpoint does not hold."""
    existing = src.list_collections()
    names = list(wanted) if wanted else existing
    missing = [n for n in names if n not in existing]
    if missing:
        raise NotFoundError(f"collection(s) not found at {src.info().display}: {', '.join(missing)}")
    return names


def slice_count(src: Endpoint, parallel: int, notes: list[str]) -> int:
    """Slices to scan at once: ``parallel`` where the endpoint supports the slice condition and
    slices can gain, else one stream (and a note saying so)."""
    info = src.info()
    if parallel <= 1:
        return 1
    if not info.supports_slice:
        notes.append(f"{info.display} does not support the slice condition: one stream")
        return 1
    if info.kind in ONE_STREAM_KINDS:
        notes.append(
            f"--parallel {parallel} ignored: {info.display} is qdrant-client's local mode, which "
            "filters slices point by point in Python, so slices are slower than one stream: one stream"
        )
        return 1
    if info.kind in GIL_BOUND_KINDS:
        notes.append(
            f"{info.display} is an embedded engine whose calls hold Python's GIL: its {parallel} "
            "slices take turns, so --parallel gives no speed-up there (it does against a server)"
        )
    elif getattr(src, "in_process", False):
        # Another database's embedded store (Chroma on disk, LanceDB, FAISS): read by this process,
        # and turning its rows into points is Python work that holds the GIL.
        notes.append(
            f"{info.display} is read inside this process: its {parallel} slices share this process's "
            "CPU and Python's GIL with the copy, so --parallel gains little there (it does from a server)"
        )
    return parallel
