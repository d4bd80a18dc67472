"""Parse a repository once and answer: which module is this file, what does it import, who imports it.

Module names are resolved the way Python would resolve them when the project runs:

- **import roots** ("explicit"): the repository root, every ``src`` directory, every directory
  holding a ``pyproject.toml``/``setup.py``/``setup.cfg`` and the package directories those files
  declare (setuptools ``where``/``package-dir``, Poetry ``from``, Hatch ``packages``, pytest
  ``pythonpath``). Directories between a root and a regular package are namespace packages.
- **package bases** ("implicit"): the parent of every top-level regular package (a directory
  with ``__init__.py``), visible to code below that parent (a service run from its own folder).
- **script directories**: a file outside any regular package sees the modules beside it, as a
  script run with ``python dir/script.py`` does (and pytest's rootdir-relative test imports).

So a local ``qdrant_client.py`` shadows the real package only where Python would let it: beside
the script importing it, or at an import root. An import that resolves to no repository file is
external (``ImportRef.local_path is None``).
"""

from __future__ import annotations

import configparser
import fnmatch
import logging
import os
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import libcst as cst
import libcst.matchers as m
from libcst.helpers import get_full_name_for_node

from qdrant_ops.code.positions import node_lines

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", "build", "dist",
        "site-packages", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    }
)
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__", "__main__"}


@dataclass(frozen=True)
class ImportRef:
    """One imported module: ``import a.b as c`` or ``from a.b import x as y, z``.

    ``module`` is the absolute dotted name (relative imports resolved); ``names`` the names taken
    from it (empty for ``import a.b``); ``alias`` the ``as`` name of ``import a.b as c``;
    ``asnames`` the ``as`` names of a from-import (``{"x": "y"}``); ``submodules`` the imported
    names that are themselves repository modules (``from pkg import old`` -> ``{"old": path}``);
    ``local_path`` the repository file ``module`` resolves to, None when it is outside the
    repository (the real ``qdrant_client``) or a namespace directory.
    """

    module: str
    names: tuple[str, ...]
    alias: str | None
    lineno: int
    relative: bool
    local_path: str | None
    level: int = 0
    asnames: dict[str, str] = field(default_factory=dict)
    submodules: dict[str, str] = field(default_factory=dict)
    node: cst.Import | cst.ImportFrom | None = field(default=None, compare=False, repr=False)

    @property
    def root(self) -> str:
        return self.module.split(".", 1)[0]

    def bound_name(self, name: str | None = None) -> str:
        """The local name this import binds for ``name`` (or for the module itself)."""
        if name is None:
            return self.alias or self.root
        return self.asnames.get(name, name)


@dataclass
class PyFile:
    """One parsed Python file. ``module`` is None and ``error`` set when it failed to parse."""

    rel: str
    path: Path
    raw: bytes
    source: str
    module: cst.Module | None
    error: str | None = None


@dataclass(frozen=True)
class _Candidate:
    name: str
    tier: int  # 0 script dir, 1 explicit root, 2 package base
    scope: str  # importers must live under this directory ("" = anywhere)
    same_dir: bool = False  # ... and directly in it

    def visible_from(self, importer: str | None) -> bool:
        if self.tier == 1:
            return True
        if importer is None:
            return False
        if self.same_dir:
            return _rel_parent(importer) == self.scope
        return _under(importer, self.scope)


def _rel_parent(rel: str) -> str:
    parent = str(PurePosixPath(rel).parent)
    return "" if parent == "." else parent


