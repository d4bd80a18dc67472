"""The runbook file: phases of ordered steps, each step a verb with its own config section.

```yaml
endpoint: {url: ./store}         # or QDRANT_URL / QDRANT_HOST; every data step defaults to it
collections: []                  # empty: every collection of the source
backup_path: ./backups/qdrant    # each run writes <backup_path>/runs/<run id>/
repo: .                          # the repository the code steps work on
plan: docs/PLAN.md               # optional markdown plan ticked as steps complete
prerequisites: {min_free_gb: 5}
phases:
  - id: "7.1"
    title: Data migration
    steps:
      - {id: backup, kind: backup}
      - {id: migrate, kind: migrate, config: {target: {name: "{name}_v2"}}}
```

A step's ``config`` is validated against the model the verb itself uses (``BackupConfig`` for
``backup``, ``MigrateConfig`` for ``migrate`` ...), so a runbook step and the command take the same
keys. Keys the runbook fills in when a step leaves them unset: the endpoint, the collections, the
backup path (the run's own directory), the repository.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from qdrant_ops.config.base import Model
from qdrant_ops.endpoints.uri import EndpointConfig

StepKind = Literal[
    "backup",
    "snapshot",
    "migrate",
    "validate",
    "cutover",
    "cleanup-legacy",
    "consolidate-clients",
    "check-legacy",
    "tests",
    "shell",
]
STEP_KINDS: tuple[str, ...] = StepKind.__args__  # type: ignore[attr-defined]
DATA_KINDS = frozenset({"backup", "snapshot", "migrate", "validate", "cutover"})
CODE_KINDS = frozenset({"cleanup-legacy", "consolidate-clients"})


class ShellConfig(Model):
    """A ``shell`` step: a command (a string runs through the shell, a list runs as is)."""

    command: str | list[str]
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0)
    rollback: str | list[str] | None = None


class TestsConfig(Model):
    """A ``tests`` step: the project's test command, run before the phase's code steps and after.

    ``baseline`` runs it once before the first step of its phase too, so the report shows tests
    before and after; the step fails when the command fails now but passed before, or when more
    tests fail than before.
    """

    command: str | list[str] = Field(default_factory=lambda: ["python", "-m", "pytest", "-q"])
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=1800, gt=0)
    baseline: bool = True


class CheckLegacyConfig(Model):
    """``qdrant-ops check-legacy``: code that still references archived scripts or removed modules.

    It reads the records cleanup-legacy (``<archive_path>/archive-index.json``) and
    consolidate-clients (its report) leave; ``scripts`` and ``modules`` add names by hand.
    """

    repo: str = "."
    archive_path: str = "legacy/python-scripts"
    consolidation_report: str | None = None
    scripts: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class CutoverConfig(Model):
    """A ``cutover`` step (``qdrant-ops cutover``): point ``alias`` at ``collection`` on ``target``.

    ``target`` defaults to the migrate step's target and ``collection`` to its one migrated
    collection; the switch needs a passed validation recorded on the collection unless ``force``.
    """

    alias: str
    collection: str | None = None
    target: EndpointConfig | None = None
    force: bool = False


class PrerequisitesConfig(Model):
    """What ``qdrant-ops run`` checks before it changes anything."""

    min_free_gb: float = Field(default=5.0, ge=0)
    space_factor: float = Field(default=1.5, ge=1)
    git: bool | None = None
    clean_tree: bool | None = None


class StepSpec(Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: StepKind
    title: str = ""
    plan_items: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    config_file: str | None = None

    @field_validator("plan_items", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    def label(self) -> str:
        return self.title or self.id

    def digest(self) -> str:
        data = {"kind": self.kind, "config": self.config, "config_file": self.config_file}
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class PhaseSpec(Model):
    id: str
    title: str = ""
    steps: list[StepSpec] = Field(default_factory=list)


class Runbook(Model):
    version: int = 1
    endpoint: EndpointConfig | None = None
    collections: list[str] = Field(default_factory=list)
    backup_path: str = "./backups/qdrant"
    repo: str = "."
    plan: str | None = None
    prerequisites: PrerequisitesConfig = Field(default_factory=PrerequisitesConfig)
    phases: list[PhaseSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Runbook:
        seen: set[str] = set()
        for phase in self.phases:
            if phase.id in seen:
                raise ValueError(f"phase id {phase.id!r} is used twice")
            seen.add(phase.id)
        steps: set[str] = set()
        for phase in self.phases:
            for step in phase.steps:
                if step.id in steps:
                    raise ValueError(f"step id {step.id!r} is used twice")
                steps.add(step.id)
        return self

    def phase_ids(self) -> list[str]:
        return [p.id for p in self.phases]


def default_runbook() -> Runbook:
    """The plan's phase 7: 7.1 backup -> migrate -> validate; 7.2 cleanup -> consolidate -> check."""
    return Runbook.model_validate(
        {
            "phases": [
                {
                    "id": "7.1",
                    "title": "Data migration",
                    "steps": [
                        {"id": "backup", "kind": "backup", "title": "Back up every collection"},
                        {"id": "migrate", "kind": "migrate", "title": "Migrate to the new layout"},
                        {"id": "validate", "kind": "validate", "title": "Validate the migration"},
                    ],
                },
                {
                    "id": "7.2",
                    "title": "Legacy cleanup",
                    "steps": [
                        {"id": "cleanup-legacy", "kind": "cleanup-legacy",
                         "title": "Archive legacy scripts", "config": {"detect": True, "yes": True}},
                        {"id": "consolidate-clients", "kind": "consolidate-clients",
                         "title": "Consolidate Qdrant clients"},
                        {"id": "check-legacy", "kind": "check-legacy",
                         "title": "No code references archived scripts"},
                        {"id": "tests", "kind": "tests", "title": "Tests pass"},
                    ],
                },
            ]
        }
    )


