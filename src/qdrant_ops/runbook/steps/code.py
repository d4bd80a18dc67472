"""Step kinds on the repository: cleanup-legacy, consolidate-clients, check-legacy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdrant_ops.errors import CheckFailedError
from qdrant_ops.runbook.model import CheckLegacyConfig, StepSpec
from qdrant_ops.runbook.runs import StepState
from qdrant_ops.runbook.steps.base import StepContext, StepOutcome, _earlier_ok, _outcome, _steps_of

# -- code steps ---------------------------------------------------------------------------------


def _repo_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    return {"repo": ctx.runbook.repo}


def _dirty_only_allowed(repo: Path, allowed: list[str]) -> bool:
    from qdrant_ops.code import gitops

    if not gitops.is_work_tree(repo):
        return False
    dirty = gitops.dirty_paths(repo)
    return bool(dirty) and all(any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed) for p in dirty)


def _run_cleanup(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.code.cleanup.run import cleanup_legacy

    update: dict[str, Any] = {"dry_run": ctx.dry_run, "restore": False}
    if not cfg.force and _dirty_only_allowed(Path(cfg.repo), ctx.allowed_dirty):
        update["force"] = True  # only this run's own files (run directory, plan) are uncommitted
    undo["repo"], undo["archive_path"] = cfg.repo, cfg.archive_path
    report = cleanup_legacy(cfg.model_copy(update=update))
    lines = report.summary_lines() + (report.plan_lines() if ctx.dry_run else [])
    undo["moved"] = [m.source for m in report.moved]
    return _outcome(
        report, lines,
        scripts_archived=sum(1 for m in report.moved if m.kind == "script"),
        helpers_archived=sum(1 for m in report.moved if m.kind != "script"),
        references_updated=sum(1 for r in report.references if r.action == "rewritten"),
        references_unhandled=sum(1 for r in report.references if r.action == "unhandled"),
        requirements_removed=len(report.requirements_removed),
    )


def _rollback_cleanup(ctx: StepContext, cfg: Any, st: StepState) -> list[str]:
    from qdrant_ops.code.cleanup.run import restore_legacy

    if not st.undo.get("moved"):
        return ["nothing to undo: nothing was archived"]
    rc = cfg.model_copy(update={"restore": True, "dry_run": False, "force": True})
    report = restore_legacy(rc)
    if report.failed_checks:
        raise CheckFailedError("cleanup-legacy restore: " + "; ".join(c.detail for c in report.failed_checks))
    return [f"restored {len(report.restored)} file(s) from {cfg.archive_path}: {', '.join(report.restored[:8])}"]


def _run_consolidate(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.code.consolidate.run import consolidate_clients

    report = consolidate_clients(
        Path(cfg.repo), canonical=cfg.canonical, merge_missing=cfg.merge_missing, dry_run=ctx.dry_run,
        backup=cfg.backup or not ctx.dry_run, backup_dir=Path(cfg.backup_dir) if cfg.backup_dir else None,
        test_command=cfg.test_command if cfg.run_tests else None, test_timeout=cfg.test_timeout,
        exclude=cfg.exclude, min_similarity=cfg.min_similarity, python=cfg.python,
    )
    undo["repo"] = cfg.repo
    undo["backup"] = report.backup.location if report.backup else None
    undo["files_removed"] = list(report.files_removed)
    lines = report.summary_lines()
    if ctx.dry_run and report.diff:
        lines += report.diff.splitlines()
    merged = [d for d in report.decisions if not d.blocked]
    return _outcome(report, lines, clients_consolidated=len(merged),
                    client_modules_removed=len(report.files_removed),
                    client_references_updated=sum(len(f.references) for f in report.files_changed))


def _rollback_consolidate(ctx: StepContext, cfg: Any, st: StepState) -> list[str]:
    from qdrant_ops.code.consolidate.run import restore_consolidation

    backup = st.undo.get("backup")
    if not backup:
        return ["nothing to undo: no files were changed" if not st.undo.get("files_removed")
                else "no backup was taken: cannot restore (consolidate-clients ran with backup: false)"]
    report = restore_consolidation(Path(st.undo.get("repo") or cfg.repo), str(backup))
    return [f"restored {len(report.restored)} file(s) from {backup}: {', '.join(report.restored[:8])}"]


def _check_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    out: dict[str, Any] = {"repo": ctx.runbook.repo}
    cleanups = _steps_of(ctx, "cleanup-legacy")
    if cleanups:
        ap = cleanups[0].config.get("archive_path")
        if ap:
            out["archive_path"] = ap
    exclude = list(data.get("exclude") or [])
    repo = Path(data.get("repo") or ctx.runbook.repo).resolve()
    try:
        inside = ctx.run_dir.resolve().relative_to(repo).as_posix()
        exclude.append(inside.split("/runs/")[0] if "/runs/" in inside else inside)
    except ValueError:
        pass
    if exclude:
        out["exclude"] = exclude
    return out


def _run_check(ctx: StepContext, cfg: CheckLegacyConfig, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.code.check_legacy import check_legacy

    if cfg.consolidation_report is None:
        st = _earlier_ok(ctx, "consolidate-clients")
        if st is not None and st.report and not ctx.dry_run:
            cfg = cfg.model_copy(update={"consolidation_report": str(ctx.run_dir / (st.report + ".json"))})
    report = check_legacy(cfg)
    lines = report.summary_lines() + ["  " + x for x in report.finding_lines()]
    if ctx.dry_run:
        lines.insert(0, "check now (the steps above have not run in a dry-run):")
        return StepOutcome(status="dry-run", report=report, summary=lines)
    return _outcome(report, lines, legacy_references_left=len(report.findings))
