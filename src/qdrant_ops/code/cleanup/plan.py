"""Plan an archive run: choose the files, find the references, decide the requirements.

Nothing here writes to the repository; ``cleanup.py`` carries the plan out (or, in a dry run,
only reports it).
"""

from __future__ import annotations

import difflib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from qdrant_ops.code.cleanup.commands import line_dirs
from qdrant_ops.code.cleanup.distributions import DEFAULT_ALLOW_LIST
from qdrant_ops.code.cleanup.live import LiveCode, Texts
from qdrant_ops.code.cleanup.prune import find_requirement_files, plan_prune, third_party_imports
from qdrant_ops.code.cleanup.references import (
    Hit,
    ReferenceScanner,
    Target,
    apply_hits,
    is_history_file,
    is_own_report,
    scan_kind,
)
from qdrant_ops.code.cleanup.report import CleanupReport, Examined, ReferenceItem
from qdrant_ops.code.cleanup.requirements import pyproject_still_valid, remove_entries
from qdrant_ops.code.cleanup.scripts import under
from qdrant_ops.code.cleanup.select import choose_files
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.code.index import RepoIndex
from qdrant_ops.code.textfiles import TextFile, read_text, repo_files

log = logging.getLogger(__name__)


@dataclass
class Move:
    source: str
    destination: str
    kind: str  # "script" or "helper"
    reason: str


@dataclass
class Plan:
    moves: list[Move] = field(default_factory=list)
    texts: dict[str, tuple[TextFile, str]] = field(default_factory=dict)  # rel -> (file, new text)
    archive_lines: list[str] = field(default_factory=list)
    live: LiveCode = field(default_factory=LiveCode)

    def changed(self) -> dict[str, tuple[TextFile, str]]:
        return {k: v for k, v in sorted(self.texts.items()) if v[0].text != v[1]}


def unified_diff(rel: str, old: str, new: str, *, created: bool = False) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile="/dev/null" if created else f"a/{rel}",
            tofile=f"b/{rel}",
        )
    )


