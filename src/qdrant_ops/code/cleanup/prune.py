"""Which requirements the archive makes unnecessary.

A declared dependency is removed only when archived code imported it and no remaining code does,
it is not on the allow-list (packages used at run time and never imported), no remaining command
file names it or one of its commands (a Dockerfile's ``gunicorn``), no pip-compile ``# via``
annotation says another package needs it, and, in a hash-checked file, no remaining dependency
requires it. Every decision about a dependency archived code used is reported with its reason.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from qdrant_ops.code.cleanup import distributions as dists
from qdrant_ops.code.cleanup.report import RequirementItem
from qdrant_ops.code.cleanup.requirements import (
    Entry,
    ReqFile,
    is_requirements_name,
    parse_pyproject,
    parse_requirements,
    via_packages,
)
from qdrant_ops.code.index import RepoIndex

_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
_LOCK_NAMES = re.compile(r"(\.lock|-lock\.json|lock\.ya?ml)$", re.IGNORECASE)
_COMMAND_KINDS = frozenset({"shell", "powershell", "batch", "make", "docker", "yaml", "config", "python"})


@dataclass(frozen=True)
class ImportUse:
    module: str
    file: str
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line} (import {self.module})"


@dataclass
class PrunePlan:
    files: list[ReqFile] = field(default_factory=list)
    removals: dict[str, list[Entry]] = field(default_factory=dict)
    removed: list[RequirementItem] = field(default_factory=list)
    kept: list[RequirementItem] = field(default_factory=list)
    archive_lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def third_party_imports(index: RepoIndex, files: Iterable[str]) -> list[ImportUse]:
    out = []
    for rel in files:
        for ref in index.imports_of(rel):
            if ref.relative or ref.local_path is not None or not ref.module:
                continue
            if ref.root in _STDLIB or index.resolve(ref.root, rel) is not None:
                continue
            out.append(ImportUse(ref.module, rel, ref.lineno))
    return out


def find_requirement_files(
    files: Iterable[str], text_of: Callable[[str], str | None]
) -> list[ReqFile]:
    """Every requirements file (following -r/-c includes) and every pyproject.toml."""
    names = list(files)
    found: dict[str, ReqFile] = {}
    queue: list[tuple[str, str]] = [(n, "requirements") for n in names if is_requirements_name(n)]
    while queue:
        rel, kind = queue.pop(0)
        if rel in found:
            continue
        text = text_of(rel)
        if text is None:
            continue
        rf = parse_requirements(rel, text, kind)
        found[rel] = rf
        for inc in rf.includes:
            tag, target = inc.split(":", 1)
            queue.append((target, "constraints" if tag == "c" else "requirements"))
    for rel in names:
        if PurePosixPath(rel).name == "pyproject.toml":
            text = text_of(rel)
            if text is not None:
                found[rel] = parse_pyproject(rel, text)
    return [found[k] for k in sorted(found)]


def _mask(text: str, entries: Iterable[Entry]) -> str:
    chars = list(text)
    for e in entries:
        for i in range(e.start, min(e.end, len(chars))):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


def _mentions(
    commands: set[str],
    modules: set[str],
    texts: Mapping[str, tuple[str, str]],
    masks: Mapping[str, list[Entry]],
) -> str | None:
    """``file:line`` of the first remaining command file that runs one of ``commands`` (a word on
    its own: ``gunicorn app:app``, ``pip install httpx``) or ``python -m`` one of ``modules``."""
    pats: list[str] = []
    py_pats: list[str] = []
    if commands:
        alt = "|".join(re.escape(w) for w in sorted(commands, key=len, reverse=True))
        pats.append(rf"(?:^|(?<=[\s\"'`(=;&|,\[]))(?:{alt})(?=$|[\s\"'`);&|,\]<>=!~\[])")
        py_pats.append(rf"[\"'](?:{alt})(?=[\"'\s])")
    if modules:
        alt = "|".join(re.escape(w) for w in sorted(modules, key=len, reverse=True))
        dash_m = rf"-m(?:\s+|[\"']\s*,\s*[\"'])(?:{alt})(?![\w])"
        pats.append(dash_m)
        py_pats.append(dash_m)
    if not pats:
        return None
    flags = re.IGNORECASE | re.MULTILINE
    pattern, py_pattern = re.compile("|".join(pats), flags), re.compile("|".join(py_pats), flags)
    for rel, (kind, text) in sorted(texts.items()):
        if kind not in _COMMAND_KINDS or is_requirements_name(rel) or _LOCK_NAMES.search(rel):
            continue
        body = _mask(text, masks.get(rel, []))
        m = (py_pattern if kind == "python" else pattern).search(body)
        if m:
            return f"{rel}:{body.count(chr(10), 0, m.start()) + 1}"
    return None


def _closure(start: set[str]) -> set[str]:
    seen = set(start)
    stack = list(start)
    while stack:
        for dep in dists.requires_of(stack.pop()):
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def plan_prune(
    req_files: list[ReqFile],
    archived: list[ImportUse],
    remaining: list[ImportUse],
    texts: Mapping[str, tuple[str, str]],
    *,
    allow: Iterable[str],
    import_map: Mapping[str, Iterable[str]] | None = None,
) -> PrunePlan:
    plan = PrunePlan(files=req_files)
    allow = list(allow)
    arch_map = {u: dists.distributions_for(u.module, import_map) for u in archived}
    rest_map = {u: dists.distributions_for(u.module, import_map) for u in remaining}
    all_entries = [e for rf in req_files for e in rf.entries]
    masks: dict[str, list[Entry]] = {}
    for e in all_entries:
        masks.setdefault(e.file, []).append(e)
    decisions: dict[str, tuple[bool, str]] = {}
    for e in all_entries:
        if e.name in decisions:
            continue
        users = [u for u, ds in arch_map.items() if e.name in ds]
        if not users:
            continue
        still = [u for u, ds in rest_map.items() if e.name in ds]
        if still:
            decisions[e.name] = (False, "still imported by " + ", ".join(u.where() for u in still[:3]))
        elif dists.is_allowed(e.name, allow):
            decisions[e.name] = (False, "on the allow-list (used at run time without an import)")
        else:
            commands = {e.name, *dists.console_scripts(e.name)}
            modules = {u.module.split(".")[0] for u in users}
            where = _mentions(commands, modules, texts, masks)
            if where:
                decisions[e.name] = (False, f"remaining code names it: {where}")
            else:
                decisions[e.name] = (True, "imported only by archived code: "
                                     + ", ".join(u.where() for u in users[:3]))
    hashed_keep = _hash_checked_needs(all_entries, decisions)
    for rf in req_files:
        for e in rf.entries:
            if e.name not in decisions:
                continue
            remove, reason = decisions[e.name]
            if remove and rf.kind == "constraints":
                remove, reason = False, "a constraints file pins what other packages pull in; left as is"
            if remove and via_packages(e):
                remove, reason = False, "required by " + ", ".join(via_packages(e)) + " (# via)"
            if remove and e.hashed and e.name in hashed_keep:
                remove, reason = False, f"hash-checked file: {hashed_keep[e.name]} requires it"
            item = RequirementItem(file=e.file, line=e.line, requirement=e.text,
                                   distribution=e.name, reason=reason)
            if remove:
                plan.removals.setdefault(e.file, []).append(e)
                plan.removed.append(item)
            else:
                plan.kept.append(item)
    plan.archive_lines = _archive_lines(archived, arch_map, all_entries)
    for rf in req_files:
        plan.problems.extend(rf.problems)
    return plan


def _hash_checked_needs(entries: list[Entry], decisions: dict[str, tuple[bool, str]]) -> dict[str, str]:
    """Candidates that a remaining dependency of a hash-checked file requires (installed metadata)."""
    out: dict[str, str] = {}
    if not any(e.hashed and decisions.get(e.name, (False, ""))[0] for e in entries):
        return out
    staying = {e.name for e in entries if e.hashed and not decisions.get(e.name, (False, ""))[0]}
    for name in sorted(staying):
        for dep in _closure({name}) - {name}:
            out.setdefault(dep, name)
    return out


def _archive_lines(
    archived: list[ImportUse], arch_map: Mapping[ImportUse, set[str]], entries: list[Entry]
) -> list[str]:
    lines: dict[str, str] = {}
    entries = sorted(entries, key=lambda e: bool(e.group))  # requirements files pin; prefer them
    for use in archived:
        names = arch_map[use]
        match = next((e for e in entries if e.name in names), None)
        if match is not None:
            lines.setdefault(match.name, match.text)
            continue
        installed = None
        for name in sorted(names):
            try:
                installed = (name, md.version(name))
                break
            except md.PackageNotFoundError:
                continue
        root = use.module.split(".")[0]
        if installed:
            lines.setdefault(installed[0], f"{installed[0]}  # not declared by the project; "
                                           f"{installed[1]} was installed when archived")
        else:
            lines.setdefault(f"?{root}", f"# {root}: imported by {use.file}; distribution unknown")
    return list(lines.values())
