"""``qdrant-ops verify``."""

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
from qdrant_ops.data.config import VerifyConfig


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
    read_data_subset: str | None = typer.Option(
        None, "--read-data-subset", metavar="n/t|x%|N",
        help="Read only a sample of a backup's files in full (restic's forms: 2/5, 10%, 20 files); "
        "every file is still checked for presence and size. Not a full verification."),
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
        "rename": pairs(rename, "--rename"),
        "suffix": suffix,
        "full": full,
        "read_data_subset": read_data_subset,
    }
    cfg = load_typed("verify", VerifyConfig, file=config, flags=flags)
    from qdrant_ops.data.verify import verify as run_verify

    result = run_verify(cfg, progress=progress_sink())
    finish(result, report)
