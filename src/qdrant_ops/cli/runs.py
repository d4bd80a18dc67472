"""``qdrant-ops runs``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import app, echo, echo_json, handle_errors, state
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
    rows: list[dict[str, Any]] = []
    for r in found:
        done = sum(1 for s in r.steps if s.status == "ok")
        failed = next((s.id for s in r.steps if s.status in ("failed", "rollback-failed")), None)
        rows.append({
            "run_id": r.run_id, "status": r.status, "phases": list(r.phases), "steps_done": done,
            "steps": len(r.steps), "failed_at": failed, "created_at": r.created_at.isoformat(timespec="seconds"),
        })
    if state.json:
        echo_json({"schema": "qdrant-ops/runs", "root": str(runs_root(root)), "runs": rows})
        return
    if not rows:
        echo(f"no runs under {runs_root(root)}")
        return
    table = [["RUN ID", "STATUS", "PHASES", "STEPS", "FAILED AT", "CREATED (UTC)"]]
    table += [[x["run_id"], x["status"], ",".join(x["phases"]), f"{x['steps_done']}/{x['steps']}",
               x["failed_at"] or "-", x["created_at"]] for x in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for row in table:
        echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
