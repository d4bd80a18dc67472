"""``qdrant-ops init``."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import app, echo, echo_json, handle_errors, state
from qdrant_ops.cli.options import DEFAULT_FILE
from qdrant_ops.errors import TargetExistsError


@app.command()
@handle_errors
def init(
    path: Path = typer.Argument(Path(DEFAULT_FILE), help="Where to write the runbook."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented default runbook (the plan's phase 7) to edit and run."""
    from qdrant_ops.runbook.model import DEFAULT_RUNBOOK_YAML

    if path.exists() and not force:
        raise TargetExistsError(f"{path} already exists (--force overwrites it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEFAULT_RUNBOOK_YAML, encoding="utf-8")
    echo(f"wrote {path}; run it with: qdrant-ops run --runbook {path} --dry-run")
    if state.json:
        echo_json({"schema": "qdrant-ops/init", "wrote": str(path)})
