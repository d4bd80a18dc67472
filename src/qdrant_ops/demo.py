"""``make demo``: the main job on the embedded default.

Creates a local-mode store under ``./demo-data/source`` with the plan's three collections, backs
them up, verifies the backup, restores it into ``./demo-data/restored`` under new names, and
verifies source against restored. Prints where the backup and the reports are.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from rich.console import Console

from qdrant_ops.backup import backup
from qdrant_ops.config import BackupConfig, RestoreConfig, endpoint_from_uri
from qdrant_ops.demodata import DEMO_COLLECTIONS, create_demo_collections
from qdrant_ops.endpoints import close_all, open_endpoint
from qdrant_ops.errors import QdrantOpsError
from qdrant_ops.progress import RichProgress
from qdrant_ops.reports import Report, write_report
from qdrant_ops.restore import restore
from qdrant_ops.verify import verify_backup, verify_live


def run(root: Path, points: int, console: Console) -> int:
    source_dir, restored_dir = root / "source", root / "restored"
    backups, reports = root / "backups", root / "reports"
    for d in (source_dir, restored_dir):
        if d.exists():
            shutil.rmtree(d)
    progress = RichProgress()
    source = open_endpoint(str(source_dir))
    counts = create_demo_collections(source, points=points, progress=progress)
    console.print(f"[bold]1. created[/] {source_dir}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))

    steps: list[tuple[str, Report]] = []
    bk = backup(
        BackupConfig(source=endpoint_from_uri(str(source_dir)), backup_path=str(backups), compression_level=6, parallel=2),
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
        json_path, _ = write_report(rep, reports / name)
        for line in rep.summary_lines():
            console.print("   " + line, markup=False, highlight=False)
    console.print(f"\nbackup:  {bk.backup_dir}\nreports: {reports}/ (JSON + Markdown)")
    ok = all(rep.status == "ok" for _, rep in steps)
    console.print("[bold green]demo ok[/]" if ok else "[bold red]demo FAILED[/]")
    return 0 if ok else 1


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
