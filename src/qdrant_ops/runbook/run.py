"""``qdrant-ops run``: the Phase 7 runbook — prerequisites, phases of steps, dry-run, reports, plan.

``run_runbook`` resolves every selected step's config first (a bad one stops the run, exit 2),
checks the prerequisites (a failing one stops the run before anything changes), then either
dry-runs every step and aggregates their plans (nothing is written anywhere), or runs the steps
in order inside a run directory (``runs.py``), saving the state after each step so ``--resume``
continues after the last completed one. ``rollback_run`` (``rollback.py``) undoes a run's steps in
reverse order; the reports are in ``report.py``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qdrant_ops.config.base import Model
from qdrant_ops.config.loading import expand_vars, masked_dump, read_config_file, validate_model
from qdrant_ops.endpoints.uri import EndpointConfig
from qdrant_ops.errors import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    NotFoundError,
    PlanChangedError,
    QdrantOpsError,
    UsageError,
)
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.progress import NullProgress, ProgressSink
from qdrant_ops.reports import Check, utcnow, write_report
from qdrant_ops.repository.location import is_remote, state_root
from qdrant_ops.runbook.model import CODE_KINDS, PhaseSpec, Runbook, StepSpec, TestsConfig, default_runbook
from qdrant_ops.runbook.planfile import PhaseUpdate, plan_update, write_plan
from qdrant_ops.runbook.prereqs import EndpointNeed, check_endpoints, check_git, check_space, check_versions
from qdrant_ops.runbook.report import RunReport, add_statistics, step_row
from qdrant_ops.runbook.runs import (
    RunState,
    StepState,
    find_run,
    load_state,
    new_run_id,
    run_dir,
    save_state,
    step_report_name,
)
from qdrant_ops.runbook.steps.base import StepContext, StepOutcome, build_config
from qdrant_ops.runbook.steps.registry import endpoint_needs, error_outcome, kind_of
from qdrant_ops.runbook.steps.shell import run_tests_baseline

log = logging.getLogger(__name__)

__all__ = [
    "absolute_paths", "check_prerequisites", "default_collections", "endpoint_display", "is_migration_target",
    "load_runbook", "run_runbook", "select_phases",
]


# -- loading ------------------------------------------------------------------------------------


def load_runbook(path: str | Path | None, env: Mapping[str, str] | None = None) -> Runbook:
    """The runbook at ``path`` (JSON/YAML/TOML, ``${VAR}`` expanded), or the default phase 7."""
    if path is None:
        return default_runbook()
    data, missing = expand_vars(read_config_file(path), os.environ if env is None else env)
    return validate_model(Runbook, data, file=path, missing_vars=missing)


def select_phases(rb: Runbook, phase: str | Sequence[str] | None) -> list[PhaseSpec]:
    wanted = [phase] if isinstance(phase, str) else list(phase or ["all"])
    if not rb.phases:
        raise UsageError("the runbook has no phases")
    if "all" in wanted:
        return list(rb.phases)
    unknown = [w for w in wanted if w not in rb.phase_ids()]
    if unknown:
        raise UsageError(f"no phase {', '.join(unknown)} in the runbook; phases: {', '.join(rb.phase_ids())}, all")
    return [p for p in rb.phases if p.id in wanted]


def _resolve(rb: Runbook, phases: list[PhaseSpec], ctx: StepContext) -> list[tuple[PhaseSpec, StepSpec, Model]]:
    out = []
    for phase in phases:
        for spec in phase.steps:
            cfg = build_config(kind_of(spec.kind), spec, ctx)
            ctx.configs[spec.id] = cfg
            out.append((phase, spec, cfg))
    return out


def _owned_paths(rb: Runbook, plan: str | None, rdir: Path) -> list[str]:
    """Repository paths a run itself writes (its run directory, the plan): never 'dirty' for it."""
    repo = Path(rb.repo).resolve()
    out = []
    for p in (rdir.parent.parent, Path(plan) if plan else None):
        if p is None:
            continue
        try:
            out.append(p.resolve().relative_to(repo).as_posix())
        except ValueError:
            continue
    return out


def check_prerequisites(
    rb: Runbook, resolved: list[tuple[PhaseSpec, StepSpec, Model]], backup_path: Path, *,
    dry_run: bool, owned: list[str], code_done: bool,
) -> tuple[list[Check], bool]:
    kinds = {spec.kind for _, spec, _ in resolved}
    code = bool(kinds & CODE_KINDS)
    needs_git = rb.prerequisites.git if rb.prerequisites.git is not None else code
    clean = rb.prerequisites.clean_tree if rb.prerequisites.clean_tree is not None else code
    checks: list[Check] = []
    if needs_git or clean:
        checks += check_git(Path(rb.repo), clean and not code_done, owned)
        if clean and code_done:
            checks.append(Check(name="clean work tree", passed=True,
                                detail="not checked: this run's own code steps already changed it"))
    checks += check_versions()
    needs: list[EndpointNeed] = []
    for _, spec, cfg in resolved:
        for ep, colls, read in endpoint_needs(spec.kind, cfg):
            needs.append(EndpointNeed(ep, colls, read))
    ep_checks, unreachable, estimate = check_endpoints(needs)
    checks += ep_checks
    if kinds & {"backup", "migrate", "snapshot"} or needs:
        checks += check_space(backup_path, estimate, rb.prerequisites.min_free_gb,
                              rb.prerequisites.space_factor, probe=not dry_run)
    return checks, unreachable


# -- running ------------------------------------------------------------------------------------


def _exec_step(ctx: StepContext, spec: StepSpec, cfg: Model, st: StepState) -> StepOutcome:
    st.status, st.started_at, st.error = "running", utcnow(), None
    undo: dict[str, Any] = {}
    try:
        outcome = kind_of(spec.kind).run(ctx, cfg, undo)
    except QdrantOpsError as exc:
        log.error("step %s failed: %s", spec.id, exc)
        outcome = error_outcome(exc)
        st.error = str(exc)
    st.undo = undo
    st.finished_at = utcnow()
    st.duration_s = round((st.finished_at - st.started_at).total_seconds(), 3)
    st.status = "ok" if outcome.status == "ok" else "dry-run" if outcome.status == "dry-run" else "failed"
    st.summary, st.stats, st.exit_code = outcome.summary, outcome.stats, outcome.exit_code
    return outcome


def _plan_updates(rb: Runbook, phases: list[PhaseSpec], state: RunState) -> list[PhaseUpdate]:
    today = utcnow().date().isoformat()
    ups = []
    for phase in phases:
        sts = [state.step(s.id) for s in phase.steps]
        done = [(s.id, s.plan_items) for s, st in zip(phase.steps, sts, strict=True) if st.status in ("ok", "dry-run")]
        ok = sum(1 for st in sts if st.status in ("ok", "dry-run"))
        failed = [st.id for st in sts if st.status == "failed"]
        verdict = "complete" if ok == len(sts) else f"failed at {failed[0]}" if failed else "in progress"
        status = (f"{today} · phase {phase.id} {verdict}: {ok}/{len(sts)} steps done "
                  f"(qdrant-ops run `{state.run_id}`)")
        ups.append(PhaseUpdate(phase=phase.id, steps=done, status=status, run_id=state.run_id))
    return ups


DATA_KINDS = ("backup", "snapshot", "migrate", "validate", "cutover")


def is_migration_target(spec_metadata: dict[str, Any]) -> bool:
    """True for a collection an earlier ``qdrant-ops migrate`` created (its metadata says so)."""
    marker = spec_metadata.get("migration")
    return isinstance(marker, dict) and marker.get("tool") == "qdrant-ops" and "source_collection" in marker


def default_collections(rb: Runbook) -> list[str]:
    """All collections of the runbook's source, less the targets of earlier migrations.

    Resolved once per run, so backup, migrate and validate agree, and a resumed or repeated run
    does not migrate ``x_v2`` into ``x_v2_v2``. Empty when no source is known (the steps then
    report that themselves).
    """
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.runbook.steps.base import default_endpoint

    data = default_endpoint(rb)
    if data is None:
        return []
    try:
        ep = open_endpoint(EndpointConfig.model_validate(data))
        names = ep.list_collections()
        return [n for n in names if not is_migration_target(ep.get_spec(n).metadata)]
    except QdrantOpsError:
        return []  # unreachable: the prerequisite check reports it


def run_runbook(
    rb: Runbook,
    *,
    phase: str | Sequence[str] | None = "all",
    dry_run: bool = False,
    backup_path: str | None = None,
    plan: str | None = None,
    resume: str | None = None,
    runbook_file: str | None = None,
    progress: ProgressSink | None = None,
) -> RunReport:
    """Run (or dry-run) the selected phases of ``rb``; returns the run report."""
    progress = progress or NullProgress()
    if backup_path:
        rb = rb.model_copy(update={"backup_path": backup_path})
    if plan:
        rb = rb.model_copy(update={"plan": plan})
    rb = absolute_paths(rb)
    plan = rb.plan
    report = RunReport(dry_run=dry_run, plan_file=plan)
    state: RunState | None = None
    if resume:
        if dry_run:
            raise UsageError("--resume and --dry-run do not go together")
        rdir = find_run(rb.backup_path, resume)
        state = load_state(rdir)
        report.resumed = True
        phases = select_phases(rb, state.phases)
    else:
        phases = select_phases(rb, phase)
        rdir = run_dir(rb.backup_path, new_run_id())
    report.run_id, report.run_dir, report.phases = rdir.name, str(rdir), [p.id for p in phases]
    if not rb.collections and any(s.kind in DATA_KINDS for p in phases for s in p.steps):
        rb = rb.model_copy(update={"collections": default_collections(rb)})
    ctx = StepContext(runbook=rb, run_dir=rdir, dry_run=dry_run, progress=progress)
    if state is not None:
        ctx.states = {st.id: st for st in state.steps}
    resolved = _resolve(rb, phases, ctx)
    if state is not None:
        _check_resume(state, resolved)
    if plan and not Path(plan).is_file():
        raise NotFoundError(f"plan file {plan} does not exist")
    owned = _owned_paths(rb, plan, rdir)
    ctx.allowed_dirty = owned
    code_done = state is not None and any(s.kind in CODE_KINDS and s.done for s in state.steps)
    report.prerequisites, unreachable = check_prerequisites(
        rb, resolved, state_root(rb.backup_path), dry_run=dry_run, owned=owned, code_done=code_done)
    if not all(c.passed for c in report.prerequisites):
        report.exit_code = EXIT_UNREACHABLE if unreachable else EXIT_CHECK_FAILED
        report.finish("failed")
        return report
    if dry_run:
        return _dry_run(rb, phases, resolved, ctx, report, plan)
    if state is None:
        state = RunState(run_id=rdir.name, phases=[p.id for p in phases], runbook_file=runbook_file,
                         runbook=masked_dump(rb),
                         steps=[StepState(phase=p.id, id=s.id, kind=s.kind, title=s.title, digest=s.digest())
                                for p, s, _ in resolved])
    with FileLock(rdir / ".lock", f"run {rdir.name}"):
        state.status = "running"
        save_state(rdir, state)
        _run_steps(rb, resolved, ctx, state, rdir)
        if plan:
            change = plan_update(plan, _plan_updates(rb, phases, state))
            write_plan(change)
            report.plan_ticked = change.ticked
        failed = [st for st in state.steps if st.status == "failed"]
        state.status = "failed" if failed else "ok"
        save_state(rdir, state)
        report.steps = [step_row(st) for st in state.steps]
        add_statistics(report, state.steps)
        report.exit_code = (failed[0].exit_code or EXIT_CHECK_FAILED) if failed else EXIT_OK
        report.finish("failed" if failed else "ok")
        if failed:
            report.notes.append(f"step {failed[0].id} failed: {failed[0].error or '; '.join(failed[0].summary[:2])}; "
                                f"fix the cause and resume with: qdrant-ops run --resume {state.run_id}")
        write_report(report, rdir / "report")
    return report


def _check_resume(state: RunState, resolved: list[tuple[PhaseSpec, StepSpec, Model]]) -> None:
    ids = [s.id for _, s, _ in resolved]
    if ids != [st.id for st in state.steps]:
        raise PlanChangedError(f"run {state.run_id} had steps {', '.join(st.id for st in state.steps)}; "
                               f"the runbook now has {', '.join(ids)}: start a new run")
    for (_, spec, _), st in zip(resolved, state.steps, strict=True):
        if st.done and st.digest != spec.digest():
            raise PlanChangedError(f"step {spec.id} completed in run {state.run_id} but its config changed since: "
                                   "start a new run")


def _run_steps(rb: Runbook, resolved: list[tuple[PhaseSpec, StepSpec, Model]], ctx: StepContext,
               state: RunState, rdir: Path) -> None:
    baselined: set[str] = set()
    for n, (phase, spec, cfg) in enumerate(resolved, start=1):
        st = state.step(spec.id)
        if st.done:
            continue
        if phase.id not in baselined:
            baselined.add(phase.id)
            _baselines(phase, ctx, state, rdir)
        st.digest = spec.digest()
        ctx.baseline = state.baselines.get(spec.id)
        outcome = _exec_step(ctx, spec, cfg, st)
        if outcome.report is not None:
            write_report(outcome.report, rdir / step_report_name(n, spec.id))
            st.report = step_report_name(n, spec.id)
        ctx.states[spec.id] = st
        save_state(rdir, state)
        if st.status != "ok":
            return


def _baselines(phase: PhaseSpec, ctx: StepContext, state: RunState, rdir: Path) -> None:
    """Run each baseline tests step of the phase before its first step, once per run."""
    for spec in phase.steps:
        cfg = ctx.configs.get(spec.id)
        if spec.kind != "tests" or not isinstance(cfg, TestsConfig) or not cfg.baseline:
            continue
        if spec.id in state.baselines:
            continue
        before = phase.steps[: phase.steps.index(spec)]
        if not any(s.kind in CODE_KINDS or s.kind == "shell" for s in before):
            continue
        if any(state.step(s.id).done for s in before):
            continue  # a resume after code steps: the baseline would measure the changed code
        log.info("tests before phase %s: %s", phase.id, cfg.command)
        state.baselines[spec.id] = run_tests_baseline(cfg)
        save_state(rdir, state)


def _dry_run(rb: Runbook, phases: list[PhaseSpec], resolved: list[tuple[PhaseSpec, StepSpec, Model]],
             ctx: StepContext, report: RunReport, plan: str | None) -> RunReport:
    state = RunState(run_id=report.run_id, phases=report.phases,
                     steps=[StepState(phase=p.id, id=s.id, kind=s.kind, title=s.title) for p, s, _ in resolved])
    failed = False
    for _, spec, cfg in resolved:
        st = state.step(spec.id)
        _exec_step(ctx, spec, cfg, st)
        ctx.states[spec.id] = st
        failed = failed or st.status == "failed"
    report.steps = [step_row(st) for st in state.steps]
    add_statistics(report, state.steps)
    if plan:
        change = plan_update(plan, _plan_updates(rb, phases, state))
        report.plan_diff = change.diff()
        report.plan_ticked = change.ticked
    report.notes.append("dry-run: nothing was changed; no run directory was created")
    report.exit_code = EXIT_CHECK_FAILED if failed else EXIT_OK
    report.finish("failed" if failed else "dry-run")
    return report


def absolute_paths(rb: Runbook) -> Runbook:
    """The runbook with its repository, backup path, plan and local store as absolute paths."""
    backup_path = rb.backup_path if is_remote(rb.backup_path) else str(Path(rb.backup_path).resolve())
    update: dict[str, Any] = {"repo": str(Path(rb.repo).resolve()), "backup_path": backup_path}
    if rb.plan:
        update["plan"] = str(Path(rb.plan).resolve())
    if rb.endpoint is not None and rb.endpoint.kind() == "local":
        if rb.endpoint.path:
            update["endpoint"] = rb.endpoint.model_copy(update={"path": str(Path(rb.endpoint.path).resolve())})
        elif rb.endpoint.url:
            update["endpoint"] = rb.endpoint.model_copy(update={"url": str(Path(rb.endpoint.url).resolve())})
    return rb.model_copy(update=update)


def endpoint_display(ep: EndpointConfig | None) -> str:
    return ep.display() if ep is not None else "(from QDRANT_URL / QDRANT_HOST)"
