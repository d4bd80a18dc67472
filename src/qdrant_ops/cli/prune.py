"""``qdrant-ops prune``: remove what no complete backup in a repository references."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors
from qdrant_ops.cli.backups import REPOSITORY_HELP, repository_arg


@app.command()
@handle_errors
def prune(
    repository: str | None = typer.Argument(None, help=REPOSITORY_HELP, show_default=False),
    backup_path: str | None = typer.Option(None, "--backup-path", help=REPOSITORY_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be removed, with bytes; remove nothing."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Remove partial backups (interrupted runs: they cannot be resumed after this), files no
    complete backup's manifest lists, and S3 multipart uploads left open; never a file a complete
    backup lists. Holds the repository lock (exit 2 while a backup or forget runs)."""
    from qdrant_ops.repository.prune import prune as run_prune

    finish(run_prune(repository_arg(repository, backup_path), dry_run=dry_run), report)
