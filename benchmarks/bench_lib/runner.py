"""Running operations in fresh worker processes: one at a time, repeated, and the ceilings' sweeps."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_lib.raw import SCROLL_PAGES, UPSERT_BATCHES, ours_sizes

# The entry point a worker process runs (``bench.py --worker``).
ENTRY = Path(__file__).resolve().parents[1] / "bench.py"


def run_worker(args: dict[str, Any], timeout: float = 3600, entry: Path = ENTRY) -> dict[str, Any]:
    """``args["op"]`` run by ``entry --worker`` in a fresh process; its JSON result."""
    # What the previous operation wrote is flushed first, so no run pays for another's writeback
    # (local mode commits every point to SQLite; a backup fsyncs its files).
    os.sync()
    proc = subprocess.run(
        [sys.executable, str(entry), "--worker", json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args['op']} failed:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def ceilings(args: dict[str, Any], work: Path, modes: tuple[str, ...] = ("plain", "bulk")) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw scroll and raw upsert rates at every page and batch size tried, under each GC
    setting (``plain``: CPython's default; ``bulk``: qdrant-ops' ``bulk_gc``), each measured in a
    fresh process as its first pass, as qdrant-ops' operations are. Keyed like ``rates``,
    ``rates_bulk_gc``, ``rates_warm`` (scroll: the same process's second pass) and, on Edge,
    ``rates_indexed*`` (the upsert followed by ``optimize()``)."""
    suffix = {"plain": "", "bulk": "_bulk_gc"}
    scroll: dict[str, Any] = {}
    upsert: dict[str, Any] = {}
    for page in sorted({*SCROLL_PAGES, ours_sizes(args["dims"], args["engine"])[0]}):
        for mode in modes:
            r = run_worker({**args, "op": "raw_scroll", "page": page, "gc": mode})
            scroll.setdefault("rates" + suffix[mode], {})[str(page)] = r["rate"]
            if mode == "plain":
                scroll.setdefault("rates_warm", {})[str(page)] = r["warm_rate"]
    for batch in sorted({*UPSERT_BATCHES, *ours_sizes(args["dims"], args["engine"])}):
        for mode in modes:
            target = work / f"raw-upsert-{args['n']}-{batch}-{mode}"
            r = run_worker({**args, "op": "raw_upsert", "batch": batch, "gc": mode, "target": str(target)})
            shutil.rmtree(target, ignore_errors=True)
            upsert.setdefault("rates" + suffix[mode], {})[str(batch)] = r["rate"]
            if "indexed_rate" in r:
                upsert.setdefault("rates_indexed" + suffix[mode], {})[str(batch)] = r["indexed_rate"]
    return scroll, upsert


def per_run(args: dict[str, Any], key: str, prefix: Path) -> Callable[[int], dict[str, Any]]:
    """The i-th run's arguments for ``repeated``: ``args`` with its own path ``{prefix}-{i}`` at ``key``."""

    def args_for(i: int) -> dict[str, Any]:
        return {**args, key: f"{prefix}-{i}"}

    return args_for


def repeated(args_for: Callable[[int], dict[str, Any]], k: int) -> dict[str, Any]:
    """One operation run ``k`` times, each in a fresh worker (``args_for(i)``: the i-th run's
    arguments, with its own target). Its time is the fastest run's, as a ceiling's is its best
    page or batch size; its memory figures are the first run's (no run is picked for them), and
    it is ``ok`` only if every run was. Every run's seconds are kept in ``seconds_runs``."""
    runs = [run_worker(args_for(i)) for i in range(k)]
    first = runs[0]
    if not first.get("available", True):
        return first
    return {
        **first,
        "seconds": min(r["seconds"] for r in runs),
        "seconds_runs": [r["seconds"] for r in runs],
        "ok": all(r.get("ok", True) for r in runs),
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    import pyarrow
    import qdrant_client

    try:
        qc = version("qdrant-client")
    except PackageNotFoundError:
        qc = getattr(qdrant_client, "__version__", "?")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "qdrant_client": qc,
        "pyarrow": pyarrow.__version__,
    }


def add_common_args(p: Any, what: str) -> None:
    """The options every benchmark script takes; ``what`` names what ``--workdir`` keeps."""
    import argparse

    p.add_argument("--json", dest="json_path", help="write every figure to this JSON file")
    p.add_argument("--workdir", help=f"keep {what} here (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)


def run_script(opts: Any, worker: Callable[[dict[str, Any]], dict[str, Any]],
               bench: Callable[[Any], dict[str, Any]], render: Callable[[dict[str, Any]], str]) -> int:
    """A benchmark script's body: one worker operation (``--worker``), or the whole benchmark
    printed (and written as JSON with ``--json``)."""
    if opts.worker:
        print(json.dumps(worker(json.loads(opts.worker))))
        return 0
    res = bench(opts)
    print(render(res))
    if opts.json_path:
        Path(opts.json_path).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0
