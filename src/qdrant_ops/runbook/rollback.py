"""``qdrant-ops rollback RUN_ID``: a run's completed steps undone in reverse order."""

from __future__ import annotations

import os

from qdrant_ops.errors import NotFoundError, QdrantOpsError
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.reports import utcnow, write_report
from qdrant_ops.runbook.model import Runbook
from qdrant_ops.runbook.report import RollbackRunReport, StepRow
from qdrant_ops.runbook.runs import RunState, find_run, load_state, save_state
from qdrant_ops.runbook.steps.base import StepContext, build_config
from qdrant_ops.runbook.steps.registry import kind_of


def rollback_run(backup_path: str, run_id: str, *, runbook: Runbook | None = None) -> RollbackRunReport:
    """Undo the completed steps of a run in reverse order, reporting each reverse step."""
    rdir = find_run(backup_path, run_id)
    state = load_state(rdir)
    report = RollbackRunReport(run_id=run_id, run_dir=str(rdir))
    rb = runbook or _runbook_of(state)
    ctx = StepContext(runbook=rb, run_dir=rdir, dry_run=False)
    ctx.states = {st.id: st for st in state.steps}
    specs = {s.id: s for p in rb.phases for s in p.steps}
    with FileLock(rdir / ".lock", f"run {run_id}"):
        for st in reversed(state.steps):
            if st.status not in ("ok", "failed", "rollback-failed"):
                continue
            spec = specs.get(st.id)
            if spec is None:
                raise NotFoundError(f"step {st.id} of run {run_id} is not in the runbook given")
            row = StepRow(phase=st.phase, id=st.id, kind=st.kind, title=st.title, status="rolled-back")
            try:
                cfg = build_config(kind_of(spec.kind), spec, ctx)
                row.summary = kind_of(spec.kind).rollback(ctx, cfg, st)
                st.status = "rolled-back"
            except QdrantOpsError as exc:
                row.status = st.status = "rollback-failed"
                row.summary = [str(exc)]
                report.check(f"undo {st.id}", False, str(exc))
                report.steps.append(row)
                state.status = "rollback-failed"
                save_state(rdir, state)
                break
            report.steps.append(row)
            save_state(rdir, state)
        else:
            state.status = "rolled-back"
        state.rollback.append(f"{utcnow().isoformat(timespec='seconds')} {state.status}")
        save_state(rdir, state)
    report.finish()
    write_report(report, rdir / "rollback-report")
    return report


def _runbook_of(state: RunState) -> Runbook:
    """The runbook a run used, as saved with it (paths absolute; the API key from the environment)."""
    data = dict(state.runbook)
    ep = data.get("endpoint")
    if isinstance(ep, dict) and "api_key" in ep:
        key = os.environ.get("QDRANT_API_KEY")
        data["endpoint"] = {k: v for k, v in ep.items() if k != "api_key"} | ({"api_key": key} if key else {})
    return Runbook.model_validate(data)