def _under(rel: str, directory: str) -> bool:
    return directory == "" or rel == directory or rel.startswith(directory + "/")


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _dotted(rel_from_root: str) -> str | None:
    parts = list(PurePosixPath(rel_from_root).parts)
    if not parts:
        return None
    last = parts[-1]
    if last.endswith(".py"):
        last = last[:-3]
        if last == "__init__":
            parts = parts[:-1]
        else:
            parts[-1] = last
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def _common_depth(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        n += 1
    return n


class RepoIndex:
    """Every Python file of a repository, parsed once, with its imports resolved."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, PyFile] = {}
        self.package_dirs: set[str] = set()
        self.roots: list[str] = []
        self._imports: dict[str, list[ImportRef]] = {}
        self._candidates: dict[str, list[_Candidate]] = {}
        self._by_name: dict[str, list[tuple[str, _Candidate]]] = {}
        self._preferred: dict[str, str] = {}

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, root: Path, exclude: Sequence[str] = ()) -> RepoIndex:
        """Parse every ``.py`` file under ``root`` (skipping tool and vendor directories)."""
        index = cls(Path(root).resolve())
        for rel in index._walk(tuple(exclude)):
            index._load(rel)
        index.package_dirs = {
            _rel_parent(r) for r in index.files if PurePosixPath(r).name == "__init__.py"
        }
        index.roots = index._find_roots()
        index._index_names()
        index._resolve_all()
        return index

    def _walk(self, exclude: tuple[str, ...]) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            reldir = Path(dirpath).relative_to(self.root).as_posix()
            reldir = "" if reldir == "." else reldir
            keep = []
            for d in sorted(dirnames):
                sub = _join(reldir, d)
                if d in SKIP_DIRS or d.endswith(".egg-info") or self._excluded(sub, exclude):
                    continue
                if (Path(dirpath) / d / "pyvenv.cfg").exists() or os.path.islink(Path(dirpath) / d):
                    continue
                keep.append(d)
            dirnames[:] = keep
            for f in sorted(filenames):
                rel = _join(reldir, f)
                full = Path(dirpath) / f
                if f.endswith(".py") and not full.is_symlink() and not self._excluded(rel, exclude):
                    yield rel

    @staticmethod
    def _excluded(rel: str, exclude: tuple[str, ...]) -> bool:
        parts = rel.split("/")
        for pattern in exclude:
            pat = pattern.strip().rstrip("/")
            if not pat:
                continue
            if fnmatch.fnmatchcase(rel, pat) or fnmatch.fnmatchcase(rel, pat + "/*"):
                return True
            if "/" not in pat and any(fnmatch.fnmatchcase(p, pat) for p in parts):
                return True
        return False

    def _load(self, rel: str) -> None:
        path = self.root / rel
        try:
            raw = path.read_bytes()
        except OSError as exc:
            log.warning("cannot read %s: %s", rel, exc)
            return
        try:
            module = cst.parse_module(raw)
        except (cst.ParserSyntaxError, UnicodeDecodeError, LookupError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.info("cannot parse %s: %s", rel, first)
            text = raw.decode("utf-8", errors="replace")
            self.files[rel] = PyFile(rel, path, raw, text, None, f"{type(exc).__name__}: {first}")
            return
        try:
            text = raw.decode(module.encoding)
        except (UnicodeDecodeError, LookupError):
            text = module.code
        self.files[rel] = PyFile(rel, path, raw, text, module)

    def _find_roots(self) -> list[str]:
        roots: set[str] = {""}
        dirs = {_rel_parent(r) for r in self.files}
        all_dirs = set()
        for d in dirs:
            while d:
                all_dirs.add(d)
                d = _rel_parent(d)
        for d in all_dirs:
            if PurePosixPath(d).name == "src":
                roots.add(d)
        for d in sorted(all_dirs | {""}):
            if any((self.root / d / marker).is_file() for marker in PROJECT_MARKERS):
                roots.add(d)
                roots.update(self._declared_roots(d))
        return sorted(r for r in roots if r == "" or r in all_dirs)

    def _declared_roots(self, project: str) -> set[str]:
        """Package directories a project's build and test config declares."""
        found: set[str] = set()
        base = self.root / project
        pyproject = base / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                log.info("cannot read %s: %s", pyproject, exc)
                data = {}
            tool: dict[str, Any] = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
            st = tool.get("setuptools", {})
            if isinstance(st, dict):
                find = st.get("packages", {})
                if isinstance(find, dict) and isinstance(find.get("find"), dict):
                    for w in find["find"].get("where", []) or []:
                        found.add(str(w))
                pdir = st.get("package-dir", {})
                if isinstance(pdir, dict) and isinstance(pdir.get(""), str):
                    found.add(pdir[""])
            poetry = tool.get("poetry", {})
            if isinstance(poetry, dict):
                for pkg in poetry.get("packages", []) or []:
                    if isinstance(pkg, dict) and isinstance(pkg.get("from"), str):
                        found.add(pkg["from"])
            hatch = tool.get("hatch", {})
            wheel = hatch.get("build", {}).get("targets", {}).get("wheel", {}) if isinstance(hatch, dict) else {}
            if isinstance(wheel, dict):
                for pkg in wheel.get("packages", []) or []:
                    if isinstance(pkg, str):
                        found.add(str(PurePosixPath(pkg).parent))
            pytest_ini = tool.get("pytest", {}).get("ini_options", {}) if isinstance(tool.get("pytest"), dict) else {}
            if isinstance(pytest_ini, dict):
                for p in pytest_ini.get("pythonpath", []) or []:
                    found.add(str(p))
        setup_cfg = base / "setup.cfg"
        if setup_cfg.is_file():
            parser = configparser.ConfigParser()
            try:
                parser.read(setup_cfg, encoding="utf-8")
                value = parser.get("options", "package_dir", fallback="")
            except (configparser.Error, UnicodeDecodeError) as exc:
                log.info("cannot read %s: %s", setup_cfg, exc)
                value = ""
            for line in value.splitlines():
                key, _, target = line.partition("=")
                if not key.strip() and target.strip():
                    found.add(target.strip())
        out = set()
        for d in found:
            norm = os.path.normpath(_join(project, d.strip("/"))).replace(os.sep, "/")
            if norm in (".", ""):
                out.add("")
            elif not norm.startswith(".."):
                out.add(norm)
        return out

    def _base_of(self, rel: str) -> str:
        """The directory above the topmost regular package holding ``rel`` (or its own dir)."""
        d = _rel_parent(rel)
        while d and d in self.package_dirs:
            d = _rel_parent(d)
        return d

    def _index_names(self) -> None:
        explicit = set(self.roots)
        for rel in self.files:
            cands: list[_Candidate] = []
            base = self._base_of(rel)
            in_package = _rel_parent(rel) in self.package_dirs
            if not in_package:
                d = _rel_parent(rel)
                conftest = (self.root / d / "conftest.py").is_file()
                name = _dotted(PurePosixPath(rel).name)
                if name:
                    cands.append(_Candidate(name, 0, d, same_dir=not conftest))
            for r in sorted(explicit, key=lambda x: -len(x)):
                if _under(base, r):
                    name = _dotted(rel[len(r) + 1 :] if r else rel)
                    if name:
                        cands.append(_Candidate(name, 1, ""))
            if base not in explicit:
                name = _dotted(rel[len(base) + 1 :] if base else rel)
                if name:
                    cands.append(_Candidate(name, 2, base))
            self._candidates[rel] = cands
            for c in cands:
                self._by_name.setdefault(c.name, []).append((rel, c))

    def _resolve_all(self) -> None:
        for rel, f in self.files.items():
            self._imports[rel] = self._collect(rel, f) if f.module is not None else []
        usage: dict[str, Counter[str]] = {}
        for refs in self._imports.values():
            for ref in refs:
                if ref.local_path and not ref.relative:
                    usage.setdefault(ref.local_path, Counter())[ref.module] += 1
        for rel, cands in self._candidates.items():
            named = [c for c in cands if c.tier > 0] or cands
            if not named:
                continue
            used = usage.get(rel)
            if used:
                best = max(named, key=lambda c: (used.get(c.name, 0), -c.tier, -len(c.name)))
                self._preferred[rel] = best.name
            else:
                self._preferred[rel] = named[0].name
        # relative imports carry the importer's preferred package name
        for rel, refs in self._imports.items():
            self._imports[rel] = [self._absolutise(rel, r) for r in refs]

    # -- import extraction -----------------------------------------------------------------------

    def _collect(self, rel: str, f: PyFile) -> list[ImportRef]:
        module = f.module
        if module is None:
            return []
        lines = node_lines(module, lambda n: isinstance(n, (cst.Import, cst.ImportFrom)))
        nodes: list[cst.Import | cst.ImportFrom] = []

        class _Finder(cst.CSTVisitor):
            def visit_Import(self, node: cst.Import) -> bool:
                nodes.append(node)
                return False

            def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
                nodes.append(node)
                return False

        module.visit(_Finder())
        out: list[ImportRef] = []
        for node in nodes:
            lineno = lines.get(id(node), 0)
            if isinstance(node, cst.Import):
                for alias in node.names:
                    name = get_full_name_for_node(alias.name) or ""
                    asname = _asname(alias)
                    out.append(
                        ImportRef(name, (), asname, lineno, False, self.resolve(name, rel), 0, node=node)
                    )
                continue
            out.append(self._from_ref(rel, node, lineno))
        return out

    def _from_ref(self, rel: str, node: cst.ImportFrom, lineno: int) -> ImportRef:
        level = len(node.relative)
        modname = get_full_name_for_node(node.module) if node.module else ""
        modname = modname or ""
        names: list[str] = []
        asnames: dict[str, str] = {}
        if isinstance(node.names, cst.ImportStar):
            names = ["*"]
        else:
            for alias in node.names:
                n = get_full_name_for_node(alias.name) or ""
                names.append(n)
                a = _asname(alias)
                if a:
                    asnames[n] = a
        if level:
            target_dir = _rel_parent(rel)
            for _ in range(level - 1):
                target_dir = _rel_parent(target_dir)
            local = self._path_in_dir(target_dir, modname)
            pkg_dir = _join(target_dir, modname.replace(".", "/"))
        else:
            local = self.resolve(modname, rel)
            pkg_dir = None
        subs: dict[str, str] = {}
        if names != ["*"]:
            for n in names:
                if pkg_dir is not None:
                    sub = self._path_in_dir(pkg_dir, n)
                else:
                    sub = self.resolve(f"{modname}.{n}", rel)
                if sub:
                    subs[n] = sub
        return ImportRef(modname, tuple(names), None, lineno, bool(level), local, level, asnames, subs, node)

    def _absolutise(self, rel: str, ref: ImportRef) -> ImportRef:
        if not ref.relative:
            return ref
        own = self._preferred.get(rel)
        if own is None:
            own_parts = [p for p in _rel_parent(rel).split("/") if p]
        else:
            own_parts = own.split(".")
            if not rel.endswith("__init__.py"):
                own_parts = own_parts[:-1]
        keep = len(own_parts) - (ref.level - 1)
        parts = own_parts[: max(keep, 0)] + ([ref.module] if ref.module else [])
        absolute = ".".join(p for p in parts if p)
        return ImportRef(
            absolute, ref.names, ref.alias, ref.lineno, True, ref.local_path, ref.level,
            ref.asnames, ref.submodules, ref.node,
        )

    def _path_in_dir(self, directory: str, dotted: str) -> str | None:
        stem = _join(directory, dotted.replace(".", "/")) if dotted else directory
        for cand in (stem + ".py", _join(stem, "__init__.py")):
            if cand in self.files:
                return cand
        return None

    # -- queries ---------------------------------------------------------------------------------

    def resolve(self, name: str, from_rel: str | None = None) -> str | None:
        """The repository file an absolute import of ``name`` from ``from_rel`` loads, if any."""
        hits = self._by_name.get(name, [])
        if not hits:
            return None
        where = from_rel or ""
        # a module importing its own name (a local qdrant_client.py importing the real one) means
        # the next thing on the path, never itself
        visible = [
            (path, cand) for path, cand in hits if cand.visible_from(from_rel) and path != from_rel
        ]
        if not visible:
            return None
        best = min(
            visible,
            key=lambda pc: (pc[1].tier, -_common_depth(where, pc[0]), pc[0].count("/"), pc[0]),
        )
        return best[0]

    def module_for_path(self, rel: str) -> str | None:
        """The dotted name this file is imported by (the name most importers use)."""
        return self._preferred.get(rel)

    def names_for_path(self, rel: str) -> list[str]:
        """Every dotted name under which some file of the repository could import ``rel``."""
        return list(dict.fromkeys(c.name for c in self._candidates.get(rel, [])))

    def import_name_for(self, target: str, from_rel: str) -> str | None:
        """The dotted name ``from_rel`` should use to import ``target`` (preferred name first)."""
        names = self.names_for_path(target)
        pref = self._preferred.get(target)
        if pref in names:
            names.remove(pref)
            names.insert(0, pref)
        for name in names:
            if self.resolve(name, from_rel) == target:
                return name
        return None

    def path_for_module(self, name: str) -> str | None:
        """The repository file an import of ``name`` loads from an import root, if any."""
        direct = self.resolve(name)
        if direct:
            return direct
        for rel, pref in self._preferred.items():
            if pref == name:
                return rel
        return None

    def imports_of(self, rel: str) -> list[ImportRef]:
        return list(self._imports.get(rel, []))

    def importers_of(self, module_or_path: str) -> list[tuple[str, ImportRef]]:
        """Every import (file, ref) that loads the given file or module, incl. ``from pkg import mod``."""
        target = module_or_path if module_or_path in self.files else self.path_for_module(module_or_path)
        if target is None:
            return [
                (rel, ref)
                for rel, refs in self._imports.items()
                for ref in refs
                if ref.local_path is None and ref.module == module_or_path
            ]
        out = []
        for rel, refs in self._imports.items():
            for ref in refs:
                if ref.local_path == target or target in ref.submodules.values():
                    out.append((rel, ref))
        return out

    def has_main_guard(self, rel: str) -> bool:
        f = self.files.get(rel)
        if f is None or f.module is None:
            return False
        guard = m.If(
            test=m.Comparison(
                left=m.Name("__name__"),
                comparisons=[m.ComparisonTarget(m.Equal(), m.SimpleString())],
            )
            | m.Comparison(
                left=m.SimpleString(),
                comparisons=[m.ComparisonTarget(m.Equal(), m.Name("__name__"))],
            )
        )
        for stmt in f.module.body:
            if m.matches(stmt, guard) and isinstance(stmt, cst.If):
                test = stmt.test
                if isinstance(test, cst.Comparison):
                    strings = [test.left] + [c.comparator for c in test.comparisons]
                    for s in strings:
                        if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__":
                            return True
        return False

    def top_level_imports(self, rel: str) -> set[str]:
        """Roots of the third-party distributions a file imports (not stdlib, not repository)."""
        out: set[str] = set()
        for ref in self._imports.get(rel, []):
            if ref.relative or ref.local_path is not None or not ref.module:
                continue
            root = ref.root
            if root in _STDLIB or self.resolve(root, rel) is not None:
                continue
            out.add(root)
        return out

    @property
    def parse_errors(self) -> dict[str, str]:
        return {rel: f.error for rel, f in self.files.items() if f.error}


def _asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is None:
        return None
    target = alias.asname.name
    return target.value if isinstance(target, cst.Name) else None
