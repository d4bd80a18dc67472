"""The ``cleanup-legacy`` report: what moved, what was rewritten or reported, what was pruned."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from qdrant_ops.reports import Report, md_table


class CandidateItem(BaseModel):
    path: str
    reasons: list[str]
    selected: bool = False


class MovedFile(BaseModel):
    source: str
    destination: str
    kind: Literal["script", "helper"]
    reason: str
    sha256: str
    method: Literal["git mv", "move"]
    last_commit: str | None = None
    last_commit_date: str | None = None


class KeptHelper(BaseModel):
    path: str
    reason: str


class ReferenceItem(BaseModel):
    file: str
    line: int
    column: int
    kind: str
    target: str
    text: str
    action: Literal["rewritten", "reported", "unhandled"]
    replacement: str | None = None
    reason: str = ""


class RequirementItem(BaseModel):
    file: str
    line: int
    requirement: str
    distribution: str
    reason: str


class Problem(BaseModel):
    path: str
    line: int | None = None
    reason: str


class Examined(BaseModel):
    path: str
    decision: str


class FileDiff(BaseModel):
    path: str
    diff: str


class CleanupReport(Report):
    """Everything ``cleanup-legacy`` did (or, in a dry run, would do)."""

    verb: str = "cleanup-legacy"
    mode: Literal["archive", "restore"] = "archive"
    repo: str = ""
    archive_path: str = ""
    dry_run: bool = False
    git: bool = False
    candidates: list[CandidateItem] = Field(default_factory=list)
    moved: list[MovedFile] = Field(default_factory=list)
    helpers_kept: list[KeptHelper] = Field(default_factory=list)
    references: list[ReferenceItem] = Field(default_factory=list)
    requirements_removed: list[RequirementItem] = Field(default_factory=list)
    requirements_kept: list[RequirementItem] = Field(default_factory=list)
    created_files: list[str] = Field(default_factory=list)
    restored: list[str] = Field(default_factory=list)
    unhandled: list[Problem] = Field(default_factory=list)
    examined: list[Examined] = Field(default_factory=list)
    diffs: list[FileDiff] = Field(default_factory=list)

    def problem(self, path: str, reason: str, line: int | None = None) -> None:
        self.unhandled.append(Problem(path=path, line=line, reason=reason))

    # -- terminal --------------------------------------------------------------------------------

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        verb = "would " if self.dry_run else ""
        if self.mode == "restore":
            lines.append(f"  {verb}restore {len(self.restored)} file(s) from {self.archive_path}")
        else:
            scripts = sum(1 for m in self.moved if m.kind == "script")
            helpers = len(self.moved) - scripts
            lines.append(
                f"  {verb}archive {scripts} script(s) and {helpers} helper(s) into "
                f"{self.archive_path}; {len(self.helpers_kept)} helper(s) kept"
            )
            counts = {a: sum(1 for r in self.references if r.action == a)
                      for a in ("rewritten", "reported", "unhandled")}
            lines.append(
                f"  references: {counts['rewritten']} rewritten, {counts['reported']} reported, "
                f"{counts['unhandled']} need a hand"
            )
            lines.append(f"  requirements: {len(self.requirements_removed)} removed")
            if self.candidates:
                chosen = sum(1 for c in self.candidates if c.selected)
                lines.append(f"  detected {len(self.candidates)} candidate(s), {chosen} selected")
                for c in self.candidates:
                    mark = "*" if c.selected else "-"
                    lines.append(f"    {mark} {c.path}: {'; '.join(c.reasons)}")
        for p in self.unhandled:
            where = f"{p.path}:{p.line}" if p.line else p.path
            lines.append(f"  ! {where}: {p.reason}")
        lines += [f"  note: {n}" for n in self.notes]
        return lines

    def plan_lines(self) -> list[str]:
        """The full plan: moves, references, requirement removals and every diff."""
        out: list[str] = []
        for m in self.moved:
            if m.kind == "script":
                out.append(f"move ({m.method}) {m.source} -> {m.destination}  [{m.kind}: {m.reason}]")
        helpers = [m for m in self.moved if m.kind == "helper"]
        if helpers or self.helpers_kept:
            out.append("helpers (moved only when nothing that stays needs them):")
            for m in helpers:
                out.append(f"  move ({m.method}) {m.source} -> {m.destination}  [{m.reason}]")
            for h in self.helpers_kept:
                out.append(f"  keep {h.path}  [{h.reason}]")
        for r in self.references:
            out.append(f"{r.action}: {r.file}:{r.line}: {r.text}" + (f"  ({r.reason})" if r.reason else ""))
        for q in self.requirements_removed:
            out.append(f"remove requirement {q.requirement} ({q.file}:{q.line}): {q.reason}")
        for rel in self.created_files:
            out.append(f"create {rel}")
        for d in self.diffs:
            out.append(d.diff.rstrip("\n"))
        return out

    def verbose_lines(self) -> list[str]:
        lines = [f"examined {e.path}: {e.decision}" for e in self.examined]
        lines += [f"kept requirement {q.requirement} ({q.file}:{q.line}): {q.reason}"
                  for q in self.requirements_kept]
        return lines

    # -- markdown --------------------------------------------------------------------------------

    def markdown_sections(self) -> list[str]:
        out: list[str] = ["", f"Repository `{self.repo}`, archive `{self.archive_path}`"
                          + (" (dry run: nothing was changed)" if self.dry_run else "")]
        if self.mode == "restore":
            out += ["", "## Restored", ""] + [f"- `{p}`" for p in self.restored]
        if self.candidates:
            out += ["", "## Detected candidates", ""]
            out.append(md_table(["script", "selected", "reasons"],
                                [[c.path, "yes" if c.selected else "no", "; ".join(c.reasons)]
                                 for c in self.candidates]))
        if self.moved:
            out += ["", "## Archived", ""]
            out.append(md_table(
                ["original", "archived", "kind", "sha256", "last commit", "method", "reason"],
                [[m.source, m.destination, m.kind, m.sha256[:16], (m.last_commit or "")[:10],
                  m.method, m.reason] for m in self.moved]))
        if self.helpers_kept:
            out += ["", "## Helpers kept", ""]
            out.append(md_table(["module", "reason"], [[h.path, h.reason] for h in self.helpers_kept]))
        if self.references:
            out += ["", "## References", ""]
            out.append(md_table(
                ["where", "action", "kind", "script", "now", "note"],
                [[f"{r.file}:{r.line}", r.action, r.kind, r.target, r.replacement or "", r.reason]
                 for r in self.references]))
        if self.requirements_removed or self.requirements_kept:
            out += ["", "## Requirements", ""]
            rows = [[f"{q.file}:{q.line}", q.requirement, "removed", q.reason]
                    for q in self.requirements_removed]
            rows += [[f"{q.file}:{q.line}", q.requirement, "kept", q.reason]
                     for q in self.requirements_kept]
            out.append(md_table(["where", "requirement", "action", "reason"], rows))
        if self.created_files:
            out += ["", "## Files written", ""] + [f"- `{p}`" for p in self.created_files]
        if self.unhandled:
            out += ["", "## Could not handle", ""]
            out.append(md_table(["where", "reason"],
                                [[f"{p.path}:{p.line}" if p.line else p.path, p.reason]
                                 for p in self.unhandled]))
        if self.diffs:
            out += ["", "## Diffs", ""]
            for d in self.diffs:
                out += [f"### {d.path}", "", "```diff", d.diff.rstrip("\n"), "```", ""]
        return out