DEFAULT_RUNBOOK_YAML = """\
# qdrant-ops runbook: the plan's phase 7. Run it with `qdrant-ops run --runbook THIS_FILE`.
# Every step's `config` takes the same keys as the command of the same name (see
# `qdrant-ops config schema VERB`). Keys a step leaves unset come from the top of this file.

# Where the data lives. Empty: QDRANT_URL, or QDRANT_HOST (+ QDRANT_PORT), from the environment.
# endpoint: {url: http://localhost:6333}
# endpoint: {path: ./qdrant-store}      # an embedded local-mode store

collections: []                 # empty: every collection of the source
backup_path: ./backups/qdrant   # each run keeps its state, backup and reports in runs/<run id>/
repo: .                         # the repository the code steps (7.2) work on
# plan: docs/PLAN.md            # tick `- [ ]` items as steps complete (or pass --plan)

prerequisites:
  min_free_gb: 5                # the plan recommends 5 GB free; embedded stores may set less
  space_factor: 1.5             # free space needed = max(min_free_gb, estimate x factor)

phases:
  - id: "7.1"
    title: Data migration
    steps:
      - id: backup
        kind: backup
        title: Back up every collection
      - id: migrate
        kind: migrate
        title: Migrate to the new layout
        # config: {target: {name: "{name}_v2"}, switch_alias: my_alias}
      - id: validate
        kind: validate
        title: Validate the migration
        # plan_items: ["Validate recall"]   # plan lines to tick, besides the step id

  - id: "7.2"
    title: Legacy cleanup
    steps:
      - id: cleanup-legacy
        kind: cleanup-legacy
        title: Archive legacy scripts
        config:
          detect: true
          "yes": true           # archive every detected candidate (quoted: YAML reads yes as true)
          # scripts: [scripts/old_migrate.py]
      - id: consolidate-clients
        kind: consolidate-clients
        title: Consolidate Qdrant clients
      - id: check-legacy
        kind: check-legacy
        title: No code references archived scripts
      - id: tests
        kind: tests
        title: Tests pass
        # config: {command: "python -m pytest -q"}
"""
