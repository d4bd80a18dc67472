"""``make demo``: the main job on the embedded default.

Creates a local-mode store under ``./demo-data/source`` with the plan's three collections, backs
them up, verifies the backup, restores it into ``./demo-data/restored`` under new names, and
verifies source against restored. Prints where the backup and the reports are.

Then the whole phase 7 as a runbook (``qdrant-ops run``): 7.1 backup -> migrate (to ``<name>_v2``)
-> validate on the same store, and 7.2 cleanup-legacy -> consolidate-clients -> check-legacy ->
tests on a generated demo repository (``./demo-data/repo``), ticking its ``docs/PLAN.md``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from rich.console import Console

from demo.data import DEMO_COLLECTIONS, create_demo_collections
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_backup, verify_live
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import QdrantOpsError
from qdrant_ops.progress import RichProgress
from qdrant_ops.reports import Report, write_report


def run(root: Path, points: int, console: Console) -> int:
    source_dir, restored_dir = root / "source", root / "restored"
    backups, reports = root / "backups", root / "reports"
    for d in (source_dir, restored_dir, root / "runbook", root / "repo"):
        if d.exists():
            shutil.rmtree(d)
    progress = RichProgress()
    source = open_endpoint(str(source_dir))
    counts = create_demo_collections(source, points=points, progress=progress)
    console.print(f"[bold]1. created[/] {source_dir}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))

    steps: list[tuple[str, Report]] = []
    bk = backup(
        BackupConfig(source=endpoint_from_uri(str(source_dir)), backup_path=str(backups), compression_level=6),
        progress=progress,
    )
    steps.append(("backup", bk))
    console.print(f"[bold]2. backed up[/] to {bk.backup_dir}")
    vb = verify_backup(bk.backup_dir, progress=progress)
    steps.append(("verify-backup", vb))
    console.print(f"[bold]3. verified the backup[/]: {vb.status}")
    rs = restore(
        RestoreConfig(backup=bk.backup_dir, target=endpoint_from_uri(str(restored_dir)), suffix="_restored"),
        progress=progress,
    )
    steps.append(("restore", rs))
    console.print(f"[bold]4. restored[/] into {restored_dir}: " + ", ".join(c.target_name for c in rs.collections))
    vl = verify_live(source, open_endpoint(str(restored_dir)), suffix="_restored", full=True)
    steps.append(("verify-live", vl))
    console.print(f"[bold]5. verified source against restored[/] (every point): {vl.status}")
    for name, rep in steps:
        write_report(rep, reports / name)
        for line in rep.summary_lines():
            console.print("   " + line, markup=False, highlight=False)
    console.print(f"\nbackup:  {bk.backup_dir}\nreports: {reports}/ (JSON, Markdown and HTML: open {reports / 'backup.html'})")
    ok = all(rep.status == "ok" for _, rep in steps)
    ok = phase7(root, source_dir, console) and ok
    console.print("[bold green]demo ok[/]" if ok else "[bold red]demo FAILED[/]")
    return 0 if ok else 1


def phase7(root: Path, source_dir: Path, console: Console) -> bool:
    """The whole phase 7 on the demo store and a generated demo repository, as one runbook run."""
    import yaml

    from demo.repo import create_demo_repo
    from qdrant_ops.runbook.run import load_runbook, run_runbook

    repo = create_demo_repo(root / "repo")
    runs = root / "runbook"
    runbook_file = root / "runbook.yaml"
    data = {
        "endpoint": {"path": str(source_dir)},
        "backup_path": str(runs),
        "repo": str(repo),
        "plan": str(repo / "docs" / "PLAN.md"),
        "prerequisites": {"min_free_gb": 0.1},
        "phases": [
            {"id": "7.1", "title": "Data migration", "steps": [
                {"id": "backup", "kind": "backup"},
                {"id": "migrate", "kind": "migrate", "config": {"format_version": "v2"}},
                {"id": "validate", "kind": "validate", "config": {"format_version": "v2"}},
            ]},
            {"id": "7.2", "title": "Legacy cleanup", "steps": [
                {"id": "cleanup-legacy", "kind": "cleanup-legacy", "config": {"scripts": ["scripts/reindex_roadmap.py"]}},
                {"id": "consolidate-clients", "kind": "consolidate-clients", "config": {"run_tests": False}},
                {"id": "check-legacy", "kind": "check-legacy"},
                {"id": "tests", "kind": "tests",
                 "config": {"command": [sys.executable, "-m", "unittest", "discover", "-s", "tests"]}},
            ]},
        ],
    }
    runbook_file.write_text(
        "# The demo's phase 7 runbook (written by make demo): edit it and run it yourself with\n"
        f"#   qdrant-ops run --runbook {runbook_file} --dry-run\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    rb = load_runbook(runbook_file)
    console.print(f"\n[bold]6. phase 7 runbook[/] {runbook_file} on {source_dir} and the demo repository {repo}")
    dry = run_runbook(rb, dry_run=True, runbook_file=str(runbook_file))
    console.print(f"   dry-run: {dry.status}, {len(dry.steps)} steps planned, nothing changed")
    report = run_runbook(rb, runbook_file=str(runbook_file))
    for line in report.summary_lines():
        console.print("   " + line, markup=False, highlight=False)
    console.print(
        f"\nrun:     {report.run_dir}\nreport:  {report.run_dir}/report.html (and .md, .json; each step's in steps/)\n"
        f"plan:    {repo / 'docs' / 'PLAN.md'} (ticked)\narchive: {repo / 'legacy' / 'python-scripts'}\n"
        f"undo:    qdrant-ops rollback {report.run_id} --backup-path {runs}\n"
        f"again:   after the undo, qdrant-ops run --runbook {runbook_file} --dry-run, then --yes"
    )
    return report.status == "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qdrant_ops.demo", description=__doc__)
    parser.add_argument("--dir", default="demo-data", help="where the demo stores live")
    parser.add_argument("--points", type=int, default=2000, help=f"points per collection ({', '.join(DEMO_COLLECTIONS)})")
    args = parser.parse_args(argv)
    console = Console()
    try:
        return run(Path(args.dir), args.points, console)
    except QdrantOpsError as exc:
        console.print(f"[red]error:[/] {exc}", markup=True)
        return exc.exit_code
    finally:
        close_all()


if __name__ == "__main__":
    sys.exit(main())
