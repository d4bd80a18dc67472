"""Crash trials of a backup to S3: SIGKILL at a random moment, rerun, check the result.

    python benchmarks/s3_trials.py [--trials 20] [--points 12000] [--dim 256]

Starts moto's S3 server on loopback and an Edge source. Each trial times nothing in advance: it
kills ``qdrant-ops backup --backup-path s3://...`` at a moment drawn uniformly over the length of
an uninterrupted run, reruns the same command, then checks that the backup verifies exactly
against the source (``verify --against --full``), that no multipart upload is left open, and that
``backups list`` shows no partial backup as complete.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def make_source(uri: str, n: int, dim: int) -> None:
    import numpy as np

    from qdrant_ops.endpoints.base import CollectionSpec, Point
    from qdrant_ops.endpoints.open import open_endpoint

    ep = open_endpoint(uri)
    ep.create_collection("big", CollectionSpec.from_json(
        {"name": "big", "config": {"params": {"vectors": {"size": dim, "distance": "Euclid"}}}}))
    rng = np.random.default_rng(1)
    for start in range(0, n, 2000):
        vecs = rng.random((min(2000, n - start), dim), dtype=np.float32)
        ep.write("big", [Point(id=start + i, vectors={"": v.tolist()}, payload={"i": start + i})
                         for i, v in enumerate(vecs)])
    ep.close()


def cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "qdrant_ops", "--quiet", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--points", type=int, default=12000)
    ap.add_argument("--dim", type=int, default=256)
    opts = ap.parse_args()

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    creds = {"AWS_ACCESS_KEY_ID": "trial", "AWS_SECRET_ACCESS_KEY": "trial", "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(creds)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint)
    tmp = Path(tempfile.mkdtemp(prefix="qdrant-ops-s3-trials-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), AWS_ENDPOINT_URL=endpoint,
               QDRANT_OPS_CACHE=str(tmp / "cache"))
    source = f"edge:{tmp}/src"
    make_source(source, opts.points, opts.dim)
    config = tmp / "backup.json"
    config.write_text(json.dumps({"rows_per_file": 1500}))

    def backup_args(url: str) -> list[str]:
        return ["backup", "--source", source, "--backup-path", url, "--config", str(config), "--no-verify"]

    s3.create_bucket(Bucket="timing")
    t0 = time.monotonic()
    cli(backup_args("s3://timing/b"), env).communicate()
    full = time.monotonic() - t0
    print(f"uninterrupted backup: {full:.2f}s; {opts.trials} trials, kills uniform in [0, {full:.2f}]s", flush=True)

    rows = []
    rng = random.Random(7)
    for t in range(opts.trials):
        bucket = f"trial-{t:03d}"
        s3.create_bucket(Bucket=bucket)
        url = f"s3://{bucket}/b"
        kill_at = rng.uniform(0, full)
        proc = cli(backup_args(url), env)
        time.sleep(kill_at)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        open_at_kill = len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
        listed = json.loads(cli(["backups", "list", url, "--json"], env).communicate()[0] or b"{}").get("backups", [])
        partial_as_complete = sum(1 for b in listed if b["state"] == "complete") if killed else 0
        report = tmp / f"report-{t}"
        rerun = cli([*backup_args(url), "--report", str(report)], env)
        _, err = rerun.communicate()
        problems = []
        if rerun.returncode != 0:
            problems.append(f"rerun exit {rerun.returncode}: {err.decode().strip()[:200]}")
        data = json.loads(report.with_suffix(".json").read_text()) if report.with_suffix(".json").exists() else {}
        left = len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
        check = cli(["verify", url, "--against", source, "--full"], env)
        out, err = check.communicate()
        if check.returncode != 0:
            problems.append(f"verify exit {check.returncode}")
        if left:
            problems.append(f"{left} multipart upload(s) left")
        if partial_as_complete:
            problems.append("a killed backup was listed as complete before the rerun")
        rows.append((t, kill_at, killed, open_at_kill, data.get("reused_files", 0), data.get("uploaded_files", 0),
                     left, "ok" if not problems else "; ".join(problems)))
        print(f"  trial {t}: kill at {kill_at:.2f}s killed={killed} open uploads at kill={open_at_kill} "
              f"reused={rows[-1][4]} sent={rows[-1][5]} left={left} -> {rows[-1][-1]}", flush=True)
    failed = [r for r in rows if r[-1] != "ok"]
    print(f"\n{len(rows)} trials, {sum(r[2] for r in rows)} killed mid-run, "
          f"{sum(1 for r in rows if r[3])} with an upload open at the kill, {len(failed)} failed")
    server.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
