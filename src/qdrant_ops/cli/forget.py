"""``qdrant-ops forget``: keep the backups a retention policy names, remove the others."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors
from qdrant_ops.cli.backups import REPOSITORY_HELP, repository_arg


@app.command()
@handle_errors
def forget(
    repository: str | None = typer.Argument(None, help=REPOSITORY_HELP, show_default=False),
    backup_path: str | None = typer.Option(None, "--backup-path", help=REPOSITORY_HELP),
    keep_last: int = typer.Option(0, "--keep-last", min=0, help="Keep the N newest backups."),
    keep_hourly: int = typer.Option(0, "--keep-hourly", min=0, help="Keep the newest backup of each of the last N hours that have one."),
    keep_daily: int = typer.Option(0, "--keep-daily", min=0, help="... of each of the last N days."),
    keep_weekly: int = typer.Option(0, "--keep-weekly", min=0, help="... of each of the last N ISO weeks."),
    keep_monthly: int = typer.Option(0, "--keep-monthly", min=0, help="... of each of the last N months."),
    keep_yearly: int = typer.Option(0, "--keep-yearly", min=0, help="... of each of the last N years."),
    keep_within: str | None = typer.Option(None, "--keep-within", help="Keep every backup within this duration of the newest (30d, 1y6m, 2d12h)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be removed; remove nothing."),
    prune: bool = typer.Option(False, "--prune", help="Then run prune: partial backups (they cannot be resumed after this), files no manifest lists, open uploads."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Apply a retention policy (restic's --keep-* rules) to a backup repository."""
    from qdrant_ops.repository.forget import forget as run_forget
    from qdrant_ops.repository.retention import Policy, parse_duration

    policy = Policy(last=keep_last, hourly=keep_hourly, daily=keep_daily, weekly=keep_weekly,
                    monthly=keep_monthly, yearly=keep_yearly,
                    within=parse_duration(keep_within) if keep_within is not None else None)
    finish(run_forget(repository_arg(repository, backup_path), policy, dry_run=dry_run, prune=prune), report)
