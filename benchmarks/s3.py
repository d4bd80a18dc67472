"""Backups to S3 (issue 27): a backup to ``s3://`` against the raw upload of its own files.

moto's S3 server runs on loopback in this process; the source is a Qdrant Edge shard of N points
(``--dims`` float32 cosine vectors + the benchmark's payloads). Each operation runs in a fresh
process (``--worker``), the source opened before anything is timed, as in ``bench.py``:

- ``backup``: qdrant-ops' ``backup`` to ``s3://bench/<prefix>`` (no verify), timed, with its peak
  anonymous RSS above the opened engine;
- ``raw upload``: the Parquet files that backup wrote, downloaded once, then sent by
  ``pyarrow.fs`` alone (the same ``S3FileSystem`` settings and write size as qdrant-ops), one file
  after another, to the same server;
- ``backup to a local directory`` of the same source (shown, not a target): the same scan and
  encoding without the store, what a backup to S3 cannot go below.

Both run ``--repeat`` times, alternating, the fastest run of each counting; the backup then runs
once at N x ``--scale`` for its memory. Targets: raw upload time / backup time >= 0.8, and the
backup's peak RSS above the engine at 10xN <= 1.2x its peak at N.

Edge is the source because its scan is the fastest of the embedded engines (benchmarks/README.md),
so the upload, not the engine, is most of a backup's time.

    python benchmarks/s3.py --points 20000 --dims 384 --json s3.json
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_lib.runner import add_common_args, machine, run_script, run_worker

ENTRY = Path(__file__).resolve()
BUCKET = "bench"
CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
TARGETS = [
    ("backup_s3_vs_raw_upload_ratio", ">=", 0.8, "backup to S3 >= 0.8x raw upload of its files (time)"),
    ("backup_s3_rss_10x_vs_1x_ratio", "<=", 1.2, "backup to S3 peak RSS above engine, 10xN <= 1.2x N"),
]


# ---- worker operations (each in a fresh process) ----

def _load(a: dict[str, Any]) -> dict[str, Any]:
    """The Edge source, written by Edge's own calls and flushed. Not indexed (no ``optimize()``):
    building the HNSW index of the 10x store takes minutes here, and a scan reads the same points."""
    from bench_lib.datasets import COLLECTION, gen_dataset
    from bench_lib.raw import create_collection, raw_client, raw_upsert

    t0 = time.perf_counter()
    client = raw_client("edge", a["source"])
    create_collection("edge", client, COLLECTION, a["dims"])
    raw_upsert("edge", client, COLLECTION, gen_dataset(a["n"], a["dims"], lazy=True), 1000)
    client._shard(COLLECTION).flush()
    client.close()
    return {"seconds": time.perf_counter() - t0}


def _s3_backup(a: dict[str, Any]) -> dict[str, Any]:
    from bench_lib import ops
    from bench_lib.datasets import COLLECTION
    from bench_lib.rss import rss_fields
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    os.environ["QDRANT_OPS_CACHE"] = a["cache"]
    ops.open_source(a)
    cfg = BackupConfig(
        source=endpoint_from_uri(f"edge:{a['source']}"),
        backup_path=a["url"],
        collections=[COLLECTION],
        verify_integrity=False,
    )
    t, rep, rss = ops.timed(lambda: backup(cfg))
    return dict(seconds=t, backup_url=rep.backup_dir, ok=rep.status == "ok", **rss_fields(rss))


def _raw_upload(a: dict[str, Any]) -> dict[str, Any]:
    """The files under ``a["files"]`` sent by ``pyarrow.fs`` to ``a["key"]``, one after another."""
    import pyarrow.fs as pafs

    from bench_lib import ops

    fs = _s3fs(a["endpoint"])
    root = Path(a["files"])
    files = sorted(p for p in root.rglob("*") if p.is_file())
    chunk = int(a["chunk"])

    def send() -> int:
        total = 0
        for path in files:
            key = f"{a['key']}/{path.relative_to(root).as_posix()}"
            with open(path, "rb") as src, fs.open_output_stream(key, metadata={}) as dst:
                while block := src.read(chunk):
                    dst.write(block)
                    total += len(block)
        return total

    fs.get_file_info(pafs.FileSelector(BUCKET, allow_not_found=True))  # connected before the clock starts
    t, sent, _ = ops.timed(send)
    return {"seconds": t, "bytes": sent, "files": len(files)}


def _s3fs(endpoint: str) -> Any:
    """``pyarrow.fs.S3FileSystem`` as qdrant-ops opens it for ``s3://...?endpoint_url=...``."""
    import pyarrow.fs as pafs

    host = endpoint.split("://", 1)[1]
    return pafs.S3FileSystem(
        endpoint_override=host, scheme="http", access_key=CREDS["AWS_ACCESS_KEY_ID"],
        secret_key=CREDS["AWS_SECRET_ACCESS_KEY"], region="us-east-1",
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
    )


