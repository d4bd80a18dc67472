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

A file's own folder is first on ``sys.path`` only when it runs as a script. Module code (a file
of a regular package, or of a namespace package the project imports by dotted name, without a
``__main__`` guard) does not see the files beside it by bare name, so a bare import there
resolves from the roots (falling back to the folder only for a name no root or installed
package could provide).

So a local ``qdrant_client.py`` shadows the real package only where Python would let it: beside
the script importing it, or at an import root. An import that resolves to no repository file is
external (``ImportRef.local_path is None``). An import that means the installed package
(``from qdrant_client import QdrantClient`` where the local file defines no ``QdrantClient``) is
external too, with ``shadowed_by`` naming the local file that Python would load instead.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import libcst as cst
from libcst.helpers import get_full_name_for_node

from qdrant_ops.code.layout import common_depth, dotted, find_roots, join, rel_parent, under, walk_py_files
from qdrant_ops.code.pyfile import ImportRef, PyFile, asname, defined_names, import_nodes, parse_file
from qdrant_ops.code.pyfile import has_main_guard as module_has_main_guard

__all__ = ["ImportRef", "PyFile", "QDRANT_PACKAGE", "QDRANT_PACKAGE_NAMES", "RepoIndex"]

_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__", "__main__"}
QDRANT_PACKAGE = "qdrant_client"
# What the real package offers at its top level: importing one of these from a local file named
# qdrant_client.py that does not define it means the package.
QDRANT_PACKAGE_NAMES = frozenset(
    {"QdrantClient", "AsyncQdrantClient", "models", "http", "grpc", "conversions", "local",
     "migrate", "embed", "hybrid", "auth", "common", "uploader", "qdrant_client",
     "async_qdrant_client", "client_base", "async_client_base", "connection", "qdrant_fastembed",
     "fastembed_common", "__version__"}
)
# Installed packages a project means when it imports them: never resolved to a file beside
# module code that cannot see it.
_EXTERNAL_FIRST = _STDLIB | {QDRANT_PACKAGE}


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
            return rel_parent(importer) == self.scope
        return under(importer, self.scope)


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
        self.namespace_dirs: set[str] = set()  # folders without __init__.py imported by dotted name

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, root: Path, exclude: Sequence[str] = ()) -> RepoIndex:
        """Parse every ``.py`` file under ``root`` (skipping tool and vendor directories)."""
        index = cls(Path(root).resolve())
        for rel in walk_py_files(index.root, tuple(exclude)):
            parsed = parse_file(index.root, rel)
            if parsed is not None:
                index.files[rel] = parsed
        index.package_dirs = {
            rel_parent(r) for r in index.files if PurePosixPath(r).name == "__init__.py"
        }
        index.roots = find_roots(index.root, index.files)
        index._index_names()
        index._find_namespace_dirs()
        index._resolve_all()
        return index

    def _base_of(self, rel: str) -> str:
        """The directory above the topmost regular package holding ``rel`` (or its own dir)."""
        d = rel_parent(rel)
        while d and d in self.package_dirs:
            d = rel_parent(d)
        return d

    def _index_names(self) -> None:
        explicit = set(self.roots)
        for rel in self.files:
            cands: list[_Candidate] = []
            base = self._base_of(rel)
            in_package = rel_parent(rel) in self.package_dirs
            if not in_package:
                d = rel_parent(rel)
                conftest = (self.root / d / "conftest.py").is_file()
                name = dotted(PurePosixPath(rel).name)
                if name:
                    cands.append(_Candidate(name, 0, d, same_dir=not conftest))
            for r in sorted(explicit, key=lambda x: -len(x)):
                if under(base, r):
                    name = dotted(rel[len(r) + 1 :] if r else rel)
                    if name:
                        cands.append(_Candidate(name, 1, ""))
            if base not in explicit:
                name = dotted(rel[len(base) + 1 :] if base else rel)
                if name:
                    cands.append(_Candidate(name, 2, base))
            self._candidates[rel] = cands
            for c in cands:
                self._by_name.setdefault(c.name, []).append((rel, c))

    def _find_namespace_dirs(self) -> None:
        """Folders (no ``__init__.py``) that some import names as part of a dotted module path."""
        wanted: set[str] = set()
        for f in self.files.values():
            if f.module is None:
                continue
            for node, _ in import_nodes(f.module):
                if isinstance(node, cst.Import):
                    wanted.update(get_full_name_for_node(a.name) or "" for a in node.names)
                elif not node.relative and node.module is not None:
                    mod = get_full_name_for_node(node.module) or ""
                    wanted.add(mod)
                    if not isinstance(node.names, cst.ImportStar):
                        wanted.update(f"{mod}.{get_full_name_for_node(a.name) or ''}" for a in node.names)
        for rel, cands in self._candidates.items():
            for c in cands:
                if c.tier == 1 and "." in c.name and c.name in wanted:
                    d = rel_parent(rel)
                    for _ in range(c.name.count(".")):
                        if d and d not in self.package_dirs:
                            self.namespace_dirs.add(d)
                        d = rel_parent(d)

    def is_module_code(self, rel: str) -> bool:
        """Whether ``rel`` runs imported as a module (its folder is not on ``sys.path``)."""
        d = rel_parent(rel)
        if d in self.package_dirs and d:
            return True
        if self.has_main_guard(rel):
            return False
        # a folder of a namespace package the project imports by dotted name
        while d:
            if d in self.namespace_dirs:
                return True
            d = rel_parent(d)
        return False

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
        out: list[ImportRef] = []
        for node, lineno in import_nodes(module):
            if isinstance(node, cst.Import):
                for alias in node.names:
                    name = get_full_name_for_node(alias.name) or ""
                    local = self.resolve(name, rel)
                    shadow = self._shadow_for(name, (), local, rel)
                    out.append(
                        ImportRef(name, (), asname(alias), lineno, False, None if shadow else local, 0,
                                  node=node, shadowed_by=shadow)
                    )
                continue
            ref = self._from_ref(rel, node, lineno)
            if not ref.relative:
                shadow = self._shadow_for(ref.module, ref.names, ref.local_path, rel)
                if shadow:
                    ref = dataclasses.replace(ref, local_path=None, submodules={}, shadowed_by=shadow)
            out.append(ref)
        return out

    def _shadow_for(self, name: str, names: tuple[str, ...], local: str | None, rel: str) -> str | None:
        """The local file an import meant for the installed ``qdrant_client`` would load instead."""
        if name.split(".", 1)[0] != QDRANT_PACKAGE:
            return None
        if name != QDRANT_PACKAGE:  # qdrant_client.models: a local one-file module has no submodules
            top = self.resolve(QDRANT_PACKAGE, rel)
            return top if top is not None and local is None and top.endswith(".py") else None
        if local is None or not names or "*" in names:
            return None  # plain `import qdrant_client` of a local file: Python's reading stands
        f = self.files.get(local)
        own = defined_names(f.module if f else None, f.source if f else "")
        if all(n in QDRANT_PACKAGE_NAMES and n not in own for n in names):
            return local
        return None

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
                a = asname(alias)
                if a:
                    asnames[n] = a
        if level:
            target_dir = rel_parent(rel)
            for _ in range(level - 1):
                target_dir = rel_parent(target_dir)
            local = self._path_in_dir(target_dir, modname)
            pkg_dir = join(target_dir, modname.replace(".", "/"))
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
            own_parts = [p for p in rel_parent(rel).split("/") if p]
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
        stem = join(directory, dotted.replace(".", "/")) if dotted else directory
        for cand in (stem + ".py", join(stem, "__init__.py")):
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
        if from_rel is not None and self.is_module_code(from_rel):
            # module code does not have its own folder on sys.path
            beside = [(p, c) for p, c in visible if (c.tier == 0 and c.same_dir)
                      or (c.tier == 2 and rel_parent(p) not in self.package_dirs)]
            rest = [pc for pc in visible if pc not in beside]
            if rest or name.split(".", 1)[0] in _EXTERNAL_FIRST:
                visible = rest
        if not visible:
            return None
        best = min(
            visible,
            key=lambda pc: (pc[1].tier, -common_depth(where, pc[0]), pc[0].count("/"), pc[0]),
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

    def shadows(self) -> dict[str, list[tuple[str, ImportRef]]]:
        """Local files named like the ``qdrant_client`` package that some import loads in its place:
        ``{file: [(importer, ref), ...]}``, the importers that mean the package included."""
        out: dict[str, list[tuple[str, ImportRef]]] = {}
        for rel in self.files:
            p = PurePosixPath(rel)
            if p.stem == QDRANT_PACKAGE or (p.name == "__init__.py" and p.parent.name == QDRANT_PACKAGE):
                out[rel] = []
        for rel, refs in self._imports.items():
            for ref in refs:
                if ref.relative or ref.root != QDRANT_PACKAGE:
                    continue
                target = ref.shadowed_by or ref.local_path
                if target in out and rel != target:
                    out[target].append((rel, ref))
        return {k: v for k, v in out.items() if v or self.imports_itself(k)}

    def shadowed_importers(self, rel: str) -> list[tuple[str, ImportRef]]:
        """Every import (file, ref) meant for the installed package that Python would point at the
        local file ``rel`` instead (these are not importers of ``rel``: it breaks them)."""
        return [(f, ref) for f, refs in self._imports.items() for ref in refs if ref.shadowed_by == rel]

    def imports_itself(self, rel: str) -> bool:
        """A ``qdrant_client.py`` importing ``qdrant_client`` where its own folder is on the path
        (run as a script, or at an import root): it loads itself, a circular import."""
        if not any(r.root == QDRANT_PACKAGE and not r.relative for r in self._imports.get(rel, [])):
            return False
        return any(c.name == QDRANT_PACKAGE for c in self._candidates.get(rel, []))

    def has_main_guard(self, rel: str) -> bool:
        f = self.files.get(rel)
        return f is not None and f.module is not None and module_has_main_guard(f.module)

    def top_level_imports(self, rel: str) -> set[str]:
        """Roots of the third-party distributions a file imports (not stdlib, not repository)."""
        out: set[str] = set()
        for ref in self._imports.get(rel, []):
            if ref.shadowed_by:
                out.add(ref.root)
                continue
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
