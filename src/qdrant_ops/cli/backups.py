"""``qdrant-ops backups list``: the backups in a repository (a directory or s3:// gs:// az://)."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors
from qdrant_ops.errors import UsageError

backups_app = typer.Typer(
    help="Look at a backup repository: its backups, complete or partial.",
    no_args_is_help=True,
)
app.add_typer(backups_app, name="backups")

REPOSITORY_HELP = "The repository: a backup root directory, or s3://bucket/prefix (gs://, az://)."


def repository_arg(repository: str | None, backup_path: str | None) -> str:
    """The repository from the argument or ``--backup-path`` (one of them, not both)."""
    if repository and backup_path and repository != backup_path:
        raise UsageError("give the repository once: as the argument or as --backup-path")
    where = repository or backup_path
    if not where:
        raise UsageError("no repository given (an argument or --backup-path)")
    return where


@backups_app.command("list")
@handle_errors
def list_cmd(
    repository: str | None = typer.Argument(None, help=REPOSITORY_HELP, show_default=False),
    backup_path: str | None = typer.Option(None, "--backup-path", help=REPOSITORY_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """List the backups with time, collections, points, bytes, parent and complete/partial
    (``--json``: the report, its ``backups`` list for scripts)."""
    from qdrant_ops.repository.forget import backups_list

    finish(backups_list(repository_arg(repository, backup_path)), report)
