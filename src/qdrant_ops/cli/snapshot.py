"""``qdrant-ops snapshot create|list|download|delete|restore|inspect|convert``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import CONFIG_HELP, REPORT_HELP, app, endpoint_flags, finish, handle_errors, split_csv
from qdrant_ops.config.verbs import load_verb_config
from qdrant_ops.errors import UsageError
from qdrant_ops.snapshot.config import SnapshotConfig

snapshot_app = typer.Typer(
    help="Qdrant's native snapshots: create, list, download, delete and restore them on a server "
    "(per node and shard); inspect or convert a snapshot file offline through Qdrant Edge.",
    no_args_is_help=True,
)
app.add_typer(snapshot_app, name="snapshot")

URL_HELP = "Qdrant server: http(s)://host:6333 (or QDRANT_URL). Embedded stores have no snapshots."
NODE_HELP = "A cluster node's REST URL, repeatable (default: read from cluster info)."


def _cfg(url: str | None, api_key: str | None, config: Path | None, **flags: Any) -> SnapshotConfig:
    data: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    endpoint = endpoint_flags(url, api_key)
    if endpoint is not None:
        data["endpoint"] = endpoint
    cfg = load_verb_config("snapshot", file=config, flags=data)
    if not isinstance(cfg, SnapshotConfig):
        raise UsageError("internal: expected SnapshotConfig")
    return cfg


@snapshot_app.command("create")
@handle_errors
def create(
    url: str | None = typer.Option(None, "--url", "-u", help=URL_HELP),
    collections: list[str] | None = typer.Option(None, "--collections", help="Collections, comma-separated (default: all)."),
    node: list[str] | None = typer.Option(None, "--node", help=NODE_HELP),
    shards: bool | None = typer.Option(None, "--shards", help="One snapshot per shard instead of per collection."),
    download: bool | None = typer.Option(None, "--download", help="Stream each snapshot to --output, sha256 checked."),
    output: str | None = typer.Option(None, "--output", "-o", help="Download directory (default ./snapshots)."),
    delete_after_download: bool | None = typer.Option(None, "--delete-after-download", help="Remove the server copy once downloaded and checked."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (prefer QDRANT_API_KEY)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Create native snapshots of collections on every node (optionally per shard, downloaded)."""
    from qdrant_ops.snapshot.commands import create_snapshots

    cfg = _cfg(url, api_key, config, collections=split_csv(collections), nodes=node or None, shards=shards, download=download, output=output, delete_after_download=delete_after_download)
    finish(create_snapshots(cfg), report)


@snapshot_app.command("list")
@handle_errors
def list_(
    url: str | None = typer.Option(None, "--url", "-u", help=URL_HELP),
    collections: list[str] | None = typer.Option(None, "--collections", help="Collections, comma-separated (default: all)."),
    node: list[str] | None = typer.Option(None, "--node", help=NODE_HELP),
    shards: bool | None = typer.Option(None, "--shards", help="List shard snapshots."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (prefer QDRANT_API_KEY)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """List the snapshots of collections on every node, with sizes and checksums."""
    from qdrant_ops.snapshot.commands import list_snapshots

    cfg = _cfg(url, api_key, config, collections=split_csv(collections), nodes=node or None, shards=shards)
    finish(list_snapshots(cfg), report)


@snapshot_app.command("download")
@handle_errors
def download(
    collection: str = typer.Argument(..., help="The collection."),
    name: str = typer.Argument(..., help="The snapshot's name (see `snapshot list`)."),
    url: str | None = typer.Option(None, "--url", "-u", help=URL_HELP),
    node: list[str] | None = typer.Option(None, "--node", help=NODE_HELP),
    shard: int | None = typer.Option(None, "--shard", help="A shard snapshot of this shard id."),
    output: str | None = typer.Option(None, "--output", "-o", help="Download directory (default ./snapshots)."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (prefer QDRANT_API_KEY)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Stream a snapshot to disk and check its sha256 against the server's checksum."""
    from qdrant_ops.snapshot.commands import download_snapshot

    cfg = _cfg(url, api_key, config, nodes=node or None, output=output)
    finish(download_snapshot(cfg, collection, name, shard), report)


@snapshot_app.command("delete")
@handle_errors
def delete(
    collection: str = typer.Argument(..., help="The collection."),
    name: str = typer.Argument(..., help="The snapshot's name."),
    url: str | None = typer.Option(None, "--url", "-u", help=URL_HELP),
    node: list[str] | None = typer.Option(None, "--node", help=NODE_HELP),
    shard: int | None = typer.Option(None, "--shard", help="A shard snapshot of this shard id."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (prefer QDRANT_API_KEY)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Delete a snapshot from every node that holds it."""
    from qdrant_ops.snapshot.commands import delete_snapshot

    cfg = _cfg(url, api_key, config, nodes=node or None)
    finish(delete_snapshot(cfg, collection, name, shard), report)


@snapshot_app.command("restore")
@handle_errors
def restore(
    collection: str = typer.Argument(..., help="The collection to recover (created or replaced)."),
    location: str = typer.Argument(..., help="A snapshot file (uploaded) or an http(s):// / file:// URL the server fetches."),
    url: str | None = typer.Option(None, "--url", "-u", help=URL_HELP),
    node: list[str] | None = typer.Option(None, "--node", help="The node to recover on."),
    shard: int | None = typer.Option(None, "--shard", help="Recover this shard from a shard snapshot."),
    priority: str | None = typer.Option(None, "--priority", help="snapshot | replica | no_sync (Qdrant's snapshot priority)."),
    checksum: str | None = typer.Option(None, "--checksum", help="Expected sha256 (computed for a local file when omitted)."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (prefer QDRANT_API_KEY)."),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Recover a collection from a snapshot file or URL, with priority and checksum."""
    from qdrant_ops.snapshot.commands import restore_snapshot

    cfg = _cfg(url, api_key, config, nodes=node or None, priority=priority, checksum=checksum)
    finish(restore_snapshot(cfg, collection, location, shard), report)


@snapshot_app.command("inspect")
@handle_errors
def inspect(
    file: Path = typer.Argument(..., help="A shard or collection snapshot file."),
    collection: str | None = typer.Option(None, "--collection", help="Name to report (default: from the file name)."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Open a snapshot offline through Qdrant Edge; print its config, segments and points."""
    from qdrant_ops.snapshot.offline import inspect_snapshot

    finish(inspect_snapshot(file, collection=collection), report)


@snapshot_app.command("convert")
@handle_errors
def convert(
    file: Path = typer.Argument(..., help="A shard or collection snapshot file."),
    to: str = typer.Option(..., "--to", help="Backup root (a directory or s3://...): the Parquet backup is written to <root>/<UTC stamp>/."),
    collection: str | None = typer.Option(None, "--collection", help="Collection name in the backup (default: from the file name)."),
    compression_level: int = typer.Option(3, "--compression-level", help="zstd level, 1-22."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Turn a snapshot into a logical Parquet backup with a manifest, without a server."""
    from qdrant_ops.snapshot.offline import convert_snapshot

    finish(convert_snapshot(file, to, collection=collection, compression_level=compression_level), report)
