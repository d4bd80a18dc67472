"""Plan a consolidation: which duplicates go, which are blocked and why, and every file's new text.

Computing the plan writes nothing; ``--dry-run`` and ``--list`` stop here.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import libcst as cst

from qdrant_ops.code.consolidate.clients import ClientModule, dunder_all, module_bindings, scan_repository
from qdrant_ops.code.consolidate.codemods.merge_definitions import merge_missing
from qdrant_ops.code.consolidate.codemods.redirect_imports import Change, redirect_file
from qdrant_ops.code.consolidate.codemods.text_references import TextRedirect, rewrite_files, script_files
from qdrant_ops.code.consolidate.duplicates import Group, find_groups
from qdrant_ops.code.consolidate.usage import Usage, find_usage
from qdrant_ops.code.index import QDRANT_PACKAGE_NAMES, RepoIndex
from qdrant_ops.code.pyfile import defined_names

log = logging.getLogger(__name__)

# What the real package offers at its top level: a shadowing module's importers keep these.
REAL_PACKAGE_NAMES = QDRANT_PACKAGE_NAMES
# Names a shadow without a twin is renamed to, first free one in its folder (owners chose these).
RENAME_STEMS = ("qdrant_utils", "qdrant_helpers", "qdrant_client_local")


@dataclass
class Decision:
    """What happens to one duplicate (or shim) of a group."""

    duplicate: str
    canonical: str
    role: str
    score: float
    used: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    blocked: str | None = None


@dataclass
class FileEdit:
    rel: str
    old: bytes
    new: bytes | None  # None: the file is removed
    changes: list[Change] = field(default_factory=list)
    created: bool = False  # the plan creates it (a renamed shadow): undoing deletes it

    def diff(self) -> str:
        a = self.old.decode("utf-8", errors="replace").splitlines(keepends=True)
        b = [] if self.new is None else self.new.decode("utf-8", errors="replace").splitlines(keepends=True)
        to = "/dev/null" if self.new is None else f"b/{self.rel}"
        frm = "/dev/null" if self.created else f"a/{self.rel}"
        lines = list(difflib.unified_diff(a, b, frm, to))
        return "".join(x if x.endswith("\n") else x + "\n\\ No newline at end of file\n" for x in lines)


@dataclass
class Plan:
    index: RepoIndex
    clients: dict[str, ClientModule]
    groups: list[Group]
    decisions: list[Decision]
    edits: dict[str, FileEdit]
    explain: list[str]
    usages: dict[str, Usage] = field(default_factory=dict)
    shadow_notes: dict[str, str] = field(default_factory=dict)
    renames: list[tuple[str, str, str]] = field(default_factory=list)  # (old, new, why)

    @property
    def created(self) -> list[str]:
        return sorted(r for r, e in self.edits.items() if e.created)

    @property
    def removed(self) -> list[str]:
        return sorted(r for r, e in self.edits.items() if e.new is None)

    @property
    def changed(self) -> list[str]:
        return sorted(r for r, e in self.edits.items() if e.new is not None)


def _needed(index: RepoIndex, usage: Usage, dup: str) -> dict[str, list[str]]:
    used = {k: list(v) for k, v in usage.names.items()}
    if usage.star:
        module = index.files[dup].module
        if module is not None:
            names = dunder_all(module) or [n for n in module_bindings(module) if not n.startswith("_")]
            for n in names:
                used.setdefault(n, []).extend(usage.star)
    return used


def _empty_packages(index: RepoIndex, root: Path, removed: set[str]) -> list[str]:
    """``__init__.py`` files of packages that hold nothing else once ``removed`` are gone."""
    out: list[str] = []
    dirs = sorted({str(PurePosixPath(r).parent) for r in removed}, key=lambda d: -d.count("/"))
    gone = set(removed)
    for d in dirs:
        while d not in ("", "."):
            init = f"{d}/__init__.py"
            if init not in index.files or init in gone:
                break
            module = index.files[init].module
            trivial = module is not None and all(
                isinstance(s, cst.SimpleStatementLine)
                and all(isinstance(x, (cst.Pass, cst.Expr)) for x in s.body)
                for s in module.body
            )
            others = [
                p for p in (root / d).iterdir()
                if p.name not in ("__init__.py", "__pycache__") and f"{d}/{p.name}" not in gone
            ]
            if not trivial or others:
                break
            out.append(init)
            gone.add(init)
            d = str(PurePosixPath(d).parent)
    return out


def build_plan(
    root: Path,
    *,
    exclude: Sequence[str] = (),
    canonical: Sequence[str] = (),
    merge: bool = False,
    min_similarity: float = 0.6,
    tracked: Sequence[str] | None = None,
) -> Plan:
    index = RepoIndex.build(root, exclude)
    clients = scan_repository(index)
    groups, _ = find_groups(index, clients, min_similarity=min_similarity, canonical=canonical)
    explain: list[str] = []
    for rel, c in sorted(clients.items()):
        if "lookalike" in c.kinds:
            explain.append(f"{rel}: defines {', '.join(c.lookalikes)} on something other than qdrant_client; left alone")
        if c.shadows:
            explain.append(f"{rel}: shadows the real qdrant_client package: {shadow_note(index, c)}; never canonical")
    decisions: list[Decision] = []
    redirects: dict[str, str] = {}
    stay: dict[str, set[str]] = {}
    merges: dict[str, list[tuple[str, list[str]]]] = {}
    usages: dict[str, Usage] = {}
    renames: dict[str, dict[str, str]] = {}
    for g in groups:
        explain.append(f"group of {g.canonical}: canonical because {g.reason}")
        usages[g.canonical] = find_usage(index, g.canonical)
        can_module = index.files[g.canonical].module
        have = set(module_bindings(can_module)) if can_module is not None else set()
        for member in g.duplicates:
            d = Decision(member.rel, g.canonical, member.role, member.score)
            usage = usages[member.rel] = find_usage(index, member.rel)
            d.used = _needed(index, usage, member.rel)
            delegates = clients[member.rel].delegates if member.rel in clients else {}
            keep_real = {n for n in d.used if n in REAL_PACKAGE_NAMES} if clients[member.rel].shadows else set()
            d.missing = sorted(n for n in d.used if delegates.get(n, n) not in have and n not in keep_real)
            as_object = [f"{f}:{ref.lineno}" for f, ref in index.importers_of(member.rel)
                         if f != member.rel and (not ref.names or member.rel in ref.submodules.values())]
            if delegates and as_object:
                d.blocked = (f"its functions are renamed in {g.canonical} and {', '.join(as_object[:3])} "
                             "import it as a module object; point those at the canonical module by hand")
            elif any(ref.local_path == member.rel or member.rel in ref.submodules.values()
                   for ref in index.imports_of(g.canonical)):
                d.blocked = "the canonical module imports from it; merge them by hand"
            elif d.missing and not merge:
                where = "; ".join(f"{n} ({', '.join(d.used[n][:3])})" for n in d.missing)
                d.blocked = f"the canonical module lacks {where}; rerun with --merge-missing to copy them"
            elif d.missing:
                d.merged = list(d.missing)
                merges.setdefault(g.canonical, []).append((member.rel, d.missing))
            if d.blocked:
                explain.append(f"{member.rel}: blocked: {d.blocked}")
            else:
                redirects[member.rel] = g.canonical
                if delegates:
                    renames[member.rel] = {k: v for k, v in delegates.items() if k != v}
                if keep_real:
                    stay[member.rel] = keep_real
                explain.append(
                    f"{member.rel} ({member.role}, score {member.score:.2f}) -> {g.canonical}: "
                    f"importers use {', '.join(sorted(d.used)) or 'nothing'}"
                )
            decisions.append(d)
    grouped = {m.rel for g in groups for m in g.members}
    new_names: dict[str, str] = {}
    created: dict[str, bytes] = {}
    moves: list[tuple[str, str, str]] = []
    for rel, c in sorted(clients.items()):
        if not c.shadows or rel in grouped or not rel.endswith(".py") or rel.endswith("__init__.py"):
            continue
        if c.parse_error:
            explain.append(f"{rel}: shadows qdrant_client but does not parse; fix it, then rename it "
                           "(consolidate-clients proposes the rename once it parses)")
            continue
        target = _rename_target(index, root, rel)
        if target is None:
            explain.append(f"{rel}: shadows qdrant_client and no free name to rename it to; rename it by hand")
            continue
        new_rel, new_name = target
        why = (f"it shadows the installed qdrant_client package ({shadow_note(index, c)}) and no "
               "module that does not shadow duplicates it; renamed, with every importer of its own names "
               "pointed at the new name")
        redirects[rel] = new_rel
        new_names[new_rel] = new_name
        created[new_rel] = index.files[rel].raw
        own = defined_names(index.files[rel].module, index.files[rel].source)
        real = {n for n in REAL_PACKAGE_NAMES if n not in own}
        if real:
            stay[rel] = real
        moves.append((rel, new_rel, why))
        explain.append(f"{rel} -> {new_rel}: {why}")
    edits: dict[str, FileEdit] = {}
    if redirects:
        for rel, f in index.files.items():
            if rel in redirects or f.module is None:
                continue
            code, changes = redirect_file(index, rel, redirects, stay, new_names, renames)
            if changes:
                edits[rel] = FileEdit(rel, f.raw, code.encode(f.module.encoding), changes)
    for can, items in merges.items():
        f = index.files[can]
        base = cst.parse_module(edits[can].new or b"") if can in edits else f.module
        changes = list(edits[can].changes) if can in edits else []
        text = f.source
        for dup, names in items:
            result = merge_missing(index, dup, can, names, base)
            text = result.code
            base = cst.parse_module(text)
            for name in result.copied:
                changes.append(Change(0, "merged", f"{dup}:{name}", f"{can}:{name}"))
        encoding = f.module.encoding if f.module is not None else "utf-8"
        edits[can] = FileEdit(can, f.raw, text.encode(encoding), changes)
    removed = set(redirects)
    removed.update(_empty_packages(index, root, removed))
    for rel in sorted(removed):
        edits[rel] = FileEdit(rel, index.files[rel].raw, None)
    for rel, raw in created.items():
        edits[rel] = FileEdit(rel, b"", raw, created=True)
    text_redirects = [
        TextRedirect(
            tuple(index.names_for_path(old)), new_names.get(new) or index.module_for_path(new) or "", old, new
        )
        for old, new in redirects.items()
    ]
    if text_redirects:
        files = script_files(root, tracked)
        for rel, (raw, new_text, changes) in rewrite_files(root, files, text_redirects).items():
            edits[rel] = FileEdit(rel, raw, new_text.encode("utf-8"), changes)
    notes = {rel: shadow_note(index, c) for rel, c in clients.items() if c.shadows}
    return Plan(index, clients, groups, decisions, edits, explain, usages, notes, moves)


def shadow_note(index: RepoIndex, c: ClientModule) -> str:
    """Why ``c`` is a shadow: who Python points at it instead of the installed package."""
    parts = []
    if c.shadow_breaks:
        parts.append(f"Python loads it for {', '.join(c.shadow_breaks[:5])}, which mean the installed "
                     "package (they fail with a circular or missing-name ImportError)")
    if c.shadow_uses:
        parts.append(f"{', '.join(c.shadow_uses[:5])} import its own names under the package's name")
    if not parts and index.imports_itself(c.rel):
        parts.append("it imports qdrant_client itself, so run or imported from its folder it loads itself")
    if c.parse_error:
        parts.append(f"it does not parse ({c.parse_error})")
    return "; ".join(parts)


def _rename_target(index: RepoIndex, root: Path, rel: str) -> tuple[str, str] | None:
    """A free file name beside ``rel`` and its dotted name, for a shadow with no twin."""
    folder = str(PurePosixPath(rel).parent)
    folder = "" if folder == "." else folder
    base = (index.module_for_path(rel) or "").rpartition(".")[0]
    for stem in RENAME_STEMS:
        new_rel = f"{folder}/{stem}.py" if folder else f"{stem}.py"
        if (root / new_rel).exists() or (root / new_rel[:-3]).exists():
            continue
        name = f"{base}.{stem}" if base else stem
        if index.resolve(name) is None:
            return new_rel, name
    return None
