"""``qdrant-ops cutover``."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors
from qdrant_ops.cli.options import TARGET_HELP
from qdrant_ops.endpoints.uri import endpoint_from_uri


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
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.migration.cutover import switch_alias

    ep = open_endpoint(endpoint_from_uri(target, api_key), must_exist=True)
    finish(switch_alias(ep, alias, collection, require_validation=not force), report)
