"""Step kinds on collections: backup, migrate, validate, cutover, snapshot."""

from __future__ import annotations

import os
from typing import Any

from qdrant_ops.config.loading import expand_vars, read_config_file
from qdrant_ops.errors import CheckFailedError, ConfigError
from qdrant_ops.runbook.model import CutoverConfig, StepSpec
from qdrant_ops.runbook.runs import StepState
from qdrant_ops.runbook.steps.base import StepContext, StepOutcome, _earlier_ok, _outcome, _steps_of, default_endpoint

# -- backup -----------------------------------------------------------------------------------


def _run_backup_path(ctx: StepContext, name: str) -> str:
    """Where a step's backup goes: in the run directory, or the same place under an object store."""
    from qdrant_ops.repository.location import is_remote

    if is_remote(ctx.runbook.backup_path):
        return f"{ctx.runbook.backup_path.rstrip('/')}/runs/{ctx.run_dir.name}/{name}"
    return str(ctx.run_dir / name)


def _backup_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    out: dict[str, Any] = {"backup_path": _run_backup_path(ctx, "backup")}
    if not any(data.get(k) for k in ("source", "qdrant_url", "qdrant_host")):
        ep = default_endpoint(ctx.runbook)
        if ep:
            out["source"] = ep
    if ctx.runbook.collections:
        out["collections"] = list(ctx.runbook.collections)
    return out


