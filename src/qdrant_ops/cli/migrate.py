"""``qdrant-ops migrate | validate | cutover | rollback``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors, progress_sink, split_csv
from qdrant_ops.config import MigrateConfig, ValidateConfig, endpoint_from_uri, load_verb_config
from qdrant_ops.errors import UsageError

CONFIG_HELP = "Migration config (JSON, YAML or TOML; default: $MIGRATION_CONFIG); flags win over it."
SOURCE_HELP = "Source endpoint: http(s)://host:6333, grpc://host:6334, a local-mode directory, :memory:, edge:DIR."
TARGET_HELP = "Target endpoint (same forms as --source)."


def _rerun() -> str | None:
    if Path(sys.argv[0]).name in ("qdrant-ops", "__main__.py"):
        return shlex.join(["qdrant-ops", *sys.argv[1:]])
    return None


def _load(verb: str, config: Path | None, flags: dict[str, Any], source: str | None, target: str | None,
          api_key: str | None) -> Any:
    for block, uri in (("source_qdrant", source), ("target_qdrant", target)):
        if uri is None and api_key:
            flags[block] = {"api_key": api_key}
    cfg = load_verb_config(verb, file=config, flags=flags)
    for block, uri in (("source_qdrant", source), ("target_qdrant", target)):
        if uri is not None:  # a URI on the command line replaces the file's block entirely
            old = getattr(cfg, block)
            key = api_key or (old.api_key.get_secret_value() if old is not None and old.api_key else None)
            cfg = cfg.model_copy(update={block: endpoint_from_uri(uri, key)})
    return cfg


@app.command()
@handle_errors
def migrate(
    source: str | None = typer.Option(None, "--source", "-s", help=SOURCE_HELP),
    target: str | None = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    collections: list[str] | None = typer.Option(None, "--collections", help="Collections, comma-separated (default: all)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Points per scroll page and write (writes are also capped at 5 MB)."),
    parallel: int | None = typer.Option(None, "--parallel", help="Copy N slices of each collection at once (a server or Edge; local mode copies one stream)."),
    dry_run: bool | None = typer.Option(None, "--dry-run", help="Read configs, counts and a sample; print the plan; write nothing."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Skip the logical backup of the sources into backup_path."),
    backup_path: str | None = typer.Option(None, "--backup-path", help="Where the pre-migration backup and the state file go."),
    on_exists: str | None = typer.Option(None, "--on-exists", help="An existing target: fail (default) | replace | append."),
    format_version: str | None = typer.Option(None, "--format-version", help="The new format's version, e.g. v56."),
    switch_alias: str | None = typer.Option(None, "--switch-alias", help="Point ALIAS at the new collection once validation passed."),
    drop_source: bool | None = typer.Option(None, "--drop-source", help="Delete the sources after validation passed (never the default)."),
    validate_after: bool | None = typer.Option(None, "--validate/--no-validate", help="Validate after migrating (default: on)."),
    restart: bool | None = typer.Option(None, "--restart", help="Discard saved progress of a different plan and start over."),
    continue_on_error: bool | None = typer.Option(None, "--continue-on-error", help="Put failing points in a dead-letter file and go on."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key for both endpoints (prefer ${QDRANT_API_KEY} in the config)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Migrate collections to a new layout: backup, transforms, resumable parallel copy, validation."""
    if on_exists is not None and on_exists not in ("fail", "replace", "append"):
        raise UsageError(f"--on-exists takes fail, replace or append, not {on_exists!r}")
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
        "drop_source": drop_source,
        "validate_after": validate_after,
        "restart": restart,
        "continue_on_error": continue_on_error,
    }
    cfg = _load("migrate", config, flags, source, target, api_key)
    if not isinstance(cfg, MigrateConfig):
        raise UsageError("internal: expected a migrate config")
    from qdrant_ops.migrate import migrate as run_migrate

    finish(run_migrate(cfg, progress=progress_sink(), rerun_command=_rerun()), report)


@app.command()
@handle_errors
def validate(
    source: str | None = typer.Option(None, "--source", "-s", help=SOURCE_HELP),
    target: str | None = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    collections: list[str] | None = typer.Option(None, "--collections", help="Source collections, comma-separated (default: all)."),
    format_version: str | None = typer.Option(None, "--format-version", help="As given to migrate (names the target on the same store)."),
    k: int | None = typer.Option(None, "--k", help="Neighbours per query for recall@k (default 10)."),
    samples: int | None = typer.Option(None, "--samples", help="Sample queries per vector (default 50)."),
    min_recall: float | None = typer.Option(None, "--min-recall", help="Lowest acceptable recall@k (default 0.95)."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key for both endpoints."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Validate a migration: exact counts, content digests, semantic parity (exit 1 on a failed check)."""
    validation = {k_: v for k_, v in {"k": k, "samples": samples, "min_recall": min_recall}.items() if v is not None}
    flags: dict[str, Any] = {
        "collections": split_csv(collections),
        "format_version": format_version,
        "validation": validation or None,
    }
    cfg = _load("validate", config, flags, source, target, api_key)
    if not isinstance(cfg, ValidateConfig):
        raise UsageError("internal: expected a validate config")
    from qdrant_ops.migrate import validate as run_validate

    finish(run_validate(cfg), report)


@app.command()
@handle_errors
def cutover(
    alias: str = typer.Option(..., "--alias", help="The alias applications query."),
    collection: str = typer.Option(..., "--collection", help="The collection the alias should point at."),
    target: str = typer.Option(..., "--target", "-t", help=TARGET_HELP),
    force: bool = typer.Option(False, "--force", help="Switch even without a passed validation recorded on the collection."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Point ALIAS at a migrated collection atomically, once its validation has passed."""
    from qdrant_ops.cutover import switch_alias
    from qdrant_ops.endpoints import open_endpoint

    ep = open_endpoint(endpoint_from_uri(target, api_key))
    finish(switch_alias(ep, alias, collection, require_validation=not force), report)


@app.command()
@handle_errors
def rollback(
    run_id: str | None = typer.Argument(None, help="A runbook run to undo in reverse order (see qdrant-ops runs)."),
    alias: str | None = typer.Option(None, "--alias", help="Point this alias back where it was before its last cutover."),
    target: str | None = typer.Option(None, "--target", "-t", help="The endpoint holding the alias."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key."),
    backup_path: str | None = typer.Option(None, "--backup-path", help="With RUN_ID: the root holding runs/."),
    runbook: Path | None = typer.Option(None, "--runbook", "-r", help="With RUN_ID: the runbook (default: the run's copy)."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Roll back a whole run (RUN_ID), or a cutover: point --alias back at the collection it named before."""
    if run_id is not None:
        if alias is not None:
            raise UsageError("give RUN_ID or --alias, not both")
        from qdrant_ops.cli.runbook import rollback_run_command

        rollback_run_command(run_id, backup_path, runbook, report)
        return
    if alias is None:
        raise UsageError("say what to roll back: RUN_ID or --alias ALIAS")
    if target is None:
        raise UsageError("--target is required with --alias")
    from qdrant_ops.cutover import rollback_alias
    from qdrant_ops.endpoints import open_endpoint

    ep = open_endpoint(endpoint_from_uri(target, api_key))
    finish(rollback_alias(ep, alias), report)
