"""The report of ``qdrant-ops consolidate-clients`` (JSON, Markdown and HTML)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from qdrant_ops.code.consolidate.checks import TestRun
from qdrant_ops.reports import Report, md_table


class MemberOut(BaseModel):
    path: str
    module: str | None
    role: str
    score: float
    importers: int
    api: list[str] = Field(default_factory=list)


class GroupOut(BaseModel):
    canonical: str
    canonical_module: str | None
    reason: str
    members: list[MemberOut]


class DecisionOut(BaseModel):
    duplicate: str
    canonical: str
    role: str
    score: float
    names_used: dict[str, list[str]] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    merged: list[str] = Field(default_factory=list)
    blocked: str | None = None


class ReferenceOut(BaseModel):
    line: int
    kind: str
    old: str
    new: str


class FileChangeOut(BaseModel):
    path: str
    references: list[ReferenceOut] = Field(default_factory=list)


class ValidationOut(BaseModel):
    compile_errors: dict[str, str] = Field(default_factory=dict)
    import_errors: dict[str, str | None] = Field(default_factory=dict)
    tests: TestRun | None = None


class RenameOut(BaseModel):
    old: str
    new: str
    reason: str


class BackupOut(BaseModel):
    kind: str  # git-ref | tar.gz
    location: str
    restore_command: str


class ConsolidateReport(Report):
    verb: str = "consolidate-clients"
    repo: str = ""
    mode: str = "apply"  # apply | dry-run | list | restore
    groups: list[GroupOut] = Field(default_factory=list)
    importers: dict[str, list[str]] = Field(default_factory=dict)
    decisions: list[DecisionOut] = Field(default_factory=list)
    lookalikes: list[str] = Field(default_factory=list)
    shadowing: list[str] = Field(default_factory=list)
    # why each shadowing file is one: who Python points at it instead of the package
    shadow_notes: dict[str, str] = Field(default_factory=dict)
    renames: list[RenameOut] = Field(default_factory=list)
    python: str = ""
    python_source: str = ""
    files_changed: list[FileChangeOut] = Field(default_factory=list)
    files_removed: list[str] = Field(default_factory=list)
    blocked: list[str] = Field(default_factory=list)
    explain: list[str] = Field(default_factory=list)
    before: ValidationOut | None = None
    after: ValidationOut | None = None
    newly_failing: list[str] = Field(default_factory=list)
    reverted: bool = False
    backup: BackupOut | None = None
    restored: list[str] = Field(default_factory=list)
    diff: str = ""

    @property
    def references_rewritten(self) -> int:
        return sum(len(f.references) for f in self.files_changed)

    def listing_lines(self) -> list[str]:
        """The ``--list`` view: groups, scores, importers (file:line), names used, canonical."""
        lines: list[str] = []
        if not self.groups:
            lines.append("no duplicated Qdrant client modules found")
        for i, g in enumerate(self.groups, 1):
            lines.append(f"group {i}: canonical {g.canonical} ({g.reason})")
            for m in g.members:
                mark = "*" if m.role == "canonical" else "-"
                lines.append(f"  {mark} {m.path} [{m.module or '?'}] {m.role} score={m.score:.2f} importers={m.importers}")
                for where in self.importers.get(m.path, []):
                    lines.append(f"      imported at {where}")
                d = next((d for d in self.decisions if d.duplicate == m.path), None)
                if d is not None:
                    for name, locs in sorted(d.names_used.items()):
                        lines.append(f"      uses {name}: {', '.join(locs)}")
                    if d.blocked:
                        lines.append(f"      BLOCKED: {d.blocked}")
        for x in self.lookalikes:
            lines.append(f"look-alike (not qdrant_client, left alone): {x}")
        for x in self.shadowing:
            note = self.shadow_notes.get(x)
            lines.append(f"shadows the qdrant_client package (a defect, never canonical): {x}"
                         + (f": {note}" if note else ""))
        for r in self.renames:
            lines.append(f"rename {r.old} -> {r.new}: {r.reason}")
        return lines

    def summary_lines(self) -> list[str]:
        lines = [f"{self.verb} ({self.mode}): {self.status} in {self.duration_s:.1f}s"]
        if self.mode == "restore":
            lines.append(f"  restored {len(self.restored)} files")
            return lines
        lines.append(
            f"  {len(self.groups)} groups; {len(self.files_changed)} files changed "
            f"({self.references_rewritten} references); {len(self.files_removed)} removed; "
            f"{len(self.renames)} renamed; {len(self.blocked)} blocked"
        )
        for b in self.blocked:
            lines.append(f"  BLOCKED {b}")
        for t in self.newly_failing:
            lines.append(f"  FAILED after the change: {t}")
        if self.reverted:
            lines.append("  the change was reverted; the tree is as it was")
        for c in self.failed_checks:
            lines.append(f"  FAILED {c.name}: {c.detail}")
        for c in self.checks:
            if c.inconclusive:
                lines.append(f"  INCONCLUSIVE {c.name}: {c.detail.removeprefix('inconclusive: ')}")
        if self.python:
            lines.append(f"  checks ran on {self.python} ({self.python_source})")
        if self.backup is not None and not self.reverted:
            lines.append(f"  backup: {self.backup.location}; undo with: {self.backup.restore_command}")
        return lines

    def markdown_sections(self) -> list[str]:
        out: list[str] = ["", f"Repository: `{self.repo}` ({self.mode})"]
        out += ["", "## Groups", ""]
        rows = [
            [g.canonical if m.role == "canonical" else "", m.path, m.module, m.role, f"{m.score:.2f}", m.importers]
            for g in self.groups for m in g.members
        ]
        out.append(md_table(["group", "module file", "module", "role", "score", "importers"], rows) if rows else "none")
        if self.groups:
            out += ["", "## Canonical modules", ""] + [f"- `{g.canonical}`: {g.reason}" for g in self.groups]
        if self.decisions:
            out += ["", "## Duplicates", ""]
            out.append(md_table(
                ["duplicate", "canonical", "names used", "merged", "blocked"],
                [[d.duplicate, d.canonical, ", ".join(sorted(d.names_used)), ", ".join(d.merged), d.blocked or ""]
                 for d in self.decisions],
            ))
        if self.files_changed:
            out += ["", "## References rewritten", ""]
            out.append(md_table(
                ["file:line", "kind", "old", "new"],
                [[f"{f.path}:{r.line}", r.kind, r.old, r.new] for f in self.files_changed for r in f.references],
            ))
        if self.files_removed:
            out += ["", "## Files removed", ""] + [f"- `{p}`" for p in self.files_removed]
        if self.blocked:
            out += ["", "## Blocked", ""] + [f"- {b}" for b in self.blocked]
        if self.lookalikes or self.shadowing:
            out += ["", "## Left alone", ""]
            out += [f"- look-alike: `{x}`" for x in self.lookalikes]
            out += [f"- shadows qdrant_client: `{x}`" + (f": {self.shadow_notes[x]}" if x in self.shadow_notes else "")
                    for x in self.shadowing]
        if self.renames:
            out += ["", "## Renamed", ""] + [f"- `{r.old}` -> `{r.new}`: {r.reason}" for r in self.renames]
        if self.python:
            out += ["", "## Interpreter", "", f"`{self.python}` ({self.python_source})"]
        for title, v in (("before", self.before), ("after", self.after)):
            if v is not None and v.tests is not None:
                t = v.tests
                out += ["", f"## Tests {title}", "", f"`{t.command}`: exit {t.exit_code}"
                        f"{' (timed out)' if t.timed_out else ''}, {t.counts}, {t.duration_s}s"]
                out += [f"- failing: `{x}`" for x in t.failed]
        if self.newly_failing:
            out += ["", "## Broken by the change (reverted)", ""] + [f"- `{x}`" for x in self.newly_failing]
        if self.backup is not None:
            out += ["", "## Backup", "", f"{self.backup.kind}: `{self.backup.location}`",
                    "", f"Restore with `{self.backup.restore_command}`"]
        return out