def _run_backup(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.data.backup import backup
    from qdrant_ops.endpoints.open import open_endpoint

    if ctx.dry_run:
        src = open_endpoint(cfg.source_endpoint())
        names = cfg.collections or src.list_collections()
        counts = {n: src.count(n) for n in names}
        lines = [f"would back up {len(names)} collection(s), {sum(counts.values())} points, from "
                 f"{src.info().display} into {cfg.backup_path}/<stamp>/"]
        lines += [f"  {n}: {c} points" for n, c in counts.items()]
        return StepOutcome(status="dry-run", summary=lines,
                           stats={"collections_backed_up": len(names), "points_backed_up": sum(counts.values())})
    report = backup(cfg, progress=ctx.progress)
    undo["backup_dir"] = report.backup_dir
    undo["collections"] = [c.name for c in report.collections]
    return _outcome(report, collections_backed_up=len(report.collections),
                    points_backed_up=sum(c.points for c in report.collections),
                    bytes_backed_up=sum(c.bytes for c in report.collections))


def _rollback_backup(ctx: StepContext, cfg: Any, st: StepState) -> list[str]:
    where = st.undo.get("backup_dir") or "(none written)"
    return [f"nothing to undo: the backup is kept at {where}"]


# -- migrate / validate -------------------------------------------------------------------------


def _migrate_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    out: dict[str, Any] = {
        "backup_path": _run_backup_path(ctx, f"{spec.id}-backup"),
        "state_path": str(ctx.run_dir / f"{spec.id}-state.sqlite"),
    }
    ep = default_endpoint(ctx.runbook)
    if ep and not data.get("source_qdrant"):
        out["source_qdrant"] = ep
    if not data.get("target_qdrant"):
        src = data.get("source_qdrant") or out.get("source_qdrant")
        if src:
            out["target_qdrant"] = src
            target = data.get("target") or {}
            if not data.get("format_version") and not (isinstance(target, dict) and target.get("name")):
                out["format_version"] = "v2"  # same store: the new layout is <name>_v2
    if ctx.runbook.collections:
        out["collections"] = list(ctx.runbook.collections)
    if _steps_of(ctx, "backup") and "backup" not in data:
        out["backup"] = False  # the runbook's backup step already holds the data
    return out


def _migrate_base(ctx: StepContext) -> dict[str, Any]:
    """The validate step's base config: the runbook's migrate step's own config."""
    migrates = _steps_of(ctx, "migrate")
    if not migrates:
        return {}
    spec = migrates[0]
    data: dict[str, Any] = {}
    if spec.config_file:
        data.update(expand_vars(read_config_file(spec.config_file), os.environ)[0])
    data.update(expand_vars(spec.config, os.environ)[0])
    data = {**_migrate_defaults(spec, data, ctx), **data}
    for k in ("backup_path", "state_path", "backup", "dry_run", "drop_source", "switch_alias", "on_exists", "restart"):
        data.pop(k, None)
    return data


def _validate_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    base = _migrate_base(ctx)
    return {k: v for k, v in base.items() if k not in data}


def _run_migrate(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.migration.run import migrate

    dst = open_endpoint(cfg.target_endpoint())
    if not ctx.dry_run:
        undo["existed_before"] = sorted(dst.list_collections())
        undo["aliases_before"] = dst.aliases()
    report = migrate(cfg.model_copy(update={"dry_run": ctx.dry_run}), progress=ctx.progress)
    undo["sources"] = [c.name for c in report.collections]
    undo["targets"] = [c.target_name for c in report.collections]
    undo["alias"] = report.alias
    undo["drop_source"] = bool(cfg.drop_source)
    undo["backup_dir"] = report.backup_dir
    stats: dict[str, Any] = {
        "collections_migrated": len(report.collections),
        "points_migrated": sum((c.estimated_points if ctx.dry_run else c.written) for c in report.collections),
    }
    if ctx.dry_run:
        stats["estimated_bytes_migrated"] = sum(c.estimated_bytes for c in report.collections)
    return _outcome(report, None, **stats)


def _backup_dir_of_run(ctx: StepContext) -> str | None:
    for st in ctx.states.values():
        if st.kind == "backup" and st.undo.get("backup_dir"):
            return str(st.undo["backup_dir"])
    return None


def _rollback_migrate(ctx: StepContext, cfg: Any, st: StepState) -> list[str]:
    from qdrant_ops.endpoints.open import open_endpoint

    lines: list[str] = []
    src = open_endpoint(cfg.source_endpoint())
    dst = open_endpoint(cfg.target_endpoint())
    alias = st.undo.get("alias")
    before_aliases: dict[str, str] = st.undo.get("aliases_before") or {}
    if alias:
        from qdrant_ops.migration.cutover import rollback_alias

        if dst.aliases().get(alias) in (st.undo.get("targets") or []):
            rep = rollback_alias(dst, alias)
            lines.append(f"alias {alias} back to {rep.collection or '(removed)'}")
    existed = set(st.undo.get("existed_before") or [])
    restore_names: list[str] = []
    for tname in st.undo.get("targets") or []:
        if tname in existed:
            restore_names.append(tname)
        elif dst.collection_exists(tname):
            if tname in dst.aliases().values():
                raise CheckFailedError(f"{tname} is still the target of an alias; roll the cutover back first")
            dst.delete_collection(tname)
            lines.append(f"deleted {tname} (created by this run) at {dst.info().display}")
    names = list(st.undo.get("sources") or cfg.collections or [])
    missing_sources = [n for n in names if not src.collection_exists(n)] if st.undo.get("drop_source") else []
    backup_dir = _backup_dir_of_run(ctx) or st.undo.get("backup_dir")
    if restore_names or missing_sources:
        if not backup_dir:
            raise CheckFailedError("collections to restore but this run holds no backup of them")
        from qdrant_ops.data.config import RestoreConfig
        from qdrant_ops.data.restore import restore

        if missing_sources:
            rc = RestoreConfig(backup=backup_dir, target=cfg.source_endpoint(), collections=missing_sources,
                               on_exists="replace")
            restore(rc)
            lines.append(f"restored {', '.join(missing_sources)} from {backup_dir}")
        if restore_names:
            lines.append(f"left {', '.join(restore_names)} as they are: they existed before this run "
                         f"(restore them with qdrant-ops restore {backup_dir} if needed)")
    for a, coll in before_aliases.items():
        if dst.aliases().get(a) != coll and dst.collection_exists(coll):
            dst.set_alias(a, coll)
            lines.append(f"alias {a} back to {coll}")
    return lines or ["nothing to undo"]


def _run_validate(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.migration.validate import validate

    migrated = _earlier_ok(ctx, "migrate")
    if not cfg.collections and migrated is not None and migrated.undo.get("sources"):
        # what the migrate step of this run migrated, not every collection now on the store
        cfg = cfg.model_copy(update={"collections": list(migrated.undo["sources"])})

    if ctx.dry_run:
        from qdrant_ops.endpoints.open import open_endpoint
        from qdrant_ops.migration.plan import target_name

        src = open_endpoint(cfg.source_endpoint())
        dst = open_endpoint(cfg.target_endpoint())
        names = cfg.collections or src.list_collections()
        checks = [n for n, on in (("counts+content", cfg.validation.content), ("parity", cfg.validation.parity)) if on]
        lines = [f"would validate {len(names)} collection(s) ({', '.join(checks)}; recall@{cfg.validation.k} "
                 f">= {cfg.validation.min_recall}):"]
        lines += [f"  {n} -> {target_name(cfg, n, src is dst)}" for n in names]
        return StepOutcome(status="dry-run", summary=lines)
    report = validate(cfg)
    # per_query lists stay in the step's own report (its HTML charts them), not in the run state.
    figures = [{"collection": c.collection, "check": c.name, "passed": c.passed,
                **{k: v for k, v in c.figures.items() if k != "per_query"}} for c in report.checks]
    return _outcome(report, validation=figures, validation_checks=len(report.checks),
                    validation_failed=len(report.failed_checks))


def _nothing(ctx: StepContext, cfg: Any, st: StepState) -> list[str]:
    return ["nothing to undo: this step changes nothing"]


# -- cutover / snapshot -------------------------------------------------------------------------


def _cutover_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base = _migrate_base(ctx)
    if not data.get("target") and base.get("target_qdrant"):
        out["target"] = base["target_qdrant"]
    if not data.get("collection") and base:
        from qdrant_ops.migration.config import MigrateConfig
        from qdrant_ops.migration.plan import target_name

        names = base.get("collections") or []
        if len(names) == 1:
            mc = MigrateConfig.model_validate(base)
            same = mc.source_endpoint().display() == mc.target_endpoint().display()
            out["collection"] = target_name(mc, names[0], same)
    return out


def _run_cutover(ctx: StepContext, cfg: CutoverConfig, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.migration.cutover import switch_alias

    if cfg.target is None or not cfg.target.is_set or not cfg.collection:
        raise ConfigError("a cutover step needs target and collection (or one migrated collection)")
    ep = open_endpoint(cfg.target)
    if ctx.dry_run:
        now = ep.aliases().get(cfg.alias)
        return StepOutcome(status="dry-run", summary=[f"would point alias {cfg.alias}: {now or '(none)'} -> {cfg.collection}"])
    report = switch_alias(ep, cfg.alias, cfg.collection, require_validation=not cfg.force)
    undo["alias"], undo["previous"], undo["collection"] = cfg.alias, report.previous, cfg.collection
    return _outcome(report, aliases_switched=1)


def _rollback_cutover(ctx: StepContext, cfg: CutoverConfig, st: StepState) -> list[str]:
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.migration.cutover import rollback_alias

    if cfg.target is None:
        return ["nothing to undo"]
    ep = open_endpoint(cfg.target)
    alias = st.undo.get("alias") or cfg.alias
    if ep.aliases().get(alias) != st.undo.get("collection"):
        return [f"alias {alias} no longer points at {st.undo.get('collection')}: left as it is"]
    rep = rollback_alias(ep, alias)
    return [f"alias {alias} back to {rep.collection or '(removed)'}"]


def _snapshot_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    out: dict[str, Any] = {"output": str(ctx.run_dir / "snapshots")}
    ep = default_endpoint(ctx.runbook)
    if ep and not data.get("endpoint"):
        out["endpoint"] = ep
    if ctx.runbook.collections:
        out["collections"] = list(ctx.runbook.collections)
    return out


def _run_snapshot(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.snapshot.commands import create_snapshots, refuse_embedded

    refuse_embedded(cfg.server())
    if ctx.dry_run:
        names = ", ".join(cfg.collections) or "every collection"
        return StepOutcome(status="dry-run", summary=[f"would create native snapshots of {names} on "
                                                      f"{cfg.server().display()}" + (f", downloaded to {cfg.output}" if cfg.download else "")])
    report = create_snapshots(cfg)
    undo["snapshots"] = [i.name for i in report.items]
    return _outcome(report, snapshots_created=len(report.items))


def _rollback_snapshot(ctx: StepContext, cfg: Any, st: StepState) -> list[str]:
    return [f"nothing to undo: snapshots kept ({', '.join(st.undo.get('snapshots') or []) or 'none'})"]
