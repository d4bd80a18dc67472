"""Every step kind by name, and what each needs of the endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qdrant_ops.endpoints.uri import EndpointConfig
from qdrant_ops.errors import ConfigError, QdrantOpsError
from qdrant_ops.runbook.model import CheckLegacyConfig, CutoverConfig, ShellConfig, TestsConfig
from qdrant_ops.runbook.steps.base import NotAvailable, StepKind, StepOutcome, _fixed, _verb_model
from qdrant_ops.runbook.steps.code import (
    _check_defaults,
    _repo_defaults,
    _rollback_cleanup,
    _rollback_consolidate,
    _run_check,
    _run_cleanup,
    _run_consolidate,
)
from qdrant_ops.runbook.steps.data import (
    _backup_defaults,
    _cutover_defaults,
    _migrate_defaults,
    _nothing,
    _rollback_backup,
    _rollback_cutover,
    _rollback_migrate,
    _rollback_snapshot,
    _run_backup,
    _run_cutover,
    _run_migrate,
    _run_snapshot,
    _run_validate,
    _snapshot_defaults,
    _validate_defaults,
)
from qdrant_ops.runbook.steps.shell import _cwd_defaults, _rollback_shell, _run_shell, _run_tests

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


def _runbook_endpoint(kind: str, get: Callable[[], EndpointConfig], key: str) -> EndpointConfig:
    """``get()``, with the runbook's keys named when the endpoint is missing: the verb's own
    message names command-line flags (``--source``) that ``run`` does not have."""
    try:
        return get()
    except ConfigError as exc:
        if not str(exc).startswith(("no source given", "no target given")):
            raise
        which = "target" if key.startswith("target") else "source"
        raise ConfigError(
            f"{kind} step: no {which} given: set `endpoint:` at the runbook's top level "
            f"(or QDRANT_URL), or `{key}:` in the step's config"
        ) from None


def endpoint_needs(kind: str, cfg: Any) -> list[tuple[EndpointConfig, list[str], bool]]:
    """Endpoints a step uses: (endpoint, collections, whether it reads all their data)."""
    if kind == "backup":
        return [(_runbook_endpoint(kind, cfg.source_endpoint, "source"), list(cfg.collections), True)]
    if kind in ("migrate", "validate"):
        src = _runbook_endpoint(kind, cfg.source_endpoint, "source_qdrant")
        dst = _runbook_endpoint(kind, cfg.target_endpoint, "target_qdrant")
        return [(src, list(cfg.collections), kind == "migrate" and bool(cfg.backup)), (dst, [], False)]
    if kind == "snapshot":
        return [(cfg.server(), list(cfg.collections), False)]
    if kind == "cutover" and cfg.target is not None and cfg.target.is_set:
        return [(cfg.target, [], False)]
    return []
