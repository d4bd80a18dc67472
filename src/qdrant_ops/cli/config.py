"""``qdrant-ops config show|schema``."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import app, echo_json, handle_errors
from qdrant_ops.config.loading import masked_dump
from qdrant_ops.config.verbs import VERBS, load_verb_config
from qdrant_ops.errors import ConfigError

config_app = typer.Typer(help="Show resolved configs and their JSON Schemas.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@handle_errors
def show(
    verb: str = typer.Argument("backup", help=f"Which verb's config: {', '.join(VERBS)}."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Config file (JSON/YAML/TOML)."),
) -> None:
    """Print the resolved config (file, then environment) with secrets masked."""
    cfg = load_verb_config(verb, file=config)
    echo_json(masked_dump(cfg))


@config_app.command("schema")
@handle_errors
def schema(verb: str = typer.Argument(..., help=f"Which verb: {', '.join(VERBS)}.")) -> None:
    """Print the JSON Schema of a verb's config file."""
    spec = VERBS.get(verb)
    if spec is None:
        raise ConfigError(f"unknown verb {verb!r}; known: {', '.join(sorted(VERBS))}")
    echo_json(spec.model.model_json_schema())
