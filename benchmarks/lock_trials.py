"""Race trials of the repository lock: several processes, as several machines, start at once.

    python benchmarks/lock_trials.py [--rounds 20] [--procs 4] [--hold 0.3]

Starts moto's S3 server on loopback. Each round, ``--procs`` processes (each with its own cache
directory, so no local flock is shared: only the lock objects in ``locks/`` stand between them)
try to take the lock on one ``s3://`` repository at the same instant; a winner holds it ``--hold``
seconds. Reported: rounds where two held it at once (must be 0), winners per round, rounds nobody
won (every racer backed off twice), and how long taking the lock took; first, the time to take
and release it uncontended, on that repository and on a local directory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CREDS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}

WORKER = """
import json, sys, time
from qdrant_ops.errors import LockedError
from qdrant_ops.repository.lock import RepositoryLock
url, rounds, t0, period, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
for r in range(rounds):
    time.sleep(max(0.0, t0 + r * period - time.time()))
    start = time.time()
    try:
        lock = RepositoryLock(url, "backup").acquire()
    except LockedError:
        print(json.dumps({"round": r, "won": False, "took": time.time() - start}), flush=True)
        continue
    got = time.time()
    time.sleep(hold)
    released = time.time()
    lock.release()
    print(json.dumps({"round": r, "won": True, "took": got - start, "from": got, "to": released}), flush=True)
"""


def solo(repository: str, n: int = 30) -> None:
    from qdrant_ops.repository.lock import RepositoryLock

    took, gone = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        lock = RepositoryLock(repository, "prune").acquire()
        t1 = time.perf_counter()
        lock.release()
        took.append((t1 - t0) * 1000)
        gone.append((time.perf_counter() - t1) * 1000)
    kind = "s3 (moto)" if repository.startswith("s3://") else "local directory"
    print(f"uncontended, {kind}, {n} times: take median {statistics.median(took):.1f} ms "
          f"(max {max(took):.1f}), release median {statistics.median(gone):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--hold", type=float, default=0.3)
    args = ap.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.update(CREDS)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="lock-trials")
    url = "s3://lock-trials/repo"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    with tempfile.TemporaryDirectory() as local:
        for where in (local, url):
            solo(where)
    period = args.hold + 2.5  # a back-off pause is under a second; the rest is process start and requests
    t0 = time.time() + 8.0  # every worker has imported pyarrow by then
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for i in range(args.procs):
            env = os.environ | {"AWS_ENDPOINT_URL": endpoint, "QDRANT_OPS_CACHE": f"{tmp}/machine-{i}",
                                "PYTHONPATH": str(ROOT / "src")}
            procs.append(subprocess.Popen(
                [sys.executable, "-c", WORKER, url, str(args.rounds), str(t0), str(period), str(args.hold)],
                stdout=subprocess.PIPE, text=True, env=env))
        results = [json.loads(line) for p in procs for line in (p.communicate()[0] or "").splitlines()]
    server.stop()

    overlaps, winners, nobody = 0, [], 0
    for r in range(args.rounds):
        won = sorted((x["from"], x["to"]) for x in results if x["round"] == r and x["won"])
        winners.append(len(won))
        nobody += not won
        overlaps += any(b[0] < a[1] for a, b in itertools.pairwise(won))
    took_won = [x["took"] * 1000 for x in results if x["won"]]
    took_refused = [x["took"] * 1000 for x in results if not x["won"]]
    print(f"rounds {args.rounds}, {args.procs} processes, hold {args.hold}s; results {len(results)}")
    print(f"rounds with two holders at once: {overlaps}")
    print(f"winners per round: {dict(sorted((n, winners.count(n)) for n in set(winners)))} (count: rounds)")
    print(f"rounds nobody won: {nobody}")
    if took_won:
        print(f"taking the lock: median {statistics.median(took_won):.0f} ms, max {max(took_won):.0f} ms")
    if took_refused:
        print(f"a refusal: median {statistics.median(took_refused):.0f} ms, max {max(took_refused):.0f} ms")


if __name__ == "__main__":
    main()
