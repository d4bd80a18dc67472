"""What is legacy: scripts named by path or glob, scripts ``--detect`` proposes, and the helper
modules that only those scripts import.

A detected candidate is a Python file that has a ``__main__`` entry, that no other file imports,
and that talks to Qdrant directly (imports ``qdrant_client``, or calls a Qdrant port over HTTP).
Tests, packaging files and modules named by an entry point are never candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from qdrant_ops.code.cleanup.live import means_package
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.code.index import ImportRef, RepoIndex
from qdrant_ops.errors import NotFoundError, UsageError

_GLOB_CHARS = re.compile(r"[*?\[]")
_QDRANT_HTTP = re.compile(r"""(?:https?://[^\s'"]*:633[34]\b|\bport\s*=\s*633[34]\b|:633[34]/collections)""")
_COLLECTIONS_URL = re.compile(r"""["'][^"'\n]*/collections(?:/|["'])""")
_HTTP_CLIENTS = ("requests", "httpx", "aiohttp", "urllib3", "urllib.request", "http.client")
_NEVER_SCRIPTS = frozenset({"setup.py", "conftest.py", "noxfile.py", "__init__.py", "__main__.py",
                            "manage.py", "fabfile.py", "tasks.py"})
_ENTRY_POINT = re.compile(r"""(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*:\s*[A-Za-z_]\w*""")


@dataclass
class Candidate:
    path: str
    reasons: list[str]


@dataclass
class HelperPlan:
    moved: dict[str, str] = field(default_factory=dict)  # path -> reason
    kept: dict[str, str] = field(default_factory=dict)


def posix_rel(root: Path, value: str, what: str) -> str:
    """``value`` (relative to ``root`` or absolute inside it) as a clean POSIX relative path."""
    raw = value.replace("\\", "/")
    p = Path(raw)
    if p.is_absolute():
        try:
            raw = p.resolve().relative_to(root).as_posix()
        except ValueError:
            raise UsageError(f"{what} {value!r} is outside the repository {root}") from None
    parts = [x for x in PurePosixPath(raw).parts if x != "."]
    if ".." in parts:
        raise UsageError(f"{what} {value!r} leaves the repository")
    return "/".join(parts)


def resolve_repo(config: CleanupConfig) -> tuple[Path, str]:
    """The repository root and the archive directory relative to it."""
    root = Path(config.repo).expanduser().resolve()
    if not root.is_dir():
        raise NotFoundError(f"repository directory not found: {config.repo}")
    archive_dir = posix_rel(root, config.archive_path, "archive path")
    if not archive_dir:
        raise UsageError("the archive path cannot be the repository root")
    return root, archive_dir


def under(rel: str, directory: str) -> bool:
    return bool(directory) and (rel == directory or rel.startswith(directory.rstrip("/") + "/"))


def is_test_file(rel: str) -> bool:
    p = PurePosixPath(rel)
    name = p.name
    return (
        any(part in ("tests", "test", "testing") for part in p.parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
    )


def select_scripts(
    root: Path, patterns: Sequence[str], files: Iterable[str], archive_dir: str
) -> tuple[list[str], list[str]]:
    """Python files named by paths, directories or globs: (selected, problems)."""
    known = {f for f in files if f.endswith((".py", ".pyw"))}
    selected: dict[str, None] = {}
    problems: list[str] = []
    for pattern in patterns:
        rel = posix_rel(root, pattern, "script")
        if _GLOB_CHARS.search(rel):
            matches = sorted(p.relative_to(root).as_posix() for p in root.glob(rel) if p.is_file())
            hits = [m for m in matches if m in known]
            if not hits:
                problems.append(f"pattern {pattern!r} matched no Python file")
        elif (root / rel).is_dir():
            prefix = f"{rel}/" if rel else ""
            hits = sorted(f for f in known if f.startswith(prefix))
            if not hits:
                problems.append(f"directory {pattern!r} holds no Python file")
        elif (root / rel).is_file():
            if not rel.endswith((".py", ".pyw")):
                raise UsageError(f"{pattern!r} is not a Python script (.py)")
            hits = [rel]
        else:
            raise NotFoundError(f"script {pattern!r} not found in {root}")
        for h in hits:
            if under(h, archive_dir):
                problems.append(f"{h} is already in the archive directory")
                continue
            selected.setdefault(h, None)
    return list(selected), problems


def entry_point_modules(root: Path) -> set[str]:
    """Modules that packaging metadata names as entry points (``pkg.cli:main``)."""
    out: set[str] = set()
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        path = root / name
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            out.update(m.group(1) for m in _ENTRY_POINT.finditer(text))
    return out


def qdrant_reasons(index: RepoIndex, rel: str) -> list[str]:
    """Why a file talks to Qdrant directly (empty when it does not)."""
    reasons: list[str] = []
    imported = [r for r in index.imports_of(rel) if r.local_path is None and not r.relative]
    for ref in imported:
        if ref.root == "qdrant_client":
            reasons.append(f"imports qdrant_client (line {ref.lineno})")
            break
    source = index.files[rel].source
    m = _QDRANT_HTTP.search(source)
    uses_http = any(r.module == c or r.module.startswith(c + ".") for r in imported for c in _HTTP_CLIENTS)
    if m is None and uses_http:
        m = _COLLECTIONS_URL.search(source)
    if m is not None and (uses_http or "qdrant" in source.lower()):
        line = source.count("\n", 0, m.start()) + 1
        reasons.append(f"makes HTTP calls to Qdrant (line {line}: {m.group(0).strip(chr(34) + chr(39))})")
    return reasons


def detect_candidates(index: RepoIndex, root: Path, archive_dir: str) -> list[Candidate]:
    """Scripts with a ``__main__`` entry that nothing imports and that talk to Qdrant directly."""
    entry = entry_point_modules(root)
    out: list[Candidate] = []
    for rel in sorted(index.files):
        if under(rel, archive_dir) or PurePosixPath(rel).name in _NEVER_SCRIPTS or is_test_file(rel):
            continue
        if not index.has_main_guard(rel):
            continue
        if any(name in entry for name in index.names_for_path(rel)):
            continue
        importers = [r for r, _ in index.importers_of(rel) if r != rel]
        if importers:
            continue
        talks = qdrant_reasons(index, rel)
        if not talks:
            continue
        out.append(Candidate(rel, ["has a `__main__` entry", "imported by no other file", *talks]))
    return out


def import_targets(index: RepoIndex, ref: ImportRef) -> list[str]:
    """The repository files an import loads; none for an import that means the real
    ``qdrant_client`` package although a local ``qdrant_client.py`` shadows it."""
    if means_package(index, ref):
        return []
    return [t for t in (ref.local_path, *ref.submodules.values()) if t]


def users_map(index: RepoIndex) -> dict[str, set[str]]:
    """File -> files that import it (importing ``a.b.c`` also runs ``a`` and ``a.b``)."""
    users: dict[str, set[str]] = {}
    for rel in index.files:
        for ref in index.imports_of(rel):
            targets = set(import_targets(index, ref))
            for t in list(targets):
                d = PurePosixPath(t).parent
                while str(d) not in (".", ""):
                    init = f"{d}/__init__.py"
                    if init in index.files:
                        targets.add(init)
                    d = d.parent
            for t in targets:
                if t != rel:
                    users.setdefault(t, set()).add(rel)
    return users


def remaining_importers(index: RepoIndex, rel: str, moving: set[str]) -> tuple[list[str], list[str]]:
    """``file:line`` of every import of ``rel`` from a file that is not moving: (those that use
    it, those that mean the ``qdrant_client`` package it shadows)."""
    users: set[str] = set()
    package: set[str] = set()
    for r, ref in index.importers_of(rel):
        if r in moving or r == rel:
            continue
        (package if means_package(index, ref) else users).add(f"{r}:{ref.lineno}")
    return sorted(users), sorted(package)


def plan_helpers(index: RepoIndex, scripts: set[str], live: dict[str, str] | None = None) -> HelperPlan:
    """Local modules the scripts import: moved when only moving code imports them, and nothing
    live (an entry point, a file a command runs: ``live`` maps it to the reason) needs them."""
    live = live or {}
    users = users_map(index)
    reach: set[str] = set()
    stack = list(scripts)
    while stack:
        rel = stack.pop()
        for ref in index.imports_of(rel):
            for t in import_targets(index, ref):
                if t not in scripts and t not in reach:
                    reach.add(t)
                    stack.append(t)
    plan = HelperPlan()
    moving = set(reach)
    changed = True
    while changed:
        changed = False
        for rel in sorted(moving):
            outside = sorted(u for u in users.get(rel, set()) if u not in moving and u not in scripts)
            reason = ""
            if rel in live:
                reason = live[rel]
            elif outside:
                reason = "imported by remaining code: " + ", ".join(outside[:5])
            elif is_test_file(rel) or PurePosixPath(rel).name in ("conftest.py", "setup.py"):
                reason = "a test or packaging file"
            elif PurePosixPath(rel).name == "__init__.py":
                pkg = str(PurePosixPath(rel).parent)
                rest = [f for f in index.files if f.startswith(pkg + "/") and f not in moving | scripts]
                if rest:
                    reason = f"package __init__ of {pkg}, which keeps {len(rest)} other module(s)"
            if reason:
                moving.discard(rel)
                plan.kept[rel] = reason
                changed = True
    for rel in sorted(moving):
        importers = sorted(u for u in users.get(rel, set()))
        plan.moved[rel] = "imported only by archived code: " + ", ".join(importers[:5])
    # Report as kept only what moving code imports directly, not everything reachable behind it.
    direct = {t for rel in scripts | moving for ref in index.imports_of(rel)
              for t in import_targets(index, ref)}
    plan.kept = {k: v for k, v in plan.kept.items() if k in direct}
    return plan
