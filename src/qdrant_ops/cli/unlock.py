"""``qdrant-ops unlock``: remove the stale lock objects from a backup repository."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors
from qdrant_ops.cli.backups import REPOSITORY_HELP, repository_arg


@app.command()
@handle_errors
def unlock(
    repository: str | None = typer.Argument(None, help=REPOSITORY_HELP, show_default=False),
    backup_path: str | None = typer.Option(None, "--backup-path", help=REPOSITORY_HELP),
    remove_all: bool = typer.Option(False, "--remove-all", help="Remove every lock, live ones too: only when "
                                    "you know no backup, forget or prune runs on any machine."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Remove stale locks from a repository's locks/ (not refreshed for 30 min, or of a process on
    this host that no longer runs); live locks stay unless --remove-all."""
    from qdrant_ops.repository.lock import unlock as run_unlock

    finish(run_unlock(repository_arg(repository, backup_path), remove_all=remove_all), report)
