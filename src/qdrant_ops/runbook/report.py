"""The reports of ``qdrant-ops run`` and of a run's rollback, and the run's summed statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from qdrant_ops.reports import Check, Report, bytes_cell, md_table, plain
from qdrant_ops.runbook.runs import StepState

SUM_KEYS = (
    "collections_backed_up", "points_backed_up", "bytes_backed_up", "collections_migrated", "points_migrated",
    "scripts_archived", "helpers_archived", "references_updated", "requirements_removed", "clients_consolidated",
    "client_modules_removed", "client_references_updated", "legacy_references_left", "snapshots_created",
    "aliases_switched",
)


class StepRow(BaseModel):
    phase: str
    id: str
    kind: str
    title: str = ""
    status: str
    duration_s: float = 0.0
    report: str | None = None
    summary: list[str] = Field(default_factory=list)


class RunReport(Report):
    verb: str = "run"
    run_id: str = ""
    run_dir: str = ""
    dry_run: bool = False
    resumed: bool = False
    phases: list[str] = Field(default_factory=list)
    prerequisites: list[Check] = Field(default_factory=list)
    steps: list[StepRow] = Field(default_factory=list)
    statistics: dict[str, Any] = Field(default_factory=dict)
    validation: list[dict[str, Any]] = Field(default_factory=list)
    tests_before: dict[str, Any] | None = None
    tests_after: dict[str, Any] | None = None
    plan_file: str | None = None
    plan_ticked: list[str] = Field(default_factory=list)
    plan_diff: str = ""
    exit_code: int = 0

    def summary_lines(self) -> list[str]:
        head = f"run {self.run_id}: {self.status} in {self.duration_s:.1f}s (phases {', '.join(self.phases)})"
        lines = [head]
        failed_pre = [c for c in self.prerequisites if not c.passed]
        for c in self.prerequisites:
            lines.append(f"  prerequisite {c.name}: {'ok' if c.passed else 'FAILED'} - {c.detail}")
        if failed_pre:
            lines.append("  stopped before any change: a prerequisite failed")
        for s in self.steps:
            lines.append(f"  [{s.phase}] {s.id} ({s.kind}): {s.status} {s.duration_s:.1f}s")
            lines += ["      " + x for x in s.summary]
        if self.statistics:
            lines.append("  statistics: " + plain(self.statistics))
        if self.tests_before is not None or self.tests_after is not None:
            lines.append(f"  tests before: {plain(self.tests_before) or '-'}; after: {plain(self.tests_after) or '-'}")
        if self.plan_file:
            lines.append(f"  plan {self.plan_file}: {len(self.plan_ticked)} item(s) ticked")
            if self.dry_run and self.plan_diff:
                lines += ["  " + x for x in self.plan_diff.splitlines()]
        if self.run_dir and not self.dry_run:
            lines.append(f"run directory: {self.run_dir}")
        return lines

    def markdown_sections(self) -> list[str]:
        out = ["", f"Run `{self.run_id}` · phases {', '.join(self.phases)} · dry-run: {plain(self.dry_run)} · "
               f"resumed: {plain(self.resumed)} · directory: `{self.run_dir}`"]
        if self.prerequisites:
            out += ["", "## Prerequisites", "", md_table(
                ["check", "result", "measured"],
                [[c.name, "pass" if c.passed else "**FAIL**", c.detail] for c in self.prerequisites])]
        if self.steps:
            out += ["", "## Steps", "", md_table(
                ["phase", "step", "kind", "status", "duration (s)", "report", "summary"],
                [[s.phase, s.id, s.kind, s.status, f"{s.duration_s:.2f}", s.report or "", "; ".join(x.strip() for x in s.summary)]
                 for s in self.steps])]
        if self.statistics:
            out += ["", "## Statistics", "", md_table(
                ["figure", "value"],
                [[k, bytes_cell(v) if k.startswith("bytes") and isinstance(v, int) else v] for k, v in self.statistics.items()])]
        if self.validation:
            out += ["", "## Validation", "", md_table(
                ["collection", "check", "passed", "figures"],
                [[v.get("collection"), v.get("check"), v.get("passed"),
                  plain({k: x for k, x in v.items() if k not in ("collection", "check", "passed")})]
                 for v in self.validation])]
        if self.tests_before is not None or self.tests_after is not None:
            out += ["", "## Tests", "", md_table(["", "figures"], [["before", self.tests_before], ["after", self.tests_after]])]
        if self.plan_file:
            out += ["", f"## Plan `{self.plan_file}`", ""] + [f"- [x] {t}" for t in self.plan_ticked]
            if self.plan_diff:
                out += ["", "```diff", self.plan_diff.rstrip("\n"), "```"]
        return out


class RollbackRunReport(Report):
    verb: str = "rollback"
    run_id: str = ""
    run_dir: str = ""
    steps: list[StepRow] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = [f"rollback of run {self.run_id}: {self.status} in {self.duration_s:.1f}s"]
        for s in self.steps:
            lines.append(f"  undo [{s.phase}] {s.id} ({s.kind}): {s.status}")
            lines += ["      " + x for x in s.summary]
        for c in self.failed_checks:
            lines.append(f"  FAILED {c.name}: {c.detail}")
        return lines

    def markdown_sections(self) -> list[str]:
        return ["", f"Run `{self.run_id}` in `{self.run_dir}`", "", "## Reverse steps", "", md_table(
            ["phase", "step", "kind", "status", "what was done"],
            [[s.phase, s.id, s.kind, s.status, "; ".join(s.summary)] for s in self.steps])]


def add_statistics(report: RunReport, states: Sequence[StepState]) -> None:
    totals: dict[str, Any] = {}
    for st in states:
        if st.status not in ("ok", "dry-run", "failed", "partial"):
            continue
        for k, v in st.stats.items():
            if k == "validation":
                report.validation.extend(v)
            elif k == "tests_before":
                report.tests_before = v
            elif k == "tests_after":
                report.tests_after = v
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                totals[k] = totals.get(k, 0) + v
    report.statistics = {k: totals[k] for k in (*SUM_KEYS, *sorted(set(totals) - set(SUM_KEYS))) if k in totals}
    report.statistics["step_durations_s"] = {st.id: st.duration_s for st in states if st.status != "pending"}


def step_row(st: StepState) -> StepRow:
    return StepRow(phase=st.phase, id=st.id, kind=st.kind, title=st.title, status=st.status,
                   duration_s=st.duration_s, report=st.report, summary=st.summary)
