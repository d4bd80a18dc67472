"""``qdrant-ops backups list`` and ``qdrant-ops forget``: what a repository holds, and retention.

A full backup is self-contained; an incremental one reads through its parents (chain.py), so a
parent of a kept backup is kept too, with the reason ``parent of <child>``. Forgetting a backup
removes its files with it; ``--prune`` then runs ``prune`` (restic's semantics: partial backups,
files no manifest lists, open uploads; prune.py) under the same hold of the repository lock that
``backup`` takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from qdrant_ops.reports import Report, md_table
from qdrant_ops.repository.listing import BackupInfo, list_backups, remove_backup
from qdrant_ops.repository.location import is_remote, open_location
from qdrant_ops.repository.lock import RepositoryHold
from qdrant_ops.repository.prune import PruneResult, prune_locked, require_repository
from qdrant_ops.repository.retention import Decision, Policy, apply_policy


def _row(b: BackupInfo) -> list[Any]:
    return [b.name, b.time.isoformat() if b.time else "", ",".join(b.collections), b.points, b.bytes,
            b.parent or "", "complete" if b.complete else "partial"]


_HEADER = ["backup", "time", "collections", "points", "bytes", "parent", "state"]


class ListReport(Report):
    verb: str = "backups list"
    repository: str = ""
    backups: list[dict[str, Any]] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        if not self.backups:
            return [f"no backups in {self.repository}"]
        rows = [[str(v) for v in _row_json(b)] for b in self.backups]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(_HEADER)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return [fmt.format(*_HEADER), *(fmt.format(*r) for r in rows)]

    def markdown_sections(self) -> list[str]:
        return ["", f"Repository: `{self.repository}`", "", md_table(_HEADER, [_row_json(b) for b in self.backups])]


def _row_json(b: dict[str, Any]) -> list[Any]:
    return [b["name"], b["time"] or "", ",".join(b["collections"]), b["points"], b["bytes"], b["parent"] or "", b["state"]]


def _display(repository: str | Path) -> str:
    return open_location(str(repository)).display if is_remote(repository) else str(repository)


def backups_list(repository: str | Path) -> ListReport:
    """Every backup in the repository, oldest first, complete or partial."""
    report = ListReport(repository=_display(repository))
    report.backups = [b.to_json() for b in list_backups(repository)]
    report.finish()
    return report


class ForgetReport(Report):
    verb: str = "forget"
    repository: str = ""
    dry_run: bool = False
    kept: list[dict[str, Any]] = Field(default_factory=list)
    removed: list[dict[str, Any]] = Field(default_factory=list)
    # ``--prune``: prune's result (what it removed, or would remove), as ``qdrant-ops prune`` reports it.
    prune: PruneResult | None = None

    def summary_lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        lines = [f"keep   {b['name']} ({', '.join(b['reasons'])})" for b in self.kept]
        lines += [f"{verb} {b['name']}" for b in self.removed]
        lines += [f"note   {b['name']}: {FOLD_NOTE.format(children=', '.join(b['parent_of']))}"
                  for b in self.kept if b.get("parent_of")]
        lines.append(f"{len(self.kept)} kept, {len(self.removed)} {verb}")
        if self.prune is not None:
            lines += self.prune.lines()
        return lines

    def markdown_sections(self) -> list[str]:
        rows = [[b["name"], "keep", ", ".join(b["reasons"])
                 + (f" ({FOLD_NOTE.format(children=', '.join(b['parent_of']))})" if b.get("parent_of") else "")]
                for b in self.kept]
        rows += [[b["name"], "remove", ""] for b in self.removed]
        out = ["", f"Repository: `{self.repository}` · dry run: {self.dry_run}", "",
               md_table(["backup", "decision", "kept by"], rows)]
        if self.prune is not None:
            out += ["", "## Prune", "", *self.prune.markdown_rows()]
        return out


# forget keeps a parent a kept incremental backup reads through; it never rewrites the child.
FOLD_NOTE = "kept whole, not folded into its child: the incremental backup(s) {children} read through it"


def _keep_parents(decisions: list[Decision]) -> None:
    """Keep every backup a kept incremental backup reads through, to the start of its chain."""
    by_name = {d.backup.name: d for d in decisions}
    todo = [d for d in decisions if d.keep]
    while todo:
        child = todo.pop()
        for name in child.backup.parents:
            parent = by_name.get(name)
            if parent is not None and not parent.keep:
                parent.keep = True
                parent.reasons.append(f"parent of {child.backup.name}")
                todo.append(parent)


def forget(repository: str | Path, policy: Policy, *, dry_run: bool = False, prune: bool = False) -> ForgetReport:
    """Apply ``policy`` to the repository's complete backups; remove the others (not on a dry run)."""
    report = ForgetReport(repository=require_repository(repository), dry_run=dry_run)
    with RepositoryHold(repository, "forget", f"backup repository {report.repository}") as hold:
        report.notes.extend(hold.notes)
        backups = list_backups(repository)
        decisions = apply_policy(backups, policy)
        _keep_parents(decisions)
        for d in decisions:
            entry = d.backup.to_json() | {"reasons": d.reasons}
            children = [r.removeprefix("parent of ") for r in d.reasons if r.startswith("parent of ")]
            if children:
                entry["parent_of"] = children
            (report.kept if d.keep else report.removed).append(entry)
            if not d.keep and not dry_run:
                remove_backup(d.backup)
        if prune:
            gone = frozenset(b["name"] for b in report.removed)
            report.prune = prune_locked(repository, dry_run=dry_run, skip=gone)
            report.prune.finish("dry-run" if dry_run else None)
    report.finish("dry-run" if dry_run else None)
    return report
