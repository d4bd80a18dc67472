"""``qdrant-ops rollback``."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import REPORT_HELP, app, finish, handle_errors
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import UsageError


@app.command()
@handle_errors
def rollback(
    run_id: str | None = typer.Argument(None, help="A runbook run to undo in reverse order (see qdrant-ops runs)."),
    alias: str | None = typer.Option(None, "--alias", help="Point this alias back where it was before its last cutover."),
    target: str | None = typer.Option(None, "--target", "-t", help="The endpoint holding the alias: http(s)://host:6333, grpc://host:6334, edge:DIR or a local-mode directory."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key."),
    backup_path: str | None = typer.Option(None, "--backup-path", help="With RUN_ID: the root holding runs/."),
    runbook: Path | None = typer.Option(None, "--runbook", "-r", help="With RUN_ID: the runbook (default: the run's copy)."),
    report: Path | None = typer.Option(None, "--report", help=REPORT_HELP),
) -> None:
    """Roll back a whole run (RUN_ID), or a cutover: point --alias back at the collection it named before."""
    if run_id is not None:
        if alias is not None:
            raise UsageError("give RUN_ID or --alias, not both")
        _rollback_run(run_id, backup_path, runbook, report)
        return
    if alias is None:
        raise UsageError("say what to roll back: RUN_ID or --alias ALIAS")
    if target is None:
        raise UsageError("--target is required with --alias")
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.migration.cutover import rollback_alias

    ep = open_endpoint(endpoint_from_uri(target, api_key), must_exist=True)
    finish(rollback_alias(ep, alias), report)


def _rollback_run(run_id: str, backup_path: str | None, runbook: Path | None, report: Path | None) -> None:
    """The RUN_ID form of ``qdrant-ops rollback``: undo a whole run in reverse order."""
    from qdrant_ops.runbook.rollback import rollback_run
    from qdrant_ops.runbook.run import absolute_paths, load_runbook

    rb = absolute_paths(load_runbook(runbook)) if runbook else None
    root = backup_path or (rb.backup_path if rb else load_runbook(None).backup_path)
    finish(rollback_run(root, run_id, runbook=rb), report)
