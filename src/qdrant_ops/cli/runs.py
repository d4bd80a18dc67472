"""``qdrant-ops runs``."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import app, echo, handle_errors
from qdrant_ops.cli.options import RUNBOOK_HELP


@app.command()
@handle_errors
def runs(
    backup_path: str | None = typer.Option(None, "--backup-path", help="Root of the run directories."),
    runbook: Path | None = typer.Option(None, "--runbook", "-r", help=RUNBOOK_HELP),
) -> None:
    """List past runs with their status, phases and steps done."""
    from qdrant_ops.runbook.run import load_runbook
    from qdrant_ops.runbook.runs import list_runs, runs_root

    root = backup_path or load_runbook(runbook).backup_path
    found = list_runs(root)
    if not found:
        echo(f"no runs under {runs_root(root)}")
        return
    for r in found:
        done = sum(1 for s in r.steps if s.status == "ok")
        failed = next((s.id for s in r.steps if s.status in ("failed", "rollback-failed")), None)
        extra = f", failed at {failed}" if failed else ""
        echo(f"{r.run_id}  {r.status:<15} phases {','.join(r.phases):<8} {done}/{len(r.steps)} steps{extra}  "
             f"{r.created_at.isoformat(timespec='seconds')}")
