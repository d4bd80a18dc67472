"""Runs of a runbook: ids, the run directory, its saved state, and the list of past runs.

```
<backup_path>/runs/<run id>/run.json          the run's state, rewritten atomically after each step
<backup_path>/runs/<run id>/steps/NN-<step>.json|.md   each step's own report
<backup_path>/runs/<run id>/report.json|.md   the run report
<backup_path>/runs/<run id>/backup/           what the run's backup step wrote
<backup_path>/runs/<run id>/.lock             held while a run, resume or rollback works on it
```
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from qdrant_ops._fs import atomic_write_text
from qdrant_ops.errors import ConfigError, NotFoundError
from qdrant_ops.reports import utcnow

log = logging.getLogger(__name__)

RUN_FORMAT = "qdrant-ops/run"
RUNS_DIR = "runs"
STATE_FILE = "run.json"

StepStatus = Literal["pending", "running", "ok", "failed", "dry-run", "rolled-back", "rollback-failed"]
RunStatus = Literal["running", "ok", "failed", "partial", "rolled-back", "rollback-failed"]


class StepState(BaseModel):
    phase: str
    id: str
    kind: str
    title: str = ""
    digest: str = ""
    status: StepStatus = "pending"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    report: str | None = None
    summary: list[str] = Field(default_factory=list)
    stats: dict[str, Any] = Field(default_factory=dict)
    undo: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    exit_code: int = 0

    @property
    def done(self) -> bool:
        return self.status == "ok"


class RunState(BaseModel):
    format: str = RUN_FORMAT
    version: int = 1
    run_id: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    status: RunStatus = "running"
    phases: list[str] = Field(default_factory=list)
    runbook_file: str | None = None
    runbook: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepState] = Field(default_factory=list)
    baselines: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rollback: list[str] = Field(default_factory=list)

    def step(self, step_id: str) -> StepState:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise NotFoundError(f"run {self.run_id} has no step {step_id!r}")


def new_run_id() -> str:
    """``YYYYmmddTHHMMSSZ-xxxx``: sorts by time, unique within a second."""
    return utcnow().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def runs_root(backup_path: str | Path) -> Path:
    # An object-store backup path keeps the run state (JSON, locks) in its local state cache.
    from qdrant_ops.repository.location import state_root

    return state_root(backup_path) / RUNS_DIR


def run_dir(backup_path: str | Path, run_id: str) -> Path:
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise ConfigError(f"not a run id: {run_id!r}")
    return runs_root(backup_path) / run_id


def save_state(directory: Path, state: RunState) -> None:
    state.updated_at = utcnow()
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / STATE_FILE, state.model_dump_json(indent=2) + "\n")


def load_state(directory: Path) -> RunState:
    path = directory / STATE_FILE
    if not path.is_file():
        raise NotFoundError(f"no run at {directory} ({STATE_FILE} is missing)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = RunState.model_validate(data)
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigError(f"the run state cannot be read: {exc}", file=path) from None
    if state.format != RUN_FORMAT:
        raise ConfigError(f"not a qdrant-ops run (format {state.format!r})", file=path)
    return state


def find_run(backup_path: str | Path, run_id: str) -> Path:
    directory = run_dir(backup_path, run_id)
    if not (directory / STATE_FILE).is_file():
        known = [s.run_id for s in list_runs(backup_path)][-5:]
        hint = f"; recent runs: {', '.join(known)}" if known else ""
        raise NotFoundError(f"no run {run_id!r} under {runs_root(backup_path)}{hint}")
    return directory


def list_runs(backup_path: str | Path) -> list[RunState]:
    """Every readable run under the backup path, oldest first."""
    root = runs_root(backup_path)
    if not root.is_dir():
        return []
    out: list[RunState] = []
    for d in sorted(root.iterdir()):
        if not (d / STATE_FILE).is_file():
            continue
        try:
            out.append(load_state(d))
        except ConfigError as exc:
            log.warning("skipping %s: %s", d, exc)
    return out


def step_report_name(index: int, step_id: str) -> str:
    return f"steps/{index:02d}-{step_id}"
