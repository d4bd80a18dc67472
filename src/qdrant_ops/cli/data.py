"""``qdrant-ops backup | restore | verify``."""

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
from qdrant_ops.config import BackupConfig, RestoreConfig, VerifyConfig, endpoint_from_uri, load_typed
from qdrant_ops.errors import UsageError

SOURCE_HELP = "Source: http(s)://host:6333, grpc://host:6334, a local-mode directory, :memory:."


def _pairs(values: list[str] | None, flag: str) -> dict[str, str] | None:
    if not values:
        return None
    out: dict[str, str] = {}
    for v in split_csv(values) or []:
        old, sep, new = v.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"{flag} takes old=new, not {v!r}")
        out[old] = new
    return out


@app.command()
@handle_errors
def backup(
    source: str | None = typer.Option(None, "--source", "-s", help=SOURCE_HELP),
    collections: list[str] | None = typer.Option(None, "--collections", help="Collections, comma-separated (default: all)."),
    backup_path: str | None = typer.Option(None, "--backup-path", help="Backup root; each run writes <root>/<UTC stamp>/."),
    compression_level: int | None = typer.Option(None, "--compression-level", help="zstd level, 1-22."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Points per scroll page and row group."),
    parallel: int | None = typer.Option(None, "--parallel", help="Scan N slices at once (a server or Edge; local mode scans one stream)."),
    tar: bool | None = typer.Option(None, "--tar/--no-tar", help="Pack the finished backup into one .tar."),
    snapshot: bool | None = typer.Option(None, "--snapshot", help="Also take native snapshots (server: per node; Edge: shard tar) into the backup, sha256 in the manifest."),
    verify_integrity: bool | None = typer.Option(None, "--verify/--no-verify", help="Re-read and check the backup after writing it."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (prefer QDRANT_API_KEY)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Back up collections to Parquet files with a checksummed manifest (resumable)."""
    flags: dict[str, Any] = {
        "collections": split_csv(collections),
        "backup_path": backup_path,
        "compression_level": compression_level,
        "batch_size": batch_size,
        "parallel": parallel,
        "tar": tar,
        "snapshot": snapshot,
        "verify_integrity": verify_integrity,
    }
    if api_key:
        flags["qdrant_api_key"] = api_key
    cfg = load_typed("backup", BackupConfig, file=config, flags=flags)
    if source is not None:
        cfg = cfg.model_copy(
            update={
                "source": endpoint_from_uri(source),
                "qdrant_host": None,
                "qdrant_port": None,
                "qdrant_url": None,
            }
        )
    from qdrant_ops.backup import backup as run_backup

    result = run_backup(cfg, progress=progress_sink())
    finish(result, report)


@app.command()
@handle_errors
def restore(
    backup: str = typer.Argument(..., help="A backup directory, a .tar, or a backup root (newest complete backup)."),
    target: str | None = typer.Option(None, "--target", "-t", help="Target endpoint (URL, directory or :memory:)."),
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
        "rename": _pairs(rename, "--rename"),
        "suffix": suffix,
        "on_exists": on_exists,
        "batch_size": batch_size,
        "parallel": parallel,
        "continue_on_error": continue_on_error,
    }
    cfg = load_typed("restore", RestoreConfig, file=config, flags=flags)
    from qdrant_ops.restore import restore as run_restore

    result = run_restore(cfg, progress=progress_sink())
    finish(result, report)


@app.command()
@handle_errors
def verify(
    backup: str | None = typer.Argument(None, help="A backup directory, .tar or root to check."),
    against: str | None = typer.Option(None, "--against", help="Compare the backup with this live endpoint."),
    source: str | None = typer.Option(None, "--source", help="Compare two live endpoints: the source..."),
    target: str | None = typer.Option(None, "--target", help="... and the target."),
    collections: list[str] | None = typer.Option(None, "--collections", help="Collections to check (default: all)."),
    rename: list[str] | None = typer.Option(None, "--rename", help="old=new: the name on the compared side."),
    suffix: str | None = typer.Option(None, "--suffix", help="Suffix of the names on the compared side."),
    full: bool | None = typer.Option(None, "--full", help="Compare every point, not just counts and digests."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key for the live endpoints."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Check a backup's files and digests, or compare it (or a source) with a live endpoint."""
    flags: dict[str, Any] = {
        "backup": backup,
        "against": endpoint_flags(against, api_key),
        "source": endpoint_flags(source, api_key),
        "target": endpoint_flags(target, api_key),
        "collections": split_csv(collections),
        "rename": _pairs(rename, "--rename"),
        "suffix": suffix,
        "full": full,
    }
    cfg = load_typed("verify", VerifyConfig, file=config, flags=flags)
    from qdrant_ops.verify import verify as run_verify

    result = run_verify(cfg, progress=progress_sink())
    finish(result, report)
