"""``qdrant-ops backup | restore | verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import (
    CONFIG_HELP,
    REPORT_HELP,
    app,
    finish,
    handle_errors,
    progress_sink,
    split_csv,
)
from qdrant_ops.config.verbs import load_typed
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.uri import endpoint_from_uri

SOURCE_HELP = (
    "Source: http(s)://host:6333, grpc://host:6334, edge:DIR (Qdrant Edge), a local-mode directory or :memory:; "
    "or, read-only, chroma:PATH, lancedb:PATH, faiss:INDEX, milvus:FILE.db, postgresql://...?table=T (docs/sources.md)."
)


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
    incremental: bool | None = typer.Option(None, "--incremental/--full", help="Write only the points new or changed since the newest backup in --backup-path, plus the ids deleted since (a directory, an object store, or with --tar the archives beside it); every backup still restores and verifies alone."),
    verify_integrity: bool | None = typer.Option(None, "--verify/--no-verify", help="Re-read and check the backup after writing it."),
    allow_empty: bool | None = typer.Option(None, "--allow-empty", help="Write an empty backup when the source holds no collections (refused otherwise)."),
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
        "incremental": incremental,
        "verify_integrity": verify_integrity,
        "allow_empty": allow_empty,
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
    from qdrant_ops.data.backup import backup as run_backup

    result = run_backup(cfg, progress=progress_sink())
    finish(result, report)
