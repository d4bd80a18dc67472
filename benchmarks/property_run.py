"""The property-based run of issue 25: N generated collections through every verb, as a user runs them.

    PYTHONPATH=src:tests python benchmarks/property_run.py --examples 300 [--seed 0] [--json out.json]

Collections are drawn by hypothesis from the collection corpus (tests/collection_corpus.py, the
strategies in tests/property_cases.py), each on one of five engine pairs in turn (local, :memory:,
Edge; local <-> Edge); each goes through backup, verify, restore, verify --against --full,
migrate and verify --source/--target --full. Prints the count, the runs per verb and exit code,
the messages of the non-zero ones, and every finding (an exit outside 0-4, a traceback, an error
that is not one line). Exits 1 when there is a finding.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)  # qdrant-client's local-mode notes
    from property_cases import run_many

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qdrant-ops-property-") as work:
        tally = run_many(args.examples, Path(work), seed=args.seed)
    elapsed = time.monotonic() - started
    print(f"{tally.collections} generated collections ({tally.points} points) in {elapsed:.0f} s, seed {args.seed}")
    print("engine pairs: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.pairs.items())))
    verbs = sorted({v for v, _ in tally.codes})
    for verb in verbs:
        codes = {c: n for (v, c), n in tally.codes.items() if v == verb}
        print(f"  {verb:15} " + "  ".join(f"exit {c}: {n}" for c, n in sorted(codes.items())))
    if tally.messages:
        print("non-zero exits, by message:")
        for msg, n in tally.messages.most_common():
            print(f"  {n:4}  {msg}")
    if tally.checks:
        print("runs that ended in exit 1 (a check failed):")
        for c in tally.checks:
            print(f"  {c}")
    print(f"findings: {len(tally.problems)}")
    for p in tally.problems:
        print(f"  {p}")
    if args.json:
        args.json.write_text(json.dumps({
            "collections": tally.collections, "points": tally.points, "seed": args.seed, "seconds": round(elapsed),
            "pairs": dict(tally.pairs), "codes": {f"{v} {c}": n for (v, c), n in sorted(tally.codes.items())},
            "messages": dict(tally.messages), "checks": tally.checks, "problems": tally.problems,
        }, indent=2))
    return 1 if tally.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
