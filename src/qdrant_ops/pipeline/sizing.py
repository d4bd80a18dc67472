"""Page and batch sizes chosen from what a point weighs, not a fixed point count.

A scroll page costs a fixed amount per call (a round trip to a server; in qdrant-client's local
mode, a sort of every id in the collection), so pages should be large.
(A local-mode collection of more than 8 pages is scanned by ``retrieve`` over listed ids, which
has no such cost per page: see ``QdrantEndpoint._scan_by_ids``.)
But a page arrives as Python objects (a float object per vector component), and with one page
read ahead two are alive at once: a page is sized to about ``PAGE_BYTES`` of those
objects (``point_bytes``), between ``MIN_PAGE`` and ``MAX_PAGE`` points, so that peak memory is
a few pages whatever the collection size (a fixed point count would hold far more for wide vectors).
An explicit ``--batch-size`` always wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_ops.endpoints.base import VectorField

PAGE_BYTES = 8 * 1024 * 1024
MIN_PAGE = 256
MAX_PAGE = 16_384
PY_FLOAT = 32  # a float object and the list slot pointing at it
PAYLOAD_GUESS = 1024  # bytes of a parsed payload (dict, keys, values), before anything is read
MULTI_ROWS_GUESS = 16  # rows of a multi-vector
SPARSE_GUESS = 100  # non-zero entries of a sparse vector


def point_bytes(fields: Sequence[VectorField]) -> int:
    """An estimate of one point's size as Python objects (vectors as float lists + payload)."""
    size = 128 + PAYLOAD_GUESS
    for f in fields:
        if f.kind == "dense":
            size += PY_FLOAT * f.size
        elif f.kind == "multi":
            size += PY_FLOAT * f.size * MULTI_ROWS_GUESS
        else:
            size += (PY_FLOAT + 32) * SPARSE_GUESS
    return size


def page_size(fields: Sequence[VectorField], configured: int | None = None) -> int:
    """Points per scroll page: ``configured`` when given, otherwise about ``PAGE_BYTES`` of points."""
    if configured is not None:
        return configured
    return max(MIN_PAGE, min(MAX_PAGE, PAGE_BYTES // point_bytes(fields)))


# Points per write. qdrant-client's local mode validates a whole request before applying it, so a
# large request is slower per point there; a few hundred points is the fast range. Servers and
# Qdrant Edge take 1,000 (requests are also capped by bytes, see pipeline/writer.py).
EMBEDDED_WRITE_BATCH = 256
WRITE_BATCH = 1000


def write_batch(kind: str, configured: int | None = None) -> int:
    """Points per upsert for an endpoint of ``kind`` (``EndpointInfo.kind``); ``configured`` wins."""
    if configured is not None:
        return configured
    return EMBEDDED_WRITE_BATCH if kind in ("memory", "local") else WRITE_BATCH
