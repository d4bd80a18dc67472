"""Incremental backup against a full one (issue 27): bytes written and time.

One ``:memory:`` collection of N points (``--dims`` float32 cosine vectors + a small payload) is
backed up in full and incrementally (the chain's first link); then 1% of the points change (half
their vector, half their payload), 1% are added and 0.5% deleted, and both are taken again: a
full backup and an incremental one on the first. Each timed backup runs ``--repeat`` times
(alternating, into fresh repositories holding the same parent) and its fastest run counts.
Bytes are every file the backup wrote (data, and for the incremental one its point index and
deleted ids); the manifest is left out of both.

    python benchmarks/incremental.py --points 20000 --dims 384
    python benchmarks/incremental.py --s3    # the repositories on moto's S3 server on loopback
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _fill(client: Any, name: str, n: int, dims: int, rng: random.Random) -> None:
    from qdrant_client import models

    client.create_collection(name, vectors_config=models.VectorParams(size=dims, distance=models.Distance.COSINE))
    for start in range(0, n, 1000):
        client.upsert(name, [
            models.PointStruct(id=i, vector=[rng.uniform(-1, 1) for _ in range(dims)],
                               payload={"title": f"doc {i}", "group": i % 17, "score": rng.random()})
            for i in range(start, min(n, start + 1000))
        ], wait=True)


def _change(client: Any, name: str, n: int, dims: int, rng: random.Random) -> dict[str, int]:
    from qdrant_client import models

    ids = rng.sample(range(n), n // 100 + n // 200)
    changed, deleted = ids[: n // 100], ids[n // 100 :]
    half = len(changed) // 2
    client.upsert(name, [models.PointStruct(id=i, vector=[rng.uniform(-1, 1) for _ in range(dims)],
                                            payload={"title": f"doc {i}", "group": i % 17, "score": 0.5})
                         for i in changed[:half]], wait=True)
    client.set_payload(name, payload={"reviewed": True}, points=changed[half:], wait=True)
    client.delete(name, points_selector=models.PointIdsList(points=deleted), wait=True)
    added = [models.PointStruct(id=n + i, vector=[rng.uniform(-1, 1) for _ in range(dims)], payload={"new": True})
             for i in range(n // 100)]
    client.upsert(name, added, wait=True)
    return {"changed": len(changed), "added": len(added), "deleted": len(deleted)}


class Repos:
    """Fresh repositories: directories under ``work``, or prefixes of a bucket on moto's S3 server."""

    def __init__(self, work: Path, s3: bool) -> None:
        self.work, self.client, self.server = work, None, None
        if s3:
            import logging
            import os

            import boto3
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
            self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self.server.start()
            host, port = self.server.get_host_and_port()
            os.environ.update({"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
                               "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                               "QDRANT_OPS_CACHE": str(work / "cache")})
            self.client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
            self.client.create_bucket(Bucket="bench")

    def repo(self, name: str) -> str:
        return f"s3://bench/{name}" if self.client is not None else str(self.work / name)

    def copy(self, src: str, dst: str) -> None:
        if self.client is None:
            shutil.copytree(src, dst)
            return
        for obj in self._objects(src):
            key = dst[len("s3://bench/"):] + obj["Key"][len(src) - len("s3://bench/"):]
            self.client.copy_object(Bucket="bench", Key=key, CopySource={"Bucket": "bench", "Key": obj["Key"]})

    def _objects(self, url: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=url[len("s3://bench/"):] + "/")
        return [o for page in pages for o in page.get("Contents", [])]

    def bytes(self, backup_dir: str) -> int:
        if self.client is None:
            return sum(p.stat().st_size for p in Path(backup_dir).rglob("*.parquet"))
        return sum(int(o["Size"]) for o in self._objects(backup_dir) if o["Key"].endswith(".parquet"))

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def _run(ep: Any, repo: str, incremental: bool) -> tuple[float, str]:
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    cfg = BackupConfig(backup_path=repo, source=endpoint_from_uri(":memory:"), incremental=incremental,
                       verify_integrity=False)
    started = time.perf_counter()
    out = backup(cfg, source=ep)
    return time.perf_counter() - started, str(out.backup_dir)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=20000)
    p.add_argument("--dims", type=int, default=384)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", dest="json_path")
    p.add_argument("--s3", action="store_true", help="repositories on moto's S3 server (loopback)")
    opts = p.parse_args(argv)
    from qdrant_client import QdrantClient

    from qdrant_ops.endpoints.qdrant import QdrantEndpoint

    rng = random.Random(11)
    client = QdrantClient(location=":memory:")
    ep = QdrantEndpoint(client, ":memory: (bench)", "memory")
    _fill(client, "docs", opts.points, opts.dims, rng)
    work = Path(tempfile.mkdtemp(prefix="qdrant-ops-incr-"))
    repos = Repos(work, opts.s3)
    try:
        parent_repo = repos.repo("base")
        _run(ep, parent_repo, True)  # the chain's first link (a full backup with its index)
        changes = _change(client, "docs", opts.points, opts.dims, rng)
        full: list[tuple[float, str]] = []
        incr: list[tuple[float, str]] = []
        for k in range(opts.repeat):
            full.append(_run(ep, repos.repo(f"full-{k}"), False))
            repo = repos.repo(f"incr-{k}")
            repos.copy(parent_repo, repo)
            incr.append(_run(ep, repo, True))
        t_full, d_full = min(full)
        t_incr, d_incr = min(incr)
        res = {
            "points": opts.points, "dims": opts.dims, **changes,
            "store": "s3 (moto, loopback)" if opts.s3 else "local directory",
            "full_bytes": repos.bytes(d_full), "incremental_bytes": repos.bytes(d_incr),
            "full_s": round(t_full, 3), "incremental_s": round(t_incr, 3),
        }
        res["bytes_ratio"] = round(res["incremental_bytes"] / res["full_bytes"], 4)
        res["time_ratio"] = round(t_incr / t_full, 3)
        print(f"incremental backup ({res['store']}), {opts.points} points x {opts.dims} dims; since the parent: "
              f"{changes['changed']} changed, {changes['added']} added, {changes['deleted']} deleted")
        print(f"  bytes: {res['incremental_bytes']:,} vs full {res['full_bytes']:,} = {res['bytes_ratio']:.2%} "
              f"(target <= 5%): {'PASS' if res['bytes_ratio'] <= 0.05 else 'FAIL'}")
        print(f"  time:  {t_incr:.2f}s vs full {t_full:.2f}s = {res['time_ratio']:.2f}x "
              f"(target <= 1.0): {'PASS' if res['time_ratio'] <= 1.0 else 'FAIL'}")
        if opts.json_path:
            Path(opts.json_path).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    finally:
        repos.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
