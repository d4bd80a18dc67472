"""``qdrant-ops init | run | runs | check-legacy`` (and the RUN_ID form of ``rollback``)."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import app, echo, finish, handle_errors, progress_sink, set_verbose, split_csv, state
from qdrant_ops.errors import TargetExistsError, UsageError

RUNBOOK_HELP = "Runbook file (YAML, JSON or TOML); default: the built-in phase 7."
DEFAULT_FILE = "qdrant-ops-runbook.yaml"


@app.command()
@handle_errors
def init(
    path: Path = typer.Argument(Path(DEFAULT_FILE), help="Where to write the runbook."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented default runbook (the plan's phase 7) to edit and run."""
    from qdrant_ops.runbook_model import DEFAULT_RUNBOOK_YAML

    if path.exists() and not force:
        raise TargetExistsError(f"{path} already exists (--force overwrites it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_RUNBOOK_YAML, encoding="utf-8")
    echo(f"wrote {path}; run it with: qdrant-ops run --runbook {path} --dry-run")


@app.command()
@handle_errors
def run(
    phase: list[str] | None = typer.Option(None, "--phase", help="Phase id(s) to run (7.1, 7.2) or all (default)."),
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
    from qdrant_ops.runbook import load_runbook, run_runbook

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


@app.command()
@handle_errors
def runs(
    backup_path: str | None = typer.Option(None, "--backup-path", help="Root of the run directories."),
    runbook: Path | None = typer.Option(None, "--runbook", "-r", help=RUNBOOK_HELP),
) -> None:
    """List past runs with their status, phases and steps done."""
    from qdrant_ops.runbook import load_runbook
    from qdrant_ops.runs import list_runs, runs_root

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


@app.command("check-legacy")
@handle_errors
def check_legacy(
    repo: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    archive_path: str = typer.Option("legacy/python-scripts", "--archive-path", help="cleanup-legacy's archive directory."),
    consolidation_report: str | None = typer.Option(
        None, "--consolidation-report", help="A consolidate-clients report (JSON) naming removed modules."),
    script: list[str] | None = typer.Option(None, "--script", help="Also treat this path as archived (repeatable)."),
    module: list[str] | None = typer.Option(None, "--module", help="Also treat this module as removed (repeatable)."),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="Globs of paths to leave out."),
    report: Path | None = typer.Option(None, "--report", help="Write the report to PATH.json and PATH.md."),
) -> None:
    """Exit 1 listing file:line wherever code still references archived scripts or removed modules."""
    from qdrant_ops.check_legacy import check_legacy as run_check
    from qdrant_ops.runbook_model import CheckLegacyConfig

    cfg = CheckLegacyConfig(repo=str(repo), archive_path=archive_path, consolidation_report=consolidation_report,
                            scripts=split_csv(script) or [], modules=split_csv(module) or [],
                            exclude=split_csv(exclude) or [])
    result = run_check(cfg)
    if not state.quiet:
        for line in result.finding_lines():
            echo(line)
    finish(result, report)


def rollback_run_command(run_id: str, backup_path: str | None, runbook: Path | None, report: Path | None) -> None:
    """The RUN_ID form of ``qdrant-ops rollback``: undo a whole run in reverse order."""
    from qdrant_ops.runbook import absolute_paths, load_runbook, rollback_run

    rb = absolute_paths(load_runbook(runbook)) if runbook else None
    root = backup_path or (rb.backup_path if rb else load_runbook(None).backup_path)
    finish(rollback_run(root, run_id, runbook=rb), report)
