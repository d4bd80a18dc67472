"""The engines' own calls (raw client access), for the ceilings and for loading stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

# The biggest page: qdrant-client's local mode sorts every id on each scroll call, so its best
# page grows with the collection.
SCROLL_PAGES = (100, 1000, 4000, 16000)
UPSERT_BATCHES = (64, 256, 1000, 4000)


def ours_sizes(dims: int, engine: str) -> tuple[int, int]:
    """``(page, batch)``: the scroll page backup/migrate choose for this data and the write batch
    restore/migrate choose for this engine; the ceilings' search includes them, so ours never runs
    at a size the ceiling skipped."""
    from qdrant_ops.endpoints.base import VectorField
    from qdrant_ops.pipeline.sizing import page_size, write_batch

    return page_size([VectorField("", "dense", dims, "Cosine")]), write_batch(engine)


def engine_uri(engine: str, path: str) -> str:
    if engine == "memory":
        return ":memory:"
    if engine == "edge":
        return f"edge:{path}"
    return path


def raw_client(engine: str, path: str) -> Any:
    """The engine's own client object, shared with qdrant-ops' endpoint for the same store."""
    from qdrant_ops.endpoints.open import open_endpoint

    ep: Any = open_endpoint(engine_uri(engine, path))
    return ep.client if engine != "edge" else ep


def create_collection(engine: str, client: Any, name: str, dims: int) -> None:
    if engine == "edge":
        from qdrant_ops.endpoints.base import CollectionSpec

        if client.collection_exists(name):
            client.delete_collection(name)
        client.create_collection(
            name, CollectionSpec(name=name, config={"params": {"vectors": {"size": dims, "distance": "Cosine"}}})
        )
        return
    from qdrant_client import models

    if client.collection_exists(name):
        client.delete_collection(name)
    client.create_collection(name, vectors_config=models.VectorParams(size=dims, distance=models.Distance.COSINE))


def batches(engine: str, data: Any, batch: int) -> Iterator[Any]:
    """The dataset as the engine's own write batches, built one at a time: Edge points for
    ``EdgeShard.update``, a ``models.Batch`` for ``QdrantClient.upsert``."""
    ids, vectors, payloads = data
    for s in range(0, len(ids), batch):
        e = min(s + batch, len(ids))
        if engine == "edge":
            from qdrant_edge import Point as EdgePoint

            rows = vectors[s:e].tolist()
            yield [EdgePoint(id=int(i), vector=v, payload=p) for i, v, p in zip(ids[s:e].tolist(), rows, payloads[s:e])]
        else:
            from qdrant_client import models

            yield models.Batch(ids=ids[s:e].tolist(), vectors=vectors[s:e].tolist(), payloads=payloads[s:e])


def raw_upsert(
    engine: str, client: Any, name: str, data: Any, batch: int, on_write: Callable[[int], None] | None = None
) -> None:
    """The dataset written by the engine's own calls, ``batch`` points a call (``on_write`` is told
    each call's count as it returns)."""
    if engine == "edge":  # the engine's own API: EdgeShard.update(upsert_points([...]))
        from qdrant_edge import UpdateOperation

        shard = client._shard(name)
        for pts in batches(engine, data, batch):
            shard.update(UpdateOperation.upsert_points(pts))
            if on_write:
                on_write(len(pts))
        return
    for b in batches(engine, data, batch):
        client.upsert(name, points=b, wait=True)
        if on_write:
            on_write(len(b.ids))


def raw_optimize(client: Any, name: str) -> None:
    """Qdrant Edge's own calls that index a filled shard (what restore and migrate run after
    writing): ``EdgeShard.optimize()`` then ``flush()``."""
    shard = client._shard(name)
    shard.optimize()
    shard.flush()


def raw_scroll(engine: str, client: Any, name: str, page: int, pages: int | None = None) -> int:
    """Points read by scrolling ``name`` a ``page`` at a time, to the end or for ``pages`` calls."""
    n = calls = 0
    offset = None
    if engine == "edge":
        from qdrant_edge import ScrollRequest

        shard = client._shard(name)
        while True:
            req = ScrollRequest(offset=offset, limit=page, with_payload=True, with_vector=True)
            records, offset = shard.scroll(req)
            calls += 1
            for r in records:  # vectors and payloads copied into Python, as any reader needs them
                _ = (r.vector, r.payload)
            n += len(records)
            if offset is None or not records or pages == calls:
                return n
    while True:
        records, offset = client.scroll(name, limit=page, offset=offset, with_payload=True, with_vectors=True)
        n += len(records)
        calls += 1
        if offset is None or not records or pages == calls:
            return n