OPS = {"load": _load, "s3_backup": _s3_backup, "raw_upload": _raw_upload}


def worker(a: dict[str, Any]) -> dict[str, Any]:
    from bench_lib import ops

    ops.preload()
    import pyarrow.fs  # noqa: F401

    return {"op": a["op"], **OPS[a["op"]](a)}


# ---- the run ----

def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ENTRY.parent, capture_output=True,
                             text=True, check=False)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def _fetch_data_files(endpoint: str, url: str, dest: Path) -> int:
    """The Parquet data files of the backup at ``url`` (``s3://bucket/key``), downloaded to ``dest``."""
    import pyarrow.fs as pafs

    fs = _s3fs(endpoint)
    root = url.split("://", 1)[1]
    n = 0
    for info in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        local = dest / info.path[len(root) + 1 :]
        local.parent.mkdir(parents=True, exist_ok=True)
        with fs.open_input_stream(info.path) as src, open(local, "wb") as out:
            out.write(src.read())
        n += 1
    return n


def _drop(endpoint: str, key: str) -> None:
    """Delete what a run put under ``key``: moto holds every object in this process's memory."""
    _s3fs(endpoint).delete_dir_contents(key, missing_dir_ok=True)


def _check(value: float | None, op: str, limit: float) -> str:
    if value is None:
        return "N/A"
    return "PASS" if (value >= limit if op == ">=" else value <= limit) else "FAIL"


