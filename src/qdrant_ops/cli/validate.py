"""``qdrant-ops validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors, split_csv
from qdrant_ops.cli.options import MIGRATE_SOURCE_HELP, MIGRATION_CONFIG_HELP, TARGET_HELP, load_migration_config
from qdrant_ops.errors import UsageError
from qdrant_ops.migration.config import ValidateConfig


@app.command()
@handle_errors
def validate(
    source: str | None = typer.Option(None, "--source", "-s", help=MIGRATE_SOURCE_HELP),
    target: str | None = typer.Option(None, "--target", "-t", help=TARGET_HELP),
    collections: list[str] | None = typer.Option(None, "--collections", help="Source collections, comma-separated (default: all)."),
    format_version: str | None = typer.Option(None, "--format-version", help="As given to migrate (names the target on the same store)."),
    k: int | None = typer.Option(None, "--k", help="Neighbours per query for recall@k (default 10)."),
    samples: int | None = typer.Option(None, "--samples", help="Sample queries per vector (default 50)."),
    min_recall: float | None = typer.Option(None, "--min-recall", help="Lowest acceptable recall@k (default 0.95)."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key for both endpoints."),
    config: Path | None = typer.Option(None, "--config", "-c", help=MIGRATION_CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Validate a migration: exact counts, content digests, semantic parity (exit 1 on a failed check)."""
    validation = {k_: v for k_, v in {"k": k, "samples": samples, "min_recall": min_recall}.items() if v is not None}
    flags: dict[str, Any] = {
        "collections": split_csv(collections),
        "format_version": format_version,
        "validation": validation or None,
    }
    cfg = load_migration_config("validate", config, flags, source, target, api_key)
    if not isinstance(cfg, ValidateConfig):
        raise UsageError("internal: expected a validate config")
    from qdrant_ops.migration.validate import validate as run_validate

    finish(run_validate(cfg), report)
