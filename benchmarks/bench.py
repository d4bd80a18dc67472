"""Benchmarks: backup, restore, verify and migrate against the engine's own ceilings and the peer.

One generated dataset, one engine per run (``--engine memory|local|edge``). Every measured
operation runs in a fresh subprocess (``--worker``), so peak RSS figures never mix; the engine is
opened (and, for ``:memory:``, filled) before the baseline RSS is taken, so the peak reported is
what the operation adds on top of the engine: anonymous memory (``RssAnon``), since the
engine's own files mapped into the process are the engine's; the total is reported beside it.
On Edge, restore and migrate end with ``optimize()`` (the index a searchable collection needs),
so the upsert ceiling there is the raw upsert followed by the raw ``optimize()``.

Absolute numbers are noisy on a shared machine; the ratios, measured within one run on the same
engine and data, carry the result. Like for like: each page or batch size of a ceiling is
measured as the first pass in a fresh process, as an operation of qdrant-ops always runs (the
second pass is shown too), and since a ceiling is the best of the sizes tried, each of
qdrant-ops' timed operations at N runs ``--repeat`` times (3), each in a fresh process, and its
fastest run counts; its memory figures are its first run's. Targets (issue 9) are checked and
shown PASS/FAIL. The parts live in ``bench_lib/``.

    python benchmarks/bench.py --engine memory --points 10000 --dims 128 --json bench.json
"""

from __future__ import annotations

import argparse
import sys

from bench_lib.report import render
from bench_lib.runner import add_common_args, run_script
from bench_lib.steps import bench
from bench_lib.worker import worker


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", choices=["memory", "local", "edge"], default="memory")
    p.add_argument("--points", type=int, default=0, help="N (default: 10000 memory, 2000 local, 20000 edge)")
    p.add_argument("--scale", type=int, default=10, help="the memory check's second size is N x SCALE")
    p.add_argument("--dims", type=int, default=128)
    p.add_argument("--migrate-points", type=int, default=0, help="points for the migrate runs (default N)")
    p.add_argument(
        "--repeat", type=int, default=3,
        help="runs of each of qdrant-ops' timed operations at N, each in a fresh process; the fastest counts (default 3)",
    )
    add_common_args(p, "stores and backups")
    return run_script(p.parse_args(argv), worker, bench, render)


if __name__ == "__main__":
    sys.exit(main())
