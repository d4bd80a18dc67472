"""Runbook step kinds: how each builds its config, runs (or dry-runs) its verb, and undoes itself.

Every built-in kind calls its verb's library function with the verb's own config model; none
shells out to the command line. ``shell`` and ``tests`` run the command they are given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdrant_ops.config.base import Model
from qdrant_ops.config.loading import expand_vars, read_config_file, validate_model
from qdrant_ops.config.verbs import VERBS
from qdrant_ops.endpoints.uri import endpoint_from_env
from qdrant_ops.errors import ConfigError, UnsupportedError
from qdrant_ops.progress import NullProgress, ProgressSink
from qdrant_ops.reports import Report
from qdrant_ops.runbook.model import Runbook, StepSpec
from qdrant_ops.runbook.runs import StepState


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
