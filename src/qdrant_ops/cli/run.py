"""``qdrant-ops init | run | runs | check-legacy`` (and the RUN_ID form of ``rollback``)."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import app, finish, handle_errors, progress_sink, set_verbose, split_csv
from qdrant_ops.cli.options import RUNBOOK_HELP
from qdrant_ops.errors import UsageError


@app.command()
@handle_errors
def run(
    phase: list[str] | None = typer.Option(None, "--phase", help="Phase id(s) to run: 7.1, 7.2 or all (default: all)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Run every step in its dry-run mode; change nothing."),
    backup_path: str | None = typer.Option(None, "--backup-path", help="Root of backups and run directories."),
    runbook: Path | None = typer.Option(None, "--runbook", "-r", help=RUNBOOK_HELP),
    plan: str | None = typer.Option(None, "--plan", help="Markdown plan to tick as steps complete."),
    resume: str | None = typer.Option(None, "--resume", help="Continue run RUN_ID after its last completed step."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each step's progress."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before changing data and code."),
    report: Path | None = typer.Option(None, "--report", help="Also write the run report to PATH.json and PATH.md."),
) -> None:
    """Run the runbook's phases: prerequisites, then each step, with reports and the plan ticked."""
    from qdrant_ops.runbook.run import load_runbook, run_runbook

    set_verbose(verbose)
    rb = load_runbook(runbook)
    phases = split_csv(phase) or ["all"]
    if not dry_run and not resume and not yes:
        try:
            go = typer.confirm(f"run phase(s) {', '.join(phases)}: this changes data and code. Go on?", default=False)
        except typer.Abort:
            go = False
        if not go:
            raise UsageError("not confirmed (use --yes, or --dry-run to see the plan)")
    result = run_runbook(rb, phase=phases, dry_run=dry_run, backup_path=backup_path, plan=plan,
                         resume=resume, runbook_file=str(runbook.resolve()) if runbook else None,
                         progress=progress_sink())
    finish(result, report, result.exit_code)
