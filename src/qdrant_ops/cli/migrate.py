"""``qdrant-ops migrate | validate | cutover | rollback``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors, progress_sink, split_csv
from qdrant_ops.cli.options import MIGRATE_SOURCE_HELP, MIGRATION_CONFIG_HELP, TARGET_HELP, load_migration_config
from qdrant_ops.errors import UsageError
from qdrant_ops.migration.config import MigrateConfig


def _rerun() -> str | None:
    if Path(sys.argv[0]).name in ("qdrant-ops", "__main__.py"):
        return shlex.join(["qdrant-ops", *sys.argv[1:]])
    return None


@app.command()
@handle_errors
def migrate(
    source: str | None = typer.Option(None, "--source", "-s", help=MIGRATE_SOURCE_HELP),
    target: str | None = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    collections: list[str] | None = typer.Option(None, "--collections", help="Collections, comma-separated (default: all)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Points per scroll page and write (writes are also capped at 5 MB)."),
    parallel: int | None = typer.Option(None, "--parallel", help="Copy N slices of each collection at once (a server or Edge; local mode copies one stream)."),
    dry_run: bool | None = typer.Option(None, "--dry-run", help="Read configs, counts and a sample; print the plan; write nothing."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Skip the logical backup of the sources into backup_path."),
    backup_path: str | None = typer.Option(None, "--backup-path", help="Where the pre-migration backup and the state file go."),
    on_exists: str | None = typer.Option(None, "--on-exists", help="An existing target: fail | replace | append (default: fail)."),
    format_version: str | None = typer.Option(None, "--format-version", help="The new format's version, e.g. v56."),
    switch_alias: str | None = typer.Option(None, "--switch-alias", help="Point ALIAS at the new collection once validation passed."),
    aliases: str | None = typer.Option(None, "--aliases", help="The sources' aliases onto the targets (another store): copy | none.", show_default="copy"),
    drop_source: bool | None = typer.Option(None, "--drop-source", help="Delete the sources after validation passed (off unless given)."),
    validate_after: bool | None = typer.Option(None, "--validate/--no-validate", help="Validate after migrating (default: on)."),
    restart: bool | None = typer.Option(None, "--restart", help="Discard saved progress of a different plan and start over."),
    continue_on_error: bool | None = typer.Option(None, "--continue-on-error", help="Put failing points in a dead-letter file and go on."),
    stamp: bool | None = typer.Option(None, "--stamp/--no-stamp", help="Record the migration in each target's metadata (see README).", show_default="on"),
    api_key: str | None = typer.Option(None, "--api-key", help="API key for both endpoints (prefer ${QDRANT_API_KEY} in the config)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=MIGRATION_CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Migrate collections to a new layout: backup, transforms, resumable parallel copy, validation."""
    if on_exists is not None and on_exists not in ("fail", "replace", "append"):
        raise UsageError(f"--on-exists takes fail, replace or append, not {on_exists!r}")
    if aliases is not None and aliases not in ("copy", "none"):
        raise UsageError(f"--aliases takes copy or none, not {aliases!r}")
    flags: dict[str, Any] = {
        "collections": split_csv(collections),
        "batch_size": batch_size,
        "parallel": parallel,
        "dry_run": dry_run,
        "backup": False if no_backup else None,
        "backup_path": backup_path,
        "on_exists": on_exists,
        "format_version": format_version,
        "switch_alias": switch_alias,
        "aliases": aliases,
        "drop_source": drop_source,
        "validate_after": validate_after,
        "restart": restart,
        "continue_on_error": continue_on_error,
        "stamp": stamp,
    }
    cfg = load_migration_config("migrate", config, flags, source, target, api_key)
    if not isinstance(cfg, MigrateConfig):
        raise UsageError("internal: expected a migrate config")
    from qdrant_ops.migration.run import migrate as run_migrate

    finish(run_migrate(cfg, progress=progress_sink(), rerun_command=_rerun()), report)