def bench(opts: argparse.Namespace) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    os.environ.update(CREDS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint  # the workers inherit it
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    work = Path(opts.workdir) if opts.workdir else Path(tempfile.mkdtemp(prefix="qdrant-ops-s3-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    n, n10, dims = opts.points, opts.points * opts.scale, opts.dims
    res: dict[str, Any] = {
        "engine": "edge", "points": n, "points_10x": n10, "dims": dims, "repeat": opts.repeat,
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "commit": _commit(), "machine": machine(),
    }
    try:
        from qdrant_ops.repository.store import CHUNK

        def say(text: str) -> None:
            if not opts.quiet:
                print(text, file=sys.stderr, flush=True)

        sources = {}
        for size in (n, n10):
            sources[size] = str(work / f"edge-{size}")
            say(f"loading {size:,} points into Edge ...")
            run_worker({"op": "load", "source": sources[size], "n": size, "dims": dims}, entry=ENTRY)

        def backup_args(size: int, tag: str) -> dict[str, Any]:
            return {"op": "s3_backup", "engine": "edge", "source": sources[size], "n": size, "dims": dims,
                    "url": f"s3://{BUCKET}/{tag}", "cache": str(work / f"cache-{tag}")}

        backups: list[dict[str, Any]] = []
        raws: list[dict[str, Any]] = []
        locals_: list[dict[str, Any]] = []
        files = work / "files"
        for i in range(opts.repeat):
            say(f"backup to S3, {n:,} points, run {i + 1} ...")
            b = run_worker(backup_args(n, f"backup-{i}"), entry=ENTRY)
            backups.append(b)
            if i == 0:
                res["data_files"] = _fetch_data_files(endpoint, b["backup_url"], files)
            _drop(endpoint, f"{BUCKET}/backup-{i}")
            say(f"raw upload of its files, run {i + 1} ...")
            r = run_worker({"op": "raw_upload", "endpoint": endpoint, "files": str(files), "key": f"{BUCKET}/raw-{i}",
                            "chunk": CHUNK}, entry=ENTRY)
            raws.append(r)
            _drop(endpoint, f"{BUCKET}/raw-{i}")
            say(f"backup to a local directory (the same scan, no store), run {i + 1} ...")
            local = {**backup_args(n, f"local-{i}"), "url": str(work / f"local-{i}")}
            locals_.append(run_worker(local, entry=ENTRY))
            shutil.rmtree(work / f"local-{i}", ignore_errors=True)
        say(f"backup to S3, {n10:,} points ...")
        b10 = run_worker(backup_args(n10, "backup-10x"), entry=ENTRY)
        _drop(endpoint, f"{BUCKET}/backup-10x")

        t_backup = min(b["seconds"] for b in backups)
        t_raw = min(r["seconds"] for r in raws)
        res["operations"] = {
            "backup_s3_1x": {**backups[0], "seconds": t_backup, "seconds_runs": [b["seconds"] for b in backups],
                             "ok": all(b["ok"] for b in backups)},
            "raw_upload": {**raws[0], "seconds": t_raw, "seconds_runs": [r["seconds"] for r in raws]},
            "backup_s3_10x": {**b10, "seconds_runs": [b10["seconds"]]},
            "backup_local_1x": {**locals_[0], "seconds": min(x["seconds"] for x in locals_),
                                "seconds_runs": [x["seconds"] for x in locals_]},
        }
        # Shown, not a target: what the store adds to a backup's time beyond the scan and encoding.
        res["backup_local_vs_s3_ratio"] = round(res["operations"]["backup_local_1x"]["seconds"] / t_backup, 3)
        res["upload_bytes"] = raws[0]["bytes"]
        res["backup_s3_vs_raw_upload_ratio"] = round(t_raw / t_backup, 3)
        one = backups[0]["rss_peak_above_engine_mb"]
        res["backup_s3_rss_10x_vs_1x_ratio"] = round(b10["rss_peak_above_engine_mb"] / one, 3) if one > 0 else None
        res["checks"] = [
            {"target": what, "field": key, "value": res[key], "limit": f"{op} {limit}",
             "verdict": _check(res[key], op, limit)}
            for key, op, limit, what in TARGETS
        ]
    finally:
        server.stop()
        if not opts.keep and not opts.workdir:
            shutil.rmtree(work, ignore_errors=True)
    res["total_seconds"] = round(time.perf_counter() - started, 1)
    return res


def render(res: dict[str, Any]) -> str:
    m, ops = res["machine"], res["operations"]
    mb = res["upload_bytes"] / 1e6
    lines = [
        (f"## qdrant-ops benchmark — backups to S3 (moto on loopback), engine `edge`, {res['points']:,} points "
        f"(10x: {res['points_10x']:,}), {res['dims']} dims"),
        "",
        (f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB; Python {m['python']}, pyarrow {m['pyarrow']}. "
        f"Commit: {res['commit']}. Date: {res['date']}. Fastest of {res['repeat']} runs at N, each in a fresh "
        f"process (memory: the first run); the 10x run once."),
        "",
        "| operation | points | seconds (runs) | MB/s | peak anonymous RSS above engine (MiB) | peak total RSS (MiB) |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for key, label, pts in (("raw_upload", f"raw upload, pyarrow.fs ({res['data_files']} files, {mb:,.1f} MB)", res["points"]),
                            ("backup_s3_1x", "backup to S3", res["points"]),
                            ("backup_s3_10x", "backup to S3 (10x)", res["points_10x"]),
                            ("backup_local_1x", "backup to a local directory (reference)", res["points"])):
        op = ops[key]
        runs = ", ".join(f"{s:.2f}" for s in op["seconds_runs"])
        rate = f"{mb / op['seconds']:,.1f}" if key != "backup_s3_10x" else ""
        above = f"{op['rss_peak_above_engine_mb']:.1f}" if "rss_peak_above_engine_mb" in op else ""
        total = f"{op['rss_total_peak_mb']:.0f}" if "rss_total_peak_mb" in op else ""
        lines.append(f"| {label} | {pts:,} | {op['seconds']:.2f} ({runs}) | {rate} | {above} | {total} |")
    lines += ["", "| target | ratio | limit | verdict |", "|---|---:|---:|---|"]
    for c in res["checks"]:
        value = "n/a" if c["value"] is None else f"{c['value']:.2f}"
        lines.append(f"| {c['target']} (`{c['field']}`) | {value} | {c['limit']} | {c['verdict']} |")
    lines.append(f"\nShown, not a target: local backup time / backup to S3 time "
                 f"(`backup_local_vs_s3_ratio`): {res['backup_local_vs_s3_ratio']:.2f}.")
    lines.append(f"\nTotal benchmark time: {res['total_seconds']:.0f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=20_000)
    p.add_argument("--scale", type=int, default=10, help="the memory check's second size is N x SCALE")
    p.add_argument("--dims", type=int, default=384)
    p.add_argument("--repeat", type=int, default=3, help="runs of the backup and of the raw upload at N (default 3)")
    add_common_args(p, "sources and files")
    return run_script(p.parse_args(argv), worker, bench, render)


if __name__ == "__main__":
    sys.exit(main())
