"""``qdrant-ops consolidate-clients``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from qdrant_ops.cli.app import app, echo, finish, handle_errors, set_verbose
from qdrant_ops.code.config import ConsolidateConfig
from qdrant_ops.config.verbs import load_verb_config
from qdrant_ops.errors import ConfigError


@app.command("consolidate-clients")
@handle_errors
def consolidate_clients_cmd(
    repo: Path | None = typer.Option(None, "--repo", help="Repository to consolidate (default: .)."),
    list_only: bool = typer.Option(False, "--list", help="Print the groups, importers, names used and the proposed canonical; change nothing."),
    canonical: list[str] | None = typer.Option(None, "--canonical", help="Module (dotted name or path) to keep; repeat for several groups."),
    merge_missing: bool | None = typer.Option(None, "--merge-missing", help="Copy names the canonical module lacks into it instead of blocking."),
    dry_run: bool | None = typer.Option(None, "--dry-run", help="Print the unified diff of every change and deletion; write nothing."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Explain each decision."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Do not back up before changing files."),
    test_command: str | None = typer.Option(None, "--test-command", help="Test command run before and after (default: python -m pytest -q)."),
    no_tests: bool = typer.Option(False, "--no-tests", help="Skip the test command (compile and import checks still run)."),
    no_import_check: bool = typer.Option(False, "--no-import-check", help="Do not import the changed modules (for modules with import side effects)."),
    test_timeout: float | None = typer.Option(None, "--test-timeout", help="Seconds the test command may run."),
    python: str | None = typer.Option(None, "--python", help="Interpreter for the import and test checks (default: the project's own environment when it has one)."),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="Glob of paths to leave out of the analysis; repeatable."),
    min_similarity: float | None = typer.Option(None, "--min-similarity", help="Score from which two modules are near-duplicates (0-1, default 0.6)."),
    restore: str | None = typer.Option(None, "--restore", help="Restore the repository from a backup (git ref or tar.gz) and exit."),
    report: Path | None = typer.Option(None, "--report", help="Write the report here (JSON, Markdown and HTML)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Config file (JSON/YAML/TOML)."),
) -> None:
    """Find duplicated Qdrant client modules and consolidate the codebase onto one."""
    from qdrant_ops.code.consolidate.run import consolidate_clients, restore_consolidation

    set_verbose(verbose)
    flags: dict[str, Any] = {
        "repo": str(repo) if repo is not None else None,
        "canonical": list(canonical) if canonical else None,
        "merge_missing": merge_missing,
        "dry_run": dry_run,
        "backup": False if no_backup else None,
        "test_command": test_command,
        "run_tests": False if no_tests else None,
        "import_check": False if no_import_check else None,
        "test_timeout": test_timeout,
        "exclude": list(exclude) if exclude else None,
        "min_similarity": min_similarity,
        "python": python,
    }
    cfg = load_verb_config("consolidate-clients", file=config, flags=flags)
    if not isinstance(cfg, ConsolidateConfig):
        raise ConfigError("consolidate-clients is registered with the wrong config model")
    root = Path(cfg.repo)
    if restore is not None:
        result = restore_consolidation(root, restore)
        finish(result, report)
        return
    result = consolidate_clients(
        root,
        list_only=list_only,
        canonical=cfg.canonical,
        merge_missing=cfg.merge_missing,
        dry_run=cfg.dry_run,
        backup=cfg.backup,
        backup_dir=Path(cfg.backup_dir) if cfg.backup_dir else None,
        test_command=cfg.test_command if cfg.run_tests else None,
        test_timeout=cfg.test_timeout,
        exclude=cfg.exclude,
        min_similarity=cfg.min_similarity,
        python=cfg.python,
        import_check=cfg.import_check,
    )
    if list_only:
        for line in result.listing_lines():
            echo(line)
    if result.mode == "dry-run":
        echo(result.diff.rstrip("\n") if result.diff else "# nothing to change")
    finish(result, report)
