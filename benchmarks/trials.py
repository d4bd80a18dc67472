"""Reliability trials: crash (SIGKILL backup, restore, migrate), transient faults, corruption and fuzzed input.

    python benchmarks/trials.py [--trials 50] [--points 20000] [--parallel 2] [--jobs 2]
                                [--fault-points 5000] [--corruptions 200] [--fuzz 300]

Prints one table per kind of trial. Every figure is measured by running the real tool; nothing is
assumed. Scale down with the options (e.g. ``--trials 5 --points 3000``) for a quick run.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from datagen import make_collection  # noqa: E402
from reliability import corrupt, crash  # noqa: E402


def table(title: str, head: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print(f"\n{title}")
    print("  " + "  ".join(str(h).ljust(w) for h, w in zip(head, widths)))
    for r in rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    sys.stdout.flush()


def crash_trials(args: argparse.Namespace, tmp: Path) -> list[list[object]]:
    from qdrant_ops.endpoints.archive import is_complete_backup
    from qdrant_ops.endpoints.open import close_all

    store = tmp / "source"
    started = time.monotonic()
    make_collection(str(store), "c", "int-unnamed", args.points)
    close_all()
    expected = crash.store_content(str(store), "c")
    print(f"source: {args.points} points in {time.monotonic() - started:.0f}s", flush=True)
    config = crash.backup_config(tmp / "backup.json", rows_per_file=max(args.points // 20, 100), batch_size=500)
    calib = tmp / "calib"
    full_b = crash.timed(crash.cli("backup", "--source", str(store), "--backup-path", str(calib / "b"),
                                   "--parallel", str(args.parallel), "--no-verify", "--config", str(config)))
    bdir = next(d for d in (calib / "b").iterdir() if is_complete_backup(d))
    full_r = crash.timed(crash.cli("restore", str(bdir), "--target", str(calib / "t"), "--parallel",
                                   str(args.parallel), "--batch-size", "1000"))
    full_m = crash.timed(crash.migrate_args(str(store), str(calib / "mt"), calib / "m", args.parallel, 500))
    print(f"uninterrupted: backup {full_b:.1f}s, restore {full_r:.1f}s, migrate {full_m:.1f}s; "
          "kills uniform in those windows", flush=True)
    rows: list[list[object]] = []
    for verb in ("backup", "restore", "migrate"):
        def one(i: int, verb: str = verb) -> crash.TrialResult:
            rng = random.Random(f"{args.seed}-{verb}-{i}")
            work = tmp / f"{verb}-{i}"  # own directory: trials run --jobs at a time
            crash.clear(work)
            try:
                if verb == "backup":
                    src = crash.fresh_copy(store, work / "src")  # local mode: one process per store
                    return crash.backup_trial(str(src), expected, work, rng, full_b, args.parallel, config)
                if verb == "migrate":
                    src = crash.fresh_copy(store, work / "src")
                    return crash.migrate_trial(str(src), expected, work, rng, full_m, args.parallel, 500)
                b = crash.fresh_copy(bdir, work / bdir.name)
                return crash.restore_trial(b, expected, work, rng, full_r, args.parallel)
            finally:
                shutil.rmtree(work, ignore_errors=True)

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(one, range(args.trials)))
        for r in results:
            if not r.ok:
                print(f"  FAILED {verb} trial (kill at {r.kill_at_s:.2f}s): {r.problems}", flush=True)
        rows.append([
            verb, len(results), sum(r.killed for r in results), sum(r.lost for r in results),
            sum(r.duplicated for r in results), sum(not r.digest_ok for r in results),
            f"{sum(r.partial_refused for r in results)}/{sum(r.partial_left for r in results)}",
            sum(not r.ok for r in results), f"{time.monotonic() - t0:.0f}s",
        ])
        print(f"{verb}: {len(results)} trials done", flush=True)
    return rows


def fault_trials(args: argparse.Namespace, tmp: Path) -> list[list[object]]:
    from qdrant_client import QdrantClient

    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig, RestoreConfig
    from qdrant_ops.data.restore import restore
    from qdrant_ops.data.verify import verify_against
    from qdrant_ops.endpoints.open import close_all, open_endpoint
    from qdrant_ops.endpoints.qdrant import QdrantEndpoint
    from qdrant_ops.endpoints.uri import endpoint_from_uri
    from qdrant_ops.errors import QdrantOpsError
    from qdrant_ops.pipeline.retry import RetryPolicy
    from reliability.faults import FaultyClient

    rows: list[list[object]] = []
    make_collection(":memory:", "c", "sparse", args.fault_points)
    src = open_endpoint(":memory:")
    for rate in (0.1, 0.3):
        # backup under faults on the source
        faulty = FaultyClient(src.client, rate=rate, latency_s=0.002, seed=int(rate * 100))  # type: ignore[attr-defined]
        cfg = BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp / f"fb{rate}"),
                           batch_size=200, parallel=args.parallel)
        try:
            rep = backup(cfg, source=QdrantEndpoint(faulty, "faulty-source", "memory"))
            ok = rep.status == "ok" and rep.collections[0].points == args.fault_points
            result = "exact digest" if ok else f"WRONG ({rep.collections[0].points} points)"
            bdir = rep.backup_dir
        except QdrantOpsError as exc:
            result, bdir = f"FAILED: {exc}", ""
        rows.append(["backup", f"{rate:.0%}", faulty.stats.calls, faulty.stats.faults, "-", result])
        if not bdir:
            continue
        # restore under faults on the target (a local-mode store, reopened to check)
        tpath = str(tmp / f"ft{rate}")
        inner = QdrantClient(path=tpath)
        faulty = FaultyClient(inner, rate=rate, latency_s=0.002, seed=int(rate * 100) + 1)
        try:
            rr = restore(RestoreConfig(backup=bdir, target=endpoint_from_uri(tpath), batch_size=200,
                                       parallel=args.parallel),
                         target=QdrantEndpoint(faulty, "faulty-target", "local"),
                         policy=RetryPolicy(base_delay=0.01))
            inner.close()
            check = verify_against(bdir, open_endpoint(tpath))
            verdict = check.collections[0].verdict
            result = "exact digest" if verdict == "exact" and rr.status == "ok" else f"WRONG ({verdict})"
            retries = sum(c.retries for c in rr.collections)
        except QdrantOpsError as exc:
            result, retries = f"FAILED: {exc}", "-"
        finally:
            close_all(keep_memory=True)
        rows.append(["restore", f"{rate:.0%}", faulty.stats.calls, faulty.stats.faults, retries, result])
    close_all()
    rows += migrate_fault_trials(args, tmp)
    return rows


def migrate_fault_trials(args: argparse.Namespace, tmp: Path) -> list[list[object]]:
    """migrate between two local-mode stores with faults on both clients; digests compared between
    two fresh sessions (local mode returns cosine vectors differently in the session that wrote)."""
    from qdrant_client import QdrantClient

    from qdrant_ops.endpoints.open import close_all
    from qdrant_ops.endpoints.qdrant import QdrantEndpoint
    from qdrant_ops.errors import QdrantOpsError
    from qdrant_ops.format.integrity import scan_digest
    from qdrant_ops.migration.config import MigrateConfig
    from qdrant_ops.migration.run import migrate
    from qdrant_ops.pipeline.retry import RetryPolicy
    from reliability.faults import FaultyClient

    spath = str(tmp / "msource")
    make_collection(spath, "c", "sparse", args.fault_points)
    close_all()
    rows: list[list[object]] = []
    for rate in (0.1, 0.3):
        tpath = str(tmp / f"mt{rate}")
        s_inner, t_inner = QdrantClient(path=spath), QdrantClient(path=tpath)
        fs = FaultyClient(s_inner, rate=rate, latency_s=0.002, seed=int(rate * 100) + 2)
        ft = FaultyClient(t_inner, rate=rate, latency_s=0.002, seed=int(rate * 100) + 3)
        cfg = MigrateConfig.model_validate({
            "source_qdrant": {"url": spath}, "target_qdrant": {"url": tpath}, "backup_path": str(tmp / f"mb{rate}"),
            "batch_size": 200, "parallel": args.parallel, "validation": {"samples": 10}})
        try:
            rep = migrate(cfg, source=QdrantEndpoint(fs, "faulty-source", "local"),
                          target=QdrantEndpoint(ft, "faulty-target", "local"), policy=RetryPolicy(base_delay=0.01))
            retries: object = sum(c.retries for c in rep.collections)
            status = rep.status
        except QdrantOpsError as exc:
            status, retries = f"FAILED: {exc}", "-"
        finally:
            s_inner.close()
            t_inner.close()
        result = status
        if status == "ok":
            a = QdrantEndpoint(QdrantClient(path=spath), "source", "local")
            b = QdrantEndpoint(QdrantClient(path=tpath), "target", "local")
            fields = a.get_spec("c").vector_fields()
            ids = [p.id for page in b.scan("c", batch_size=1000, with_vectors=False) for p in page.points]
            same = scan_digest(a, "c", fields) == scan_digest(b, "c", fields)
            exact = same and len(ids) == len(set(ids)) == args.fault_points
            result = "exact digest" if exact else f"WRONG ({len(set(ids))} ids, {len(ids) - len(set(ids))} dup)"
            a.client.close()  # type: ignore[attr-defined]
            b.client.close()  # type: ignore[attr-defined]
        rows.append(["migrate", f"{rate:.0%}", fs.stats.calls + ft.stats.calls, fs.stats.faults + ft.stats.faults,
                     retries, result])
    return rows


def corruption_trials(args: argparse.Namespace, tmp: Path) -> list[list[object]]:
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.open import close_all
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    make_collection(":memory:", "c", "sparse", 2000)
    cfg = BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp / "cb"), batch_size=200,
                       rows_per_file=250)
    bdir = Path(backup(cfg).backup_dir)
    close_all()
    rng = random.Random(args.seed)
    per_kind = max(args.corruptions // len(corrupt.KINDS), 1)
    rows: list[list[object]] = []
    for kind in corrupt.KINDS:
        v = r = 0
        for i in range(per_kind):
            copy = tmp / "cc" / bdir.name
            shutil.rmtree(copy.parent, ignore_errors=True)
            shutil.copytree(bdir, copy)
            c = corrupt.corrupt(copy, kind, rng)
            v_ok, r_ok, why = corrupt.refused(copy, c, str(tmp / "cc" / "target"))
            v += v_ok
            r += r_ok
            if not (v_ok and r_ok):
                print(f"  UNDETECTED {c}: {why[:300]}", flush=True)
        rows.append([kind, per_kind, f"{v / per_kind:.0%}", f"{r / per_kind:.0%}"])
    return rows


def fuzz_trials(args: argparse.Namespace, tmp: Path) -> list[list[object]]:
    from reliability import fuzz

    return [[name, cases, tracebacks, bad] for name, cases, tracebacks, bad in fuzz.run_all(args.fuzz, tmp)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=50, help="crash trials per verb (default 50)")
    ap.add_argument("--points", type=int, default=20_000, help="points in the crash-trial collection")
    ap.add_argument("--parallel", type=int, default=2, help="--parallel given to each run")
    ap.add_argument("--jobs", type=int, default=2, help="crash trials run at once")
    ap.add_argument("--fault-points", type=int, default=5000, help="points in the fault-trial collection")
    ap.add_argument("--corruptions", type=int, default=210, help="corruption trials in all")
    ap.add_argument("--fuzz", type=int, default=300, help="hypothesis examples per fuzz target")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=["crash", "faults", "corruption", "fuzz"], action="append")
    args = ap.parse_args()
    only = set(args.only or ["crash", "faults", "corruption", "fuzz"])
    failed = False
    with tempfile.TemporaryDirectory(prefix="qdrant-ops-trials-") as d:
        tmp = Path(d)
        if "faults" in only:
            rows = fault_trials(args, tmp / "faults")
            table("Transient faults (connection reset, timeout, 503, 429, gRPC UNAVAILABLE/RESOURCE_EXHAUSTED)",
                  ["verb", "fault rate", "calls", "faults injected", "retries", "result"], rows)
            failed |= any(r[-1] != "exact digest" for r in rows)
        if "corruption" in only:
            rows = corruption_trials(args, tmp / "corruption")
            table("Corruption (refused and the file named)", ["corruption", "trials", "verify detected",
                  "restore refused"], rows)
            failed |= any(r[2] != "100%" or r[3] != "100%" for r in rows)
        if "fuzz" in only:
            rows = fuzz_trials(args, tmp / "fuzz")
            table("Fuzzed input (hypothesis)", ["target", "cases", "tracebacks", "not exit 0/2 + one line"], rows)
            failed |= any(r[2] or r[3] for r in rows)
        if "crash" in only:
            rows = crash_trials(args, tmp / "crash")
            table(f"Crash trials (SIGKILL at a random moment, rerun; {args.points} points, --parallel {args.parallel})",
                  ["verb", "trials", "killed mid-run", "lost", "duplicated", "digest wrong",
                   "refused-as-partial", "failed trials", "time"], rows)
            failed |= any(r[7] for r in rows)
    print("\nresult:", "FAILURES above" if failed else "all trials passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
