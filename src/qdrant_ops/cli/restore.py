"""``qdrant-ops restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import (
    CONFIG_HELP,
    REPORT_HELP,
    app,
    endpoint_flags,
    finish,
    handle_errors,
    progress_sink,
    split_csv,
)
from qdrant_ops.cli.options import pairs
from qdrant_ops.config.verbs import load_typed
from qdrant_ops.data.config import RestoreConfig


@app.command()
@handle_errors
def restore(
    backup: str = typer.Argument(..., help="A backup directory, a .tar, or a backup root (newest complete backup)."),
    target: str | None = typer.Option(None, "--target", "-t", help="Target: http(s)://host:6333, grpc://host:6334, edge:DIR (Qdrant Edge), a local-mode directory or :memory:."),
    collections: list[str] | None = typer.Option(None, "--collections", help="Collections to restore (default: all)."),
    rename: list[str] | None = typer.Option(None, "--rename", help="old=new, repeatable or comma-separated."),
    suffix: str | None = typer.Option(None, "--suffix", help="Append to every restored collection (and alias) name."),
    on_exists: str | None = typer.Option(None, "--on-exists", help="fail | skip | replace | append."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Points per write."),
    parallel: int | None = typer.Option(None, "--parallel", help="Write N files at once."),
    continue_on_error: bool | None = typer.Option(None, "--continue-on-error", help="Put failing batches in a dead-letter file and go on."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (prefer QDRANT_API_KEY)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Restore collections from a backup, checking every file first (resumable)."""
    flags: dict[str, Any] = {
        "backup": backup,
        "target": endpoint_flags(target, api_key),
        "collections": split_csv(collections),
        "rename": pairs(rename, "--rename"),
        "suffix": suffix,
        "on_exists": on_exists,
        "batch_size": batch_size,
        "parallel": parallel,
        "continue_on_error": continue_on_error,
    }
    cfg = load_typed("restore", RestoreConfig, file=config, flags=flags)
    from qdrant_ops.data.restore import restore as run_restore

    result = run_restore(cfg, progress=progress_sink())
    finish(result, report)