def _dotted(rel: str) -> str | None:
    parts = list(PurePosixPath(rel[:-3] if rel.endswith(".py") else rel).parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def choose(config: CleanupConfig, root: Path, index: RepoIndex, texts: Texts,
           archive_dir: str, report: CleanupReport) -> Plan:
    """The scripts and helpers to move, with the reason for each."""
    scripts, reasons, helpers, live = choose_files(config, root, index, texts, archive_dir, report)
    plan = Plan(live=live)
    plan.moves = [Move(s, f"{archive_dir}/{s}", "script", reasons[s]) for s in scripts]
    plan.moves += [Move(h, f"{archive_dir}/{h}", "helper", r) for h, r in helpers.moved.items()]
    return plan


def _targets(plan: Plan, index: RepoIndex, archive_dir: str) -> list[Target]:
    importable = all(part.isidentifier() for part in archive_dir.split("/"))
    out = []
    for mv in plan.moves:
        names = [n for n in index.names_for_path(mv.source) if "." in n or "/" not in mv.source]
        # ``python -m pkg`` runs ``pkg/__main__.py``
        names += [n[: -len(".__main__")] for n in names if n.endswith(".__main__")]
        out.append(
            Target(
                old=mv.source,
                new=mv.destination,
                modules=tuple(dict.fromkeys(names)),
                new_module=_dotted(mv.destination) if importable else None,
                runnable_as_path=not any(r.relative for r in index.imports_of(mv.source)),
            )
        )
    return out


Action = Literal["rewritten", "reported", "unhandled"]


def _action(h: Hit, frozen: bool, config: CleanupConfig, rel: str) -> tuple[Action, str]:
    if h.replacement is None:
        return ("unhandled" if h.kind in ("entry-point", "module") else "reported"), h.note
    if frozen:
        return "reported", "inside a file being archived, which keeps its bytes"
    if is_history_file(rel):
        return "reported", "a changelog records the past; left as written"
    if config.references == "report":
        return "reported", h.note or "--references report"
    return "rewritten", h.note


def find_references(plan: Plan, config: CleanupConfig, root: Path, index: RepoIndex,
                    files: list[str], archive_dir: str, report: CleanupReport) -> None:
    """Scan every text file; record each reference and the rewritten text."""
    scanner = ReferenceScanner(_targets(plan, index, archive_dir),
                               Counter(PurePosixPath(f).name for f in files))
    moving = {m.source for m in plan.moves}
    for rel in files:
        if under(rel, archive_dir):
            continue
        kind = scan_kind(root, rel)
        if kind is None:
            continue
        tf = read_text(root / rel)
        if tf is None:
            report.examined.append(Examined(path=rel, decision="skipped: binary, unreadable or over 2 MiB"))
            continue
        if is_own_report(tf.text):
            report.examined.append(Examined(path=rel, decision="skipped: a qdrant-ops report, left as written"))
            continue
        hits = scanner.scan(rel, tf.text, kind, line_dirs(root, rel, tf.text, kind))
        hits = _with_app_refs(plan, rel, tf.text, hits, moving)
        rewrite: list[Hit] = []
        for h in hits:
            action, reason = _action(h, rel in moving, config, rel)
            if action == "rewritten":
                rewrite.append(h)
            report.references.append(ReferenceItem(
                file=rel, line=h.line, column=h.column, kind=h.kind, target=h.target, text=h.text,
                action=action, replacement=h.replacement if action == "rewritten" else None,
                reason=reason))
            if action == "unhandled":
                report.problem(rel, f"reference to {h.target}: {reason}", h.line)
        plan.texts[rel] = (tf, apply_hits(tf.text, rewrite) if rewrite else tf.text)
        if rel in moving:
            decision = "archived"
        elif hits:
            decision = f"{len(rewrite)} reference(s) rewritten, {len(hits) - len(rewrite)} reported"
        else:
            decision = f"{kind} file: no reference to an archived script"
        report.examined.append(Examined(path=rel, decision=decision))


def _with_app_refs(plan: Plan, rel: str, text: str, hits: list[Hit], moving: set[str]) -> list[Hit]:
    """Add each ``module:attr`` start of a module that moves (only ``--force`` moves one)."""
    taken = {h.start for h in hits}
    for ref, paths in plan.live.refs:
        gone = [p for p in paths if p in moving]
        if ref.file != rel or rel in moving or not gone or ref.start in taken:
            continue
        col = ref.start - (text.rfind("\n", 0, ref.start) + 1) + 1
        hits.append(Hit(rel, ref.start, ref.end, ref.line, col, "entry-point", gone[0], ref.text,
                        None, f"starts the archived module as an application (`{ref.spec}`); "
                        "repoint or remove it by hand"))
    return sorted(hits, key=lambda h: h.start)


def prune_requirements(plan: Plan, config: CleanupConfig, root: Path, index: RepoIndex,
                       files: list[str], archive_dir: str, report: CleanupReport) -> None:
    """Decide the requirement removals and the archive's own requirements."""
    moving = {m.source for m in plan.moves}

    def text_of(rel: str) -> str | None:
        if rel in plan.texts:
            return plan.texts[rel][1]
        if under(rel, archive_dir) or rel in moving or not (root / rel).is_file():
            return None
        tf = read_text(root / rel)
        if tf is None:
            return None
        plan.texts[rel] = (tf, tf.text)
        return tf.text

    candidates = [f for f in files if not under(f, archive_dir) and f not in moving]
    req_files = find_requirement_files(candidates, text_of)
    archived = third_party_imports(index, [m.source for m in plan.moves if m.source in index.files])
    remaining = third_party_imports(index, [f for f in index.files if f not in moving])
    texts = {rel: (k, new) for rel, (_, new) in plan.texts.items()
             if rel not in moving and (k := scan_kind(root, rel)) is not None}
    result = plan_prune(req_files, archived, remaining, texts,
                        allow=(*DEFAULT_ALLOW_LIST, *config.allow_list), import_map=config.import_map)
    plan.archive_lines = result.archive_lines
    for p in result.problems:
        report.problem(p.split(":", 1)[0], p)
    if not config.prune_requirements:
        report.requirements_kept = result.kept + [
            item.model_copy(update={"reason": "pruning is off; would remove: " + item.reason})
            for item in result.removed]
        return
    removed = list(result.removed)
    for rel, entries in result.removals.items():
        tf, current = plan.texts[rel]
        new = remove_entries(current, entries, pyproject=rel.endswith("pyproject.toml"))
        if rel.endswith(".toml") and not pyproject_still_valid(new):
            report.problem(rel, "removing its dependencies would break the TOML; left as is")
            removed = [r for r in removed if r.file != rel]
            continue
        plan.texts[rel] = (tf, new)
    report.requirements_removed = removed
    report.requirements_kept = result.kept
    for rf in req_files:
        gone = sum(1 for r in removed if r.file == rf.rel)
        report.examined.append(Examined(path=rf.rel, decision=f"{rf.kind}: {len(rf.entries)} "
                                        f"entries, {gone} removed"))


def build_plan(config: CleanupConfig, root: Path, archive_dir: str, report: CleanupReport) -> Plan:
    exclude = tuple(config.exclude)
    files = repo_files(root, exclude)
    index = RepoIndex.build(root, exclude=(*exclude, archive_dir))
    for rel, err in index.parse_errors.items():
        report.examined.append(Examined(path=rel, decision=f"python file that does not parse: {err}"))
    texts = Texts(root, [f for f in files if not under(f, archive_dir)])
    plan = choose(config, root, index, texts, archive_dir, report)
    if not plan.moves:
        return plan
    find_references(plan, config, root, index, files, archive_dir, report)
    prune_requirements(plan, config, root, index, files, archive_dir, report)
    return plan
