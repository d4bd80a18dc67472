"""``qdrant-ops cleanup-legacy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import app, echo, finish, handle_errors, set_verbose, split_csv, state
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.config.verbs import load_verb_config
from qdrant_ops.errors import UsageError


@app.command("cleanup-legacy")
@handle_errors
def cleanup_legacy(
    paths: list[str] | None = typer.Argument(None, help="Scripts: paths, directories or globs."),
    repo: Path | None = typer.Option(None, "--repo", help="Repository root (default: .)."),
    scripts: list[str] | None = typer.Option(
        None, "--scripts", help="Scripts to archive: paths, directories or globs (repeat, or comma-separate)."
    ),
    detect: bool | None = typer.Option(
        None, "--detect", help="Propose candidates: __main__ scripts nothing imports that talk to Qdrant."
    ),
    yes: bool | None = typer.Option(None, "--yes", "-y", help="Archive every detected candidate too."),
    archive_path: str | None = typer.Option(
        None, "--archive-path", help="Archive directory in the repository (default: legacy/python-scripts)."
    ),
    references: str | None = typer.Option(
        None, "--references", help="rewrite: point references at the archive; report: only list them (default: rewrite)."
    ),
    prune: bool | None = typer.Option(
        None, "--prune-requirements/--keep-requirements", help="Remove requirements only archived code used."
    ),
    allow: list[str] | None = typer.Option(
        None, "--allow", help="Never remove these distributions (globs; adds to the built-in allow-list)."
    ),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="Globs of paths to leave out."),
    dry_run: bool | None = typer.Option(
        None, "--dry-run", help="Print the plan and every diff; change nothing."
    ),
    force: bool | None = typer.Option(
        None, "--force", help="Go on with a dirty work tree; overwrite existing archive entries."
    ),
    verbose: bool | None = typer.Option(
        None, "--verbose", "-v", help="List every file examined and why it was kept or changed."
    ),
    restore: bool | None = typer.Option(
        None, "--restore", help="Move archived scripts back and revert references and requirements."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="Config file (JSON, YAML or TOML); flags win."),
    report: Path | None = typer.Option(None, "--report", help="Write the report as PATH.json, PATH.md and PATH.html."),
) -> None:
    """Archive legacy scripts, update every reference to them, and prune requirements."""
    if references is not None and references not in ("rewrite", "report"):
        raise UsageError(f"--references takes rewrite or report, not {references!r}")
    named = (split_csv(scripts) or []) + list(paths or [])
    flags: dict[str, Any] = {
        "repo": str(repo) if repo is not None else None,
        "scripts": named or None,
        "detect": detect,
        "yes": yes,
        "archive_path": archive_path,
        "references": references,
        "prune_requirements": prune,
        "allow_list": split_csv(allow),
        "exclude": split_csv(exclude),
        "dry_run": dry_run,
        "force": force,
        "verbose": verbose,
        "restore": restore,
    }
    cfg = load_verb_config("cleanup-legacy", file=config, flags=flags)
    if not isinstance(cfg, CleanupConfig):  # pragma: no cover - the registry maps the verb
        raise UsageError("cleanup-legacy has no config model")
    set_verbose(cfg.verbose)
    from qdrant_ops.code.cleanup.run import cleanup_legacy as run

    result = run(cfg)
    if not state.quiet:
        if cfg.verbose:
            for line in result.verbose_lines():
                echo(line)
        if cfg.dry_run or cfg.verbose:
            for line in result.plan_lines():
                echo(line)
    finish(result, report)
