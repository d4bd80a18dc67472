"""Runbook step kinds: how each builds its config, runs (or dry-runs) its verb, and undoes itself.

Every built-in kind calls its verb's library function with the verb's own config model; none
shells out to the command line. ``shell`` and ``tests`` run the command they are given.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from qdrant_ops.config import (
    VERBS,
    EndpointConfig,
    Model,
    endpoint_from_env,
    expand_vars,
    read_config_file,
    validate_model,
)
from qdrant_ops.errors import CheckFailedError, ConfigError, QdrantOpsError, UnsupportedError, UsageError
from qdrant_ops.progress import NullProgress, ProgressSink
from qdrant_ops.reports import Report
from qdrant_ops.runbook_model import CheckLegacyConfig, CutoverConfig, Runbook, ShellConfig, StepSpec, TestsConfig
from qdrant_ops.runs import StepState

log = logging.getLogger(__name__)


@dataclass
class StepContext:
    runbook: Runbook
    run_dir: Path
    dry_run: bool
    progress: ProgressSink = field(default_factory=NullProgress)
    configs: dict[str, Model] = field(default_factory=dict)  # step id -> resolved config
    states: dict[str, StepState] = field(default_factory=dict)  # step id -> state (earlier steps)
    allowed_dirty: list[str] = field(default_factory=list)  # repo paths this run may leave dirty
    baseline: dict[str, Any] | None = None


@dataclass
class StepOutcome:
    status: str  # ok | failed | partial | dry-run
    report: Report | None = None
    summary: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0


BuildFn = Callable[[StepSpec, dict[str, Any], StepContext], Model]
RunFn = Callable[[StepContext, Any, dict[str, Any]], StepOutcome]
RollbackFn = Callable[[StepContext, Any, StepState], list[str]]


@dataclass
class StepKind:
    name: str
    model: Callable[[], type[Model]]
    defaults: Callable[[StepSpec, dict[str, Any], StepContext], dict[str, Any]]
    run: RunFn
    rollback: RollbackFn


class NotAvailable(UnsupportedError):
    """A step kind whose verb is not part of this build."""


def _verb_model(verb: str) -> Callable[[], type[Model]]:
    def get() -> type[Model]:
        spec = VERBS.get(verb)
        if spec is None:
            raise NotAvailable(f"step kind {verb!r} is not available in this build (no {verb} verb)")
        return spec.model

    return get


def _fixed(model: type[Model]) -> Callable[[], type[Model]]:
    return lambda: model


def default_endpoint(rb: Runbook, env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The runbook's endpoint, else QDRANT_URL / QDRANT_HOST from the environment."""
    if rb.endpoint is not None and rb.endpoint.is_set:
        data = rb.endpoint.model_dump(exclude_none=True)
        if rb.endpoint.api_key is not None:
            data["api_key"] = rb.endpoint.api_key.get_secret_value()
        return data
    fields = endpoint_from_env(os.environ if env is None else env)
    return fields if any(k in fields for k in ("url", "host", "path")) else None


def build_config(kind: StepKind, spec: StepSpec, ctx: StepContext, base: dict[str, Any] | None = None) -> Model:
    """The step's config: ``base`` < its config_file < its config < runbook defaults for unset keys."""
    data: dict[str, Any] = dict(base or {})
    file = spec.config_file
    missing: dict[str, str] = {}
    if file:
        raw, missing = expand_vars(read_config_file(file), os.environ)
        data.update(raw)
    inline, more = expand_vars(spec.config, os.environ)
    missing.update(more)
    data.update(inline)
    data = {**kind.defaults(spec, data, ctx), **data}
    where = file or f"runbook step {spec.id!r}"
    try:
        return validate_model(kind.model(), data, file=where, missing_vars=missing)
    except ConfigError as exc:
        raise ConfigError(f"step {spec.id}: {exc}") from None


def _outcome(report: Report, lines: list[str] | None = None, **stats: Any) -> StepOutcome:
    code = {"ok": 0, "dry-run": 0, "failed": 1, "partial": 4}.get(report.status, 1)
    return StepOutcome(status=report.status, report=report, summary=lines or report.summary_lines(),
                       stats=stats, exit_code=code)


def _steps_of(ctx: StepContext, kind: str) -> list[StepSpec]:
    return [s for p in ctx.runbook.phases for s in p.steps if s.kind == kind]


