"""The worker's operations: each runs alone in a fresh process (``bench.py --worker``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench_lib.datasets import COLLECTION, gen_dataset
from bench_lib.raw import (
    batches,
    create_collection,
    ours_sizes,
    raw_client,
    raw_optimize,
    raw_scroll,
    raw_upsert,
)
from bench_lib.rss import ANON, PeakRss, after_kb, status_kb
from qdrant_ops.pipeline.gcpolicy import bulk_gc


def timed(fn: Callable[[], Any], *, mark_writes: bool = False) -> tuple[float, Any, PeakRss]:
    """``fn()`` timed, with its peak RSS; ``mark_writes``: each write call of qdrant-ops' endpoints
    is marked as it returns (``PeakRss.mark``)."""
    with PeakRss() as rss, contextlib.ExitStack() as stack:
        if mark_writes:
            from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint
            from qdrant_ops.endpoints.qdrant import QdrantEndpoint

            for cls in (QdrantEndpoint, EdgeEndpoint):
                stack.enter_context(_marking(cls, rss))
        t0 = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t0
    return elapsed, out, rss


@contextlib.contextmanager
def _marking(cls: Any, rss: PeakRss) -> Iterator[None]:
    write = cls.write

    def marked(self: Any, name: str, points: Any) -> None:
        write(self, name, points)
        rss.mark(len(points))

    cls.write = marked
    try:
        yield
    finally:
        cls.write = write


def open_source(a: dict[str, Any]) -> tuple[Any, Any]:
    """The source store, holding the dataset (``:memory:`` is filled here, untimed), opened
    before anything is timed (an Edge shard is loaded on first use)."""
    client = raw_client(a["engine"], a["source"])
    data = None
    if a["engine"] == "memory":
        data = gen_dataset(a["n"], a["dims"])
        create_collection(a["engine"], client, COLLECTION, a["dims"])
        raw_upsert(a["engine"], client, COLLECTION, data, 4000)
        del data
    client.count(COLLECTION)
    return client, None


def preload() -> None:
    """Import the code every operation uses, so peaks measure data, not modules being loaded."""
    import pyarrow.parquet  # noqa: F401
    import xxhash  # noqa: F401
    from qdrant_client import models  # noqa: F401

    import qdrant_ops.data.backup
    import qdrant_ops.data.restore
    import qdrant_ops.data.verify
    import qdrant_ops.migration.run  # noqa: F401


def engine_growth_kb(engine: str, path: str, n: int, dims: int) -> dict[str, Any]:
    """What the engine itself holds as it takes ``n`` points from a raw upsert (on Edge also
    indexed): ``engine_growth_kb``, its anonymous RSS gained once written (gc'd), and
    ``engine_curve``, per write call the most it held above its start (see ``PeakRss.mark``)
    and then the same for ``optimize()``. Both are the engine's and are excluded from writers'
    peaks: restore's point by point (``rss.engine_part``), migrate's and the peer's by the final
    growth. The curve rises above the final growth where the engine copies what it holds (local
    mode doubling a numpy array, Edge's optimizer building segments beside the old ones).

    The raw upsert's own write batch is the benchmark's, not the engine's: one batch is built first
    in a fresh heap and its size taken off the curve. The dataset's payloads are made as they are
    written (``LazyPayloads``) and ``before`` is read before it is made, so the dataset's own size
    is not subtracted from the engine's growth.
    """
    client = raw_client(engine, path)
    create_collection(engine, client, COLLECTION, dims)
    before = after_kb()
    data = gen_dataset(n, dims, lazy=True)
    # Written in the batch restore and migrate write in: local mode grows by more when it is given
    # more points a request.
    batch = ours_sizes(dims, engine)[1]
    start = after_kb()
    first = next(batches(engine, data, batch))
    batch_kb = max(status_kb(ANON) - start, 0)
    del first
    with PeakRss() as writing:
        raw_upsert(engine, client, COLLECTION, data, batch, on_write=writing.mark)
        if engine == "edge":  # restore and migrate index what they write: so does this store
            raw_optimize(client, COLLECTION)
    del data
    base = writing.anon_baseline
    return {
        "engine_growth_kb": after_kb() - before,
        "engine_batch_kb": batch_kb,
        "engine_curve": [[a, b, max(kb - base - batch_kb, 0)] for a, b, kb in writing.intervals],
    }


def load(a: dict[str, Any]) -> dict[str, Any]:
    """Fill an on-disk store (local / edge), noting what the engine's RSS grew by."""
    t0 = time.perf_counter()
    out = engine_growth_kb(a["engine"], a["source"], a["n"], a["dims"])
    out["seconds"] = time.perf_counter() - t0
    return out


def engine_growth(a: dict[str, Any]) -> dict[str, Any]:
    return engine_growth_kb(a["engine"], a["target"], a["n"], a["dims"])


def raw_scroll_op(a: dict[str, Any]) -> dict[str, Any]:
    """One page size, one GC setting: the process's first pass, then a second."""
    engine = a["engine"]
    client, _ = open_source(a)
    gc_block = bulk_gc if a["gc"] == "bulk" else contextlib.nullcontext
    page = int(a["page"])
    advise = a.get("advise", False)

    def scroll_pass() -> int:
        if advise:  # the read-ahead advice a backup's scan gives Edge first, timed with it
            from qdrant_ops.endpoints.edge.endpoint import advise_scan

            advise_scan(client._dir(COLLECTION))
        return raw_scroll(engine, client, COLLECTION, page)

    out: dict[str, Any] = {}
    with gc_block():
        t, n, _ = timed(scroll_pass)
    out.update(rate=n / t)
    if not advise:  # the advised run is read for its first pass only
        with gc_block():
            t_warm, n_warm, _ = timed(lambda: raw_scroll(engine, client, COLLECTION, page))
        out.update(warm_rate=n_warm / t_warm)
    return out


def read_call(a: dict[str, Any]) -> dict[str, Any]:
    """The engine's own memory for one read call, whatever reads it."""
    client, _ = open_source(a)
    with PeakRss() as rss:
        raw_scroll(a["engine"], client, COLLECTION, 1, pages=1)
    return {"peak_kb": rss.anon_peak - rss.anon_baseline}


def raw_upsert_op(a: dict[str, Any]) -> dict[str, Any]:
    """One batch size, one GC setting, the process's first upsert."""
    engine = a["engine"]
    data = gen_dataset(a["n"], a["dims"])
    client = raw_client(engine, a["target"])
    gc_block = bulk_gc if a["gc"] == "bulk" else contextlib.nullcontext
    batch = int(a["batch"])
    create_collection(engine, client, "up", a["dims"])
    out: dict[str, Any] = {}
    with gc_block():
        t, _, _ = timed(lambda: raw_upsert(engine, client, "up", data, batch))
        if engine == "edge":  # Edge builds its index only when asked: the same end state
            t_opt, _, _ = timed(lambda: raw_optimize(client, "up"))
            out["indexed_rate"] = a["n"] / (t + t_opt)
    out["rate"] = a["n"] / t
    return out


def raw_parquet(a: dict[str, Any]) -> dict[str, Any]:
    """pyarrow alone: write the dataset to Parquet, and read our backup's files back + hash them."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import xxhash

    ids, vectors, payloads = gen_dataset(a["n"], a["dims"])
    texts = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in payloads]
    dims = a["dims"]
    path = Path(a["scratch"]) / "raw.parquet"

    def write() -> None:
        table = pa.table(
            {
                "id_int": pa.array(ids, pa.uint64()),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dims),
                "payload": pa.array(texts, pa.string()),
            }
        )
        pq.write_table(table, path, compression="zstd", compression_level=3, row_group_size=1000)

    files = sorted(Path(a["backup_dir"]).rglob("*.parquet"))

    def read_hash() -> int:
        total = 0
        rows = 0
        for f in files:
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            table = pq.read_table(f)
            vec = table.column("vector").combine_chunks()
            mat = vec.values.to_numpy().reshape(len(vec), dims)
            idb = table.column("id_int").to_numpy()
            for i, text in enumerate(table.column("payload").to_pylist()):
                total += xxhash.xxh3_128_intdigest(idb[i].tobytes() + text.encode() + mat[i].tobytes())
            rows += table.num_rows
        return rows

    tw, _, _ = timed(write)
    tr, rows, _ = timed(read_hash)
    return {"write_rate": a["n"] / tw, "read_hash_rate": rows / tr}
