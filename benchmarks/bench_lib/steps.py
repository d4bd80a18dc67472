"""``bench``: the whole run as a sequence of steps, each filling its part of the result."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_lib.datasets import DEFAULT_POINTS
from bench_lib.raw import ours_sizes
from bench_lib.runner import ceilings, machine, per_run, repeated, run_worker
from bench_lib.targets import checks

NOTE = "shared 2-core machine: absolute numbers are noisy; ratios measured within this run carry the result"


@dataclass
class Run:
    """One benchmark run's settings: the engine, the sizes, the work directory."""

    engine: str
    n: int
    n10: int
    dims: int
    repeat: int
    work: Path
    log: Callable[[str], None]

    def spec(self, size: int, **extra: Any) -> dict[str, Any]:
        """A worker's arguments for the dataset of ``size`` points."""
        return {"engine": self.engine, "dims": self.dims, "n": size, "source": str(self.work / f"src-{size}"), **extra}


def _log_to_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _no_log(msg: str) -> None:
    pass


def new_run(opts: argparse.Namespace) -> Run:
    engine = opts.engine
    n = opts.points or DEFAULT_POINTS[engine]
    work = Path(opts.workdir or tempfile.mkdtemp(prefix="qdrant-ops-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = _no_log if opts.quiet else _log_to_stderr
    return Run(engine, n, n * opts.scale, opts.dims, max(1, opts.repeat), work, log)


def engine_growth(run: Run, res: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """What the engine itself holds as it takes the dataset, at N and at 10xN (on-disk engines:
    loading their stores as it is measured)."""
    growth: dict[int, dict[str, Any]] = {}
    for size in (run.n, run.n10):
        if run.engine != "memory":
            run.log(f"loading {size} points into {run.engine} store ...")
            g = run_worker({**run.spec(size), "op": "load"})
        else:
            run.log(f"engine memory growth at {size} points ...")
            g = run_worker({**run.spec(size), "op": "engine_growth", "target": str(run.work / f"g-{size}")})
        growth[size] = {k: g[k] for k in ("engine_growth_kb", "engine_batch_kb", "engine_curve")}
    res["engine_growth_mb"] = {str(k): v["engine_growth_kb"] / 1024 for k, v in growth.items()}
    res["engine_peak_growth_mb"] = {
        str(k): max(kb for _, _, kb in v["engine_curve"]) / 1024 for k, v in growth.items()
    }
    res["engine_batch_mb"] = {str(k): v["engine_batch_kb"] / 1024 for k, v in growth.items()}
    return growth


def engine_read_call(run: Run, res: dict[str, Any]) -> None:
    """What the engine allocates for one read call, whoever makes it: shown beside backup's peaks."""
    run.log("the engine's own memory for a one-point scroll ...")
    res["engine_read_call_peak_mb"] = {
        str(size): run_worker({**run.spec(size), "op": "read_call"})["peak_kb"] / 1024 for size in (run.n, run.n10)
    }


def raw_ceilings(run: Run, res: dict[str, Any]) -> None:
    """The raw scroll and upsert ceilings at N: plain, warm, under qdrant-ops' GC setting and, on
    Edge, indexed and after the read-ahead advice."""
    run.log("ceilings: raw scroll and raw upsert, each size in a fresh process ...")
    scroll_run, upsert_run = ceilings(run.spec(run.n), run.work)
    scroll = scroll_run["rates"]
    upsert = upsert_run["rates"]
    # Each raw scroll counts as one pass in a fresh process, as a backup is; the same process's
    # second pass is kept and shown, not a target.
    res["raw_scroll_warm_rates"] = scroll_run["rates_warm"]
    res["raw_scroll_warm_pps"] = max(scroll_run["rates_warm"].values())
    if "rates_indexed" in upsert_run:
        # Edge: restore and migrate end with optimize(), so their ceiling is the raw upsert
        # followed by the same raw optimize().
        res["raw_upsert_no_index_rates"] = upsert
        res["raw_upsert_no_index_pps"] = max(upsert.values())
        upsert = upsert_run["rates_indexed"]
        upsert_run["rates_bulk_gc"] = upsert_run["rates_indexed_bulk_gc"]
    # The same raw calls inside qdrant-ops' own garbage-collector setting (pipeline/gcpolicy.py):
    # against these, a ratio measures only what qdrant-ops adds per point.
    res["raw_scroll_bulk_gc_rates"] = scroll_run["rates_bulk_gc"]
    res["raw_upsert_bulk_gc_rates"] = upsert_run["rates_bulk_gc"]
    res["raw_scroll_bulk_gc_pps"] = max(scroll_run["rates_bulk_gc"].values())
    res["raw_upsert_bulk_gc_pps"] = max(upsert_run["rates_bulk_gc"].values())
    best_page = max(scroll, key=lambda k: scroll[k])
    best_batch = max(upsert, key=lambda k: upsert[k])
    res["raw_scroll_rates"] = scroll
    res["raw_upsert_rates"] = upsert
    res["raw_scroll_best_page"] = int(best_page)
    res["raw_scroll_pps"] = scroll[best_page]
    res["raw_upsert_best_batch"] = int(best_batch)
    res["raw_upsert_pps"] = upsert[best_batch]
    if run.engine == "edge":
        # A backup's Edge scan first asks the kernel to read the shard's files ahead (advise_scan),
        # which a plain scroll does not: the same raw scroll after the same advice is the ceiling.
        advised = {
            str(page): run_worker({**run.spec(run.n), "op": "raw_scroll", "page": page, "gc": "plain", "advise": True})[
                "rate"
            ]
            for page in sorted({int(best_page), ours_sizes(run.dims, run.engine)[0]})
        }
        res["raw_scroll_advised_rates"] = advised
        res["raw_scroll_advised_pps"] = max(advised.values())


def backup_restore(run: Run, growth: dict[int, dict[str, Any]], ops: dict[str, dict[str, Any]]) -> None:
    """Backup then restore at N (``--repeat`` runs) and at 10xN (the memory check: one run each)."""
    for size, tag in ((run.n, "1x"), (run.n10, "10x")):
        reps = run.repeat if tag == "1x" else 1
        run.log(f"backup {size} ...")
        b = repeated(per_run({**run.spec(size), "op": "backup"}, "backup_root", run.work / f"backup-{size}"), reps)
        ops[f"backup_{tag}"] = {**b, "points": size, "pps": size / b["seconds"]}
        run.log(f"restore {size} ...")
        restore = {**run.spec(size), "op": "restore", "backup_dir": b["backup_dir"], "engine_growth": growth[size]}
        r = repeated(per_run(restore, "target", run.work / f"restore-{size}"), reps)
        ops[f"restore_{tag}"] = {**r, "points": size, "pps": size / r["seconds"]}


def raw_parquet(run: Run, res: dict[str, Any], bdir: str) -> None:
    """The raw Parquet ceiling, run as often as ours (a single run against the fastest of ours
    would favour ours), its best run counting."""
    run.log("ceiling: raw Parquet write, read + hash ...")
    pq_runs = [
        run_worker({**run.spec(run.n), "op": "raw_parquet", "backup_dir": bdir, "scratch": str(run.work)})
        for _ in range(run.repeat)
    ]
    res["raw_parquet_write_rates"] = [r["write_rate"] for r in pq_runs]
    res["raw_parquet_read_hash_rates"] = [r["read_hash_rate"] for r in pq_runs]
    res["raw_parquet_write_pps"] = max(res["raw_parquet_write_rates"])
    res["raw_parquet_read_hash_pps"] = max(res["raw_parquet_read_hash_rates"])


def verify(run: Run, ops: dict[str, dict[str, Any]], bdir: str) -> None:
    run.log("verify BACKUP ...")
    v = repeated(lambda i: {**run.spec(run.n), "op": "verify_backup", "backup_dir": bdir}, run.repeat)
    ops["verify_backup"] = {**v, "points": run.n, "pps": run.n / v["seconds"]}
    run.log("verify BACKUP --against ...")
    v = repeated(lambda i: {**run.spec(run.n), "op": "verify_against", "backup_dir": bdir}, run.repeat)
    ops["verify_against"] = {**v, "points": run.n, "pps": run.n / v["seconds"]}


Ceiling = tuple[float, float]


def migrate_ceilings(run: Run, res: dict[str, Any], mn: int) -> tuple[Ceiling, Ceiling | None]:
    """``(scroll, upsert)`` ceilings for migrate at its own size ``mn``, and the same under
    qdrant-ops' GC setting (None where ``mn`` is not N: that is measured at N only)."""
    if mn == run.n:
        return (res["raw_scroll_pps"], res["raw_upsert_pps"]), (res["raw_scroll_bulk_gc_pps"], res["raw_upsert_bulk_gc_pps"])
    if run.engine != "memory":
        run.log(f"loading {mn} points for migrate ...")
        run_worker({**run.spec(mn), "op": "load"})
    # A scroll's cost depends on the collection's size (local mode sorts every id on each call):
    # the migrate ceiling is measured again at the migrate's own size.
    run.log(f"ceilings at {mn} points, for migrate ...")
    s_mn, u_mn = ceilings(run.spec(mn), run.work, modes=("plain",))
    up_mn = u_mn.get("rates_indexed") or u_mn["rates"]
    res["migrate_ceiling_raw_scroll_rates"] = s_mn["rates"]
    res["migrate_ceiling_raw_upsert_rates"] = up_mn
    return (max(s_mn["rates"].values()), max(up_mn.values())), None


def migrates(run: Run, growth: dict[int, dict[str, Any]], ops: dict[str, dict[str, Any]], mn: int) -> None:
    """``qdrant-ops migrate`` at ``--parallel`` 1 and 2, then ``qdrant_client.migrate()``."""
    for par in (1, 2):
        run.log(f"migrate --parallel {par} ({mn} points) ...")
        migrate = {**run.spec(mn), "op": "migrate", "parallel": par, "engine_growth": growth.get(mn)}
        m = repeated(per_run(migrate, "target", run.work / f"migrate-{par}"), run.repeat)
        if m.get("available"):
            ops[f"migrate_p{par}"] = {**m, "points": mn, "pps": mn / m["seconds"]}
    for bs, tag in ((None, "default"), (1000, "b1000")):
        run.log(f"qdrant_client.migrate() batch_size={bs or 'default'} ({mn} points) ...")
        peer = {**run.spec(mn), "op": "migrate_peer", "batch_size": bs, "engine_growth": growth.get(mn)}
        m = repeated(per_run(peer, "target", run.work / f"peer-{tag}"), run.repeat)
        if m.get("available", True):
            ops[f"peer_migrate_{tag}"] = {**m, "points": mn, "pps": mn / m["seconds"]}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else a / b


def ratios(res: dict[str, Any], ceiling: Ceiling, bulk_gc_ceiling: Ceiling | None) -> None:
    """Every ratio of ours to its ceiling or peer: the targets' and those shown beside them."""
    ops = res["operations"]
    for key in ("backup_1x", "backup_10x", "restore_1x", "restore_10x", "verify_backup"):
        if not ops[key].get("ok"):
            ops[key]["pps"] = None  # a failed run has no speed

    ceiling_migrate = 1 / (1 / ceiling[0] + 1 / ceiling[1])
    res["scroll_upsert_ceiling_pps"] = ceiling_migrate
    res["scroll_upsert_ceiling_points"] = res["migrate_points"]
    best_ours = max(
        (ops[k]["pps"] for k in ("migrate_p1", "migrate_p2") if k in ops and ops[k].get("ok")), default=None
    )
    res["migrate_best_pps"] = best_ours
    res["backup_vs_raw_scroll_ratio"] = _ratio(ops["backup_1x"]["pps"], res["raw_scroll_pps"])
    res["restore_vs_raw_upsert_ratio"] = _ratio(ops["restore_1x"]["pps"], res["raw_upsert_pps"])
    res["verify_vs_raw_read_ratio"] = _ratio(ops["verify_backup"]["pps"], res["raw_parquet_read_hash_pps"])
    res["migrate_vs_ceiling_ratio"] = _ratio(best_ours, ceiling_migrate)
    peer = {
        k: ops[k]["pps"] if k in ops and ops[k].get("ok") else None
        for k in ("peer_migrate_default", "peer_migrate_b1000")
    }
    res["scroll_upsert_bulk_gc_ceiling_pps"] = (
        1 / (1 / bulk_gc_ceiling[0] + 1 / bulk_gc_ceiling[1]) if bulk_gc_ceiling else None
    )
    res["backup_vs_raw_scroll_warm_ratio"] = _ratio(ops["backup_1x"]["pps"], res["raw_scroll_warm_pps"])
    if "raw_scroll_advised_pps" in res:
        res["backup_vs_raw_scroll_advised_ratio"] = _ratio(ops["backup_1x"]["pps"], res["raw_scroll_advised_pps"])
    res["backup_vs_raw_scroll_bulk_gc_ratio"] = _ratio(ops["backup_1x"]["pps"], res["raw_scroll_bulk_gc_pps"])
    res["restore_vs_raw_upsert_bulk_gc_ratio"] = _ratio(ops["restore_1x"]["pps"], res["raw_upsert_bulk_gc_pps"])
    res["migrate_vs_bulk_gc_ceiling_ratio"] = _ratio(best_ours, res["scroll_upsert_bulk_gc_ceiling_pps"])
    res["migrate_vs_qdrant_client_ratio"] = _ratio(best_ours, peer["peer_migrate_default"])
    res["migrate_vs_qdrant_client_b1000_ratio"] = _ratio(best_ours, peer["peer_migrate_b1000"])
    res["backup_rss_10x_vs_1x_ratio"] = _ratio(
        ops["backup_10x"]["rss_peak_above_engine_mb"], ops["backup_1x"]["rss_peak_above_engine_mb"]
    )
    res["restore_rss_10x_vs_1x_ratio"] = _ratio(
        ops["restore_10x"]["rss_peak_above_engine_mb"], ops["restore_1x"]["rss_peak_above_engine_mb"]
    )
    # The same peaks above only what the engine holds once written (its copies while it grew
    # counted as the writer's; shown, not a target).
    res["restore_rss_10x_vs_1x_engine_final_ratio"] = _ratio(
        ops["restore_10x"].get("rss_peak_above_engine_final_mb"), ops["restore_1x"].get("rss_peak_above_engine_final_mb")
    )


def bench(opts: argparse.Namespace) -> dict[str, Any]:
    run = new_run(opts)
    started = time.perf_counter()
    res: dict[str, Any] = {
        "engine": run.engine,
        "points": run.n,
        "points_10x": run.n10,
        "dims": run.dims,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "note": NOTE,
    }
    growth = engine_growth(run, res)
    engine_read_call(run, res)
    raw_ceilings(run, res)
    ops: dict[str, dict[str, Any]] = {}
    res["repeat"] = run.repeat
    backup_restore(run, growth, ops)
    bdir = ops["backup_1x"]["backup_dir"]
    raw_parquet(run, res, bdir)
    verify(run, ops, bdir)
    mn = opts.migrate_points or run.n
    ceiling, bulk_gc_ceiling = migrate_ceilings(run, res, mn)
    migrates(run, growth, ops, mn)
    res["migrate_points"] = mn
    res["operations"] = ops
    ratios(res, ceiling, bulk_gc_ceiling)
    res["checks"] = checks(res)
    res["total_seconds"] = time.perf_counter() - started
    if not opts.workdir and not opts.keep:
        shutil.rmtree(run.work, ignore_errors=True)
    return res