def _earlier_ok(ctx: StepContext, kind: str) -> StepState | None:
    found = None
    for st in ctx.states.values():
        if st.kind == kind and st.status in ("ok", "dry-run"):
            found = st
    return found


# -- backup -----------------------------------------------------------------------------------


def _backup_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    out: dict[str, Any] = {"backup_path": str(ctx.run_dir / "backup")}
    if not any(data.get(k) for k in ("source", "qdrant_url", "qdrant_host")):
        ep = default_endpoint(ctx.runbook)
        if ep:
            out["source"] = ep
    if ctx.runbook.collections:
        out["collections"] = list(ctx.runbook.collections)
    return out


def _run_backup(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.backup import backup
    from qdrant_ops.endpoints import open_endpoint

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
        "backup_path": str(ctx.run_dir / f"{spec.id}-backup"),
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
    from qdrant_ops.endpoints import open_endpoint
    from qdrant_ops.migrate import migrate

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
    from qdrant_ops.endpoints import open_endpoint

    lines: list[str] = []
    src = open_endpoint(cfg.source_endpoint())
    dst = open_endpoint(cfg.target_endpoint())
    alias = st.undo.get("alias")
    before_aliases: dict[str, str] = st.undo.get("aliases_before") or {}
    if alias:
        from qdrant_ops.cutover import rollback_alias

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
        from qdrant_ops.config import RestoreConfig
        from qdrant_ops.restore import restore

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
    from qdrant_ops.migrate import validate

    migrated = _earlier_ok(ctx, "migrate")
    if not cfg.collections and migrated is not None and migrated.undo.get("sources"):
        # what the migrate step of this run migrated, not every collection now on the store
        cfg = cfg.model_copy(update={"collections": list(migrated.undo["sources"])})

    if ctx.dry_run:
        from qdrant_ops.endpoints import open_endpoint
        from qdrant_ops.migrate_plan import target_name

        src = open_endpoint(cfg.source_endpoint())
        dst = open_endpoint(cfg.target_endpoint())
        names = cfg.collections or src.list_collections()
        checks = [n for n, on in (("counts+content", cfg.validation.content), ("parity", cfg.validation.parity)) if on]
        lines = [f"would validate {len(names)} collection(s) ({', '.join(checks)}; recall@{cfg.validation.k} "
                 f">= {cfg.validation.min_recall}):"]
        lines += [f"  {n} -> {target_name(cfg, n, src is dst)}" for n in names]
        return StepOutcome(status="dry-run", summary=lines)
    report = validate(cfg)
    figures = [{"collection": c.collection, "check": c.name, "passed": c.passed, **c.figures} for c in report.checks]
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
        from qdrant_ops.config import MigrateConfig
        from qdrant_ops.migrate_plan import target_name

        names = base.get("collections") or []
        if len(names) == 1:
            mc = MigrateConfig.model_validate(base)
            same = mc.source_endpoint().display() == mc.target_endpoint().display()
            out["collection"] = target_name(mc, names[0], same)
    return out


def _run_cutover(ctx: StepContext, cfg: CutoverConfig, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.cutover import switch_alias
    from qdrant_ops.endpoints import open_endpoint

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
    from qdrant_ops.cutover import rollback_alias
    from qdrant_ops.endpoints import open_endpoint

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
    from qdrant_ops.snapshot import create_snapshots, refuse_embedded

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


# -- code steps ---------------------------------------------------------------------------------


def _repo_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    return {"repo": ctx.runbook.repo}


def _dirty_only_allowed(repo: Path, allowed: list[str]) -> bool:
    from qdrant_ops.codebase import gitops

    if not gitops.is_work_tree(repo):
        return False
    dirty = gitops.dirty_paths(repo)
    return bool(dirty) and all(any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed) for p in dirty)


def _run_cleanup(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.cleanup import cleanup_legacy

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
    from qdrant_ops.cleanup import restore_legacy

    if not st.undo.get("moved"):
        return ["nothing to undo: nothing was archived"]
    rc = cfg.model_copy(update={"restore": True, "dry_run": False, "force": True})
    report = restore_legacy(rc)
    if report.failed_checks:
        raise CheckFailedError("cleanup-legacy restore: " + "; ".join(c.detail for c in report.failed_checks))
    return [f"restored {len(report.restored)} file(s) from {cfg.archive_path}: {', '.join(report.restored[:8])}"]


def _run_consolidate(ctx: StepContext, cfg: Any, undo: dict[str, Any]) -> StepOutcome:
    from qdrant_ops.consolidate import consolidate_clients

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
    from qdrant_ops.consolidate import restore_consolidation

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
    from qdrant_ops.check_legacy import check_legacy

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


# -- shell / tests ------------------------------------------------------------------------------


class CommandReport(Report):
    verb: str = "shell"
    command: str = ""
    cwd: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    output_tail: str = ""

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        lines.append(f"  $ {self.command}  (exit {self.exit_code}{', timed out' if self.timed_out else ''})")
        if self.counts:
            lines.append("  " + ", ".join(f"{v} {k}" for k, v in self.counts.items()))
        if self.baseline is not None:
            lines.append("  before: " + (", ".join(f"{v} {k}" for k, v in (self.baseline.get("counts") or {}).items())
                                        or f"exit {self.baseline.get('exit_code')}"))
        return lines

    def markdown_sections(self) -> list[str]:
        return ["", f"`{self.command}` in `{self.cwd}`: exit {self.exit_code}", "", "```", self.output_tail, "```"]


_UNITTEST = re.compile(r"^Ran (\d+) tests? in", re.M)
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")


class CommandResult(BaseModel):
    command: str
    exit_code: int | None
    timed_out: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    output_tail: str = ""
    duration_s: float = 0.0


def run_command(command: str | list[str], cwd: str, env: Mapping[str, str], timeout: float | None) -> CommandResult:
    text = command if isinstance(command, str) else shlex.join(command)
    full_env = {**os.environ, **env}
    start = time.monotonic()
    try:
        proc = subprocess.run(command, shell=isinstance(command, str), cwd=cwd, env=full_env,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return CommandResult(command=text, exit_code=None, timed_out=True, output_tail=out[-4000:],
                             duration_s=round(time.monotonic() - start, 2))
    except OSError as exc:
        raise UsageError(f"cannot run {text!r}: {exc}") from None
    out = (proc.stdout or "") + (proc.stderr or "")
    counts: dict[str, int] = {}
    tail = "\n".join(out.splitlines()[-20:])
    for m in _COUNT.finditer(tail):
        key = "errors" if m.group(2).startswith("error") else m.group(2)
        counts[key] = int(m.group(1))
    ran = _UNITTEST.search(tail)
    if ran and not counts:  # unittest: "Ran N tests" then "OK" or "FAILED (failures=F, errors=E)"
        bad = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", tail))
        counts = {"passed": int(ran.group(1)) - bad, "failed": bad}
    return CommandResult(command=text, exit_code=proc.returncode, counts=counts, output_tail=out[-4000:],
                         duration_s=round(time.monotonic() - start, 2))


def _cwd_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    return {"cwd": ctx.runbook.repo}


def _run_shell(ctx: StepContext, cfg: ShellConfig, undo: dict[str, Any]) -> StepOutcome:
    text = cfg.command if isinstance(cfg.command, str) else shlex.join(cfg.command)
    if ctx.dry_run:
        return StepOutcome(status="dry-run", summary=[f"would run: {text} (in {cfg.cwd})"])
    res = run_command(cfg.command, cfg.cwd or ".", cfg.env, cfg.timeout_s)
    report = CommandReport(command=res.command, cwd=str(cfg.cwd), exit_code=res.exit_code,
                           timed_out=res.timed_out, output_tail=res.output_tail)
    report.check("command succeeded", res.exit_code == 0, f"exit {res.exit_code}")
    report.finish()
    return _outcome(report)


def _rollback_shell(ctx: StepContext, cfg: ShellConfig, st: StepState) -> list[str]:
    if cfg.rollback is None:
        return ["nothing to undo: the step has no rollback command"]
    res = run_command(cfg.rollback, cfg.cwd or ".", cfg.env, cfg.timeout_s)
    if res.exit_code != 0:
        raise CheckFailedError(f"rollback command failed (exit {res.exit_code}): {res.output_tail[-300:]}")
    return [f"ran {res.command}"]


def run_tests_baseline(cfg: TestsConfig) -> dict[str, Any]:
    return run_command(cfg.command, cfg.cwd or ".", cfg.env, cfg.timeout_s).model_dump()


def _run_tests(ctx: StepContext, cfg: TestsConfig, undo: dict[str, Any]) -> StepOutcome:
    text = cfg.command if isinstance(cfg.command, str) else shlex.join(cfg.command)
    if ctx.dry_run:
        return StepOutcome(status="dry-run", summary=[f"would run the tests: {text} (in {cfg.cwd})"
                                                      + (", before the phase's steps and after" if cfg.baseline else "")])
    res = run_command(cfg.command, cfg.cwd or ".", cfg.env, cfg.timeout_s)
    report = CommandReport(verb="tests", command=res.command, cwd=str(cfg.cwd), exit_code=res.exit_code,
                           timed_out=res.timed_out, counts=res.counts, output_tail=res.output_tail,
                           baseline=ctx.baseline)
    before = ctx.baseline
    if res.exit_code == 0:
        report.check("tests pass", True, ", ".join(f"{v} {k}" for k, v in res.counts.items()) or "exit 0")
    elif before is not None and before.get("exit_code") != 0:
        was = int((before.get("counts") or {}).get("failed", 0)) + int((before.get("counts") or {}).get("errors", 0))
        now = res.counts.get("failed", 0) + res.counts.get("errors", 0)
        report.check("no more failures than before", now <= was and not res.timed_out,
                     f"{now} failing now, {was} before")
    else:
        report.check("tests pass", False, f"exit {res.exit_code}" + (" (timed out)" if res.timed_out else ""))
    report.finish()
    stats: dict[str, Any] = {"tests_after": res.counts or {"exit_code": res.exit_code}}
    if before is not None:
        stats["tests_before"] = before.get("counts") or {"exit_code": before.get("exit_code")}
    return _outcome(report, **stats)


KINDS: dict[str, StepKind] = {
    "backup": StepKind("backup", _verb_model("backup"), _backup_defaults, _run_backup, _rollback_backup),
    "snapshot": StepKind("snapshot", _verb_model("snapshot"), _snapshot_defaults, _run_snapshot, _rollback_snapshot),
    "migrate": StepKind("migrate", _verb_model("migrate"), _migrate_defaults, _run_migrate, _rollback_migrate),
    "validate": StepKind("validate", _verb_model("validate"), _validate_defaults, _run_validate, _nothing),
    "cutover": StepKind("cutover", _fixed(CutoverConfig), _cutover_defaults, _run_cutover, _rollback_cutover),
    "cleanup-legacy": StepKind("cleanup-legacy", _verb_model("cleanup-legacy"), _repo_defaults, _run_cleanup,
                               _rollback_cleanup),
    "consolidate-clients": StepKind("consolidate-clients", _verb_model("consolidate-clients"), _repo_defaults,
                                    _run_consolidate, _rollback_consolidate),
    "check-legacy": StepKind("check-legacy", _fixed(CheckLegacyConfig), _check_defaults, _run_check, _nothing),
    "tests": StepKind("tests", _fixed(TestsConfig), _cwd_defaults, _run_tests, _nothing),
    "shell": StepKind("shell", _fixed(ShellConfig), _cwd_defaults, _run_shell, _rollback_shell),
}


def kind_of(name: str) -> StepKind:
    kind = KINDS.get(name)
    if kind is None:
        raise NotAvailable(f"step kind {name!r} is not available in this build")
    return kind


def error_outcome(exc: QdrantOpsError) -> StepOutcome:
    return StepOutcome(status="failed", summary=[str(exc)], exit_code=exc.exit_code)


def endpoint_needs(kind: str, cfg: Any) -> list[tuple[EndpointConfig, list[str], bool]]:
    """Endpoints a step uses: (endpoint, collections, whether it reads all their data)."""
    if kind == "backup":
        return [(cfg.source_endpoint(), list(cfg.collections), True)]
    if kind == "migrate":
        return [(cfg.source_endpoint(), list(cfg.collections), bool(cfg.backup)), (cfg.target_endpoint(), [], False)]
    if kind == "validate":
        return [(cfg.source_endpoint(), list(cfg.collections), False), (cfg.target_endpoint(), [], False)]
    if kind == "snapshot":
        return [(cfg.server(), list(cfg.collections), False)]
    if kind == "cutover" and cfg.target is not None and cfg.target.is_set:
        return [(cfg.target, [], False)]
    return []
