"""``qdrant-ops check-legacy``."""

from __future__ import annotations

from pathlib import Path

import typer

from qdrant_ops.cli.app import app, echo, finish, handle_errors, split_csv, state


@app.command("check-legacy")
@handle_errors
def check_legacy(
    repo: Path = typer.Option(Path("."), "--repo", help="Repository root."),
    archive_path: str = typer.Option("legacy/python-scripts", "--archive-path", help="cleanup-legacy's archive directory."),
    consolidation_report: str | None = typer.Option(
        None, "--consolidation-report", help="A consolidate-clients report (JSON) naming removed modules."),
    script: list[str] | None = typer.Option(None, "--script", help="Also treat this path as archived (repeatable)."),
    module: list[str] | None = typer.Option(None, "--module", help="Also treat this module as removed (repeatable)."),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="Globs of paths to leave out."),
    report: Path | None = typer.Option(None, "--report", help="Write the report to PATH.json, PATH.md and PATH.html."),
) -> None:
    """Exit 1 listing file:line wherever code still references archived scripts or removed modules."""
    from qdrant_ops.code.check_legacy import check_legacy as run_check
    from qdrant_ops.runbook.model import CheckLegacyConfig

    cfg = CheckLegacyConfig(repo=str(repo), archive_path=archive_path, consolidation_report=consolidation_report,
                            scripts=split_csv(script) or [], modules=split_csv(module) or [],
                            exclude=split_csv(exclude) or [])
    result = run_check(cfg)
    if not state.quiet:
        for line in result.finding_lines():
            echo(line)
    finish(result, report)
