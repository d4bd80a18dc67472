"""Which modules of a repository are Qdrant client modules, and what kind.

A client module does one of these with the *real* ``qdrant_client`` package (decided from the
import's resolution, never from its name): constructs ``QdrantClient``/``AsyncQdrantClient``,
defines a wrapper class or a factory around one, or re-exports one. Also found here: classes
merely *named* ``QdrantClient`` built on something else (look-alikes), local modules that shadow
the real package, and shims (modules made only of imports that re-export another client module).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

import libcst as cst
from libcst.helpers import get_full_name_for_node

from qdrant_ops.code.consolidate.shims import delegates
from qdrant_ops.code.index import ImportRef, RepoIndex

PACKAGE = "qdrant_client"
CLIENT_CLASSES = frozenset({"QdrantClient", "AsyncQdrantClient"})
_CLASS_MODULES = frozenset(
    {"qdrant_client", "qdrant_client.qdrant_client", "qdrant_client.async_qdrant_client"}
)
_TEST_DIRS = frozenset({"tests", "test", "testing"})


@dataclass
class ClientModule:
    """What one file does with Qdrant clients."""

    rel: str
    module: str | None
    kinds: set[str] = field(default_factory=set)
    wrappers: list[str] = field(default_factory=list)
    factories: list[str] = field(default_factory=list)
    reexports: list[str] = field(default_factory=list)
    lookalikes: list[str] = field(default_factory=list)
    shim_of: str | None = None
    delegates: dict[str, str] = field(default_factory=dict)  # a shim's function -> the target's
    defined: list[str] = field(default_factory=list)
    is_test: bool = False
    is_script: bool = False
    shadows: bool = False
    # importers Python points at this file instead of the package: "file:line", split by what
    # they take (the package's own names, or names this file defines)
    shadow_breaks: list[str] = field(default_factory=list)
    shadow_uses: list[str] = field(default_factory=list)
    parse_error: str | None = None

    @property
    def is_client(self) -> bool:
        return bool(self.kinds & {"constructs", "wrapper", "factory", "reexport"})

    @property
    def public_api(self) -> list[str]:
        return [n for n in self.defined if not n.startswith("_")]


def is_test_path(rel: str) -> bool:
    p = PurePosixPath(rel)
    if p.name == "conftest.py" or p.name.startswith("test_") or p.stem.endswith("_test"):
        return True
    return any(part in _TEST_DIRS for part in p.parts[:-1])


def module_bindings(module: cst.Module) -> list[str]:
    """Names bound at module level (defs, classes, assignments, imports), in order."""
    out: list[str] = []

    def targets(node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            out.append(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for el in node.elements:
                targets(el.value)

    def walk(body: object) -> None:
        for stmt in body if isinstance(body, (list, tuple)) else ():
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                out.append(stmt.name.value)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign):
                        for t in small.targets:
                            targets(t.target)
                    elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                        targets(small.target)
                    elif isinstance(small, cst.Import):
                        for a in small.names:
                            if a.asname is not None and isinstance(a.asname.name, cst.Name):
                                out.append(a.asname.name.value)
                            else:
                                out.append((get_full_name_for_node(a.name) or "").split(".")[0])
                    elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                        for a in small.names:
                            if a.asname is not None and isinstance(a.asname.name, cst.Name):
                                out.append(a.asname.name.value)
                            else:
                                out.append(get_full_name_for_node(a.name) or "")
            elif isinstance(stmt, cst.If):
                walk(stmt.body.body)
                orelse = stmt.orelse
                while orelse is not None:
                    walk(orelse.body.body)
                    orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            elif isinstance(stmt, cst.Try):
                walk(stmt.body.body)
                for h in stmt.handlers:
                    walk(h.body.body)
                if stmt.orelse is not None:
                    walk(stmt.orelse.body.body)
            elif isinstance(stmt, cst.With):
                walk(stmt.body.body)

    walk(list(module.body))
    return [n for n in dict.fromkeys(out) if n]


def dunder_all(module: cst.Module) -> list[str] | None:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and any(
                    isinstance(t.target, cst.Name) and t.target.value == "__all__" for t in small.targets
                ):
                    if isinstance(small.value, (cst.List, cst.Tuple)):
                        return [
                            el.value.evaluated_value
                            for el in small.value.elements
                            if isinstance(el.value, cst.SimpleString)
                            and isinstance(el.value.evaluated_value, str)
                        ]
    return None


def _is_import_only(module: cst.Module) -> bool:
    """A module made only of a docstring, imports, ``__all__`` and try/except around imports."""
    def ok(stmts: object) -> bool:
        for stmt in stmts if isinstance(stmts, (list, tuple)) else ():
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, (cst.Import, cst.ImportFrom, cst.Pass)):
                        continue
                    if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
                        continue
                    if isinstance(small, cst.Assign) and all(
                        isinstance(t.target, cst.Name) and t.target.value == "__all__" for t in small.targets
                    ):
                        continue
                    return False
            elif isinstance(stmt, cst.Try):
                if not ok(stmt.body.body) or not all(ok(h.body.body) for h in stmt.handlers):
                    return False
            else:
                return False
        return True

    return bool(module.body) and ok(list(module.body))


class _Scan(cst.CSTVisitor):
    """Finds constructions of real client classes and the top-level definitions holding them."""

    def __init__(self, classes: set[str], modules: set[str]) -> None:
        self.classes = classes  # local names bound to the real client classes
        self.modules = modules  # local names bound to the real package (or a submodule)
        self.top: list[cst.FunctionDef | cst.ClassDef] = []
        self.constructs_at: set[str] = set()
        self.module_level = False
        self.client_globals: set[str] = set()
        self.subclasses: set[str] = set()
        self.typed: set[str] = set()
        self.global_refs: dict[str, set[str]] = {}

    def is_client_ref(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name):
            return node.value in self.classes
        if isinstance(node, cst.Attribute) and node.attr.value in CLIENT_CLASSES:
            full = get_full_name_for_node(node.value) or ""
            return full in self.modules
        if isinstance(node, cst.Subscript):  # Optional[QdrantClient]
            return self.is_client_ref(node.value) or any(
                isinstance(s.slice, cst.Index) and self.is_client_ref(s.slice.value) for s in node.slice
            )
        if isinstance(node, cst.BinaryOperation):  # QdrantClient | None
            return self.is_client_ref(node.left) or self.is_client_ref(node.right)
        if isinstance(node, cst.SimpleString):
            return node.evaluated_value in self.classes
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.top:
            if node.returns is not None and self.is_client_ref(node.returns.annotation):
                self.typed.add(node.name.value)
        self.top.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.top.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not self.top and any(self.is_client_ref(b.value) for b in node.bases):
            self.subclasses.add(node.name.value)
        self.top.append(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.top.pop()

    def visit_Annotation(self, node: cst.Annotation) -> None:
        if self.top and isinstance(self.top[0], cst.ClassDef) and self.is_client_ref(node.annotation):
            self.typed.add(self.top[0].name.value)

    def visit_Call(self, node: cst.Call) -> None:
        if self.is_client_ref(node.func):
            self.constructs_at.add(self.top[0].name.value if self.top else "")

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self.top and isinstance(node.value, cst.Call) and self.is_client_ref(node.value.func):
            for t in node.targets:
                if isinstance(t.target, cst.Name):
                    self.client_globals.add(t.target.value)

    def visit_Name(self, node: cst.Name) -> None:
        if self.top:
            self.global_refs.setdefault(self.top[0].name.value, set()).add(node.value)


def _real_bindings(refs: list[ImportRef]) -> tuple[set[str], set[str], list[str]]:
    classes: set[str] = set()
    modules: set[str] = set()
    reexported: list[str] = []
    for ref in refs:
        if ref.local_path is not None or ref.relative or ref.root != PACKAGE:
            continue
        if not ref.names:
            modules.add(ref.alias or ref.module)
            if ref.alias is None:
                modules.add(ref.module)
            continue
        for name in ref.names:
            bound = ref.bound_name(name)
            if name in CLIENT_CLASSES and ref.module in _CLASS_MODULES:
                classes.add(bound)
                reexported.append(bound)
            elif name in ("qdrant_client", "async_qdrant_client"):
                modules.add(bound)
    return classes, modules, reexported


def classify(index: RepoIndex, rel: str) -> ClientModule | None:
    """What ``rel`` does with Qdrant clients; None when it does nothing with them."""
    f = index.files.get(rel)
    if f is None or f.module is None:
        return None
    refs = index.imports_of(rel)
    module_refs = [r for r in refs if r.node is not None and _top_level(f.module, r.node)]
    classes, modules, reexported = _real_bindings(refs)
    info = ClientModule(rel=rel, module=index.module_for_path(rel))
    info.is_test = is_test_path(rel)
    info.is_script = index.has_main_guard(rel)
    p = PurePosixPath(rel)
    info.defined = module_bindings(f.module)
    scan = _Scan(classes, modules)
    f.module.visit(scan)
    if scan.constructs_at:
        info.kinds.add("constructs")
    for name in info.defined:
        holder = name in scan.constructs_at or name in scan.typed
        refs_global = bool(scan.global_refs.get(name, set()) & scan.client_globals)
        if name in scan.subclasses or (holder and _is_class(f.module, name)):
            info.wrappers.append(name)
        elif holder or refs_global:
            info.factories.append(name)
    if info.wrappers:
        info.kinds.add("wrapper")
    if info.factories:
        info.kinds.add("factory")
    exported = dunder_all(f.module)
    top_reexports = [n for n in reexported if any(n in r.names or n in r.asnames.values() for r in module_refs)]
    if top_reexports and (_is_import_only(f.module) or (exported and set(top_reexports) & set(exported))):
        info.reexports = top_reexports
        info.kinds.add("reexport")
    if _is_import_only(f.module) and not p.name == "__init__.py":
        locals_ = {r.local_path for r in module_refs if r.local_path and r.local_path != rel}
        if len(locals_) == 1 and _reexports(index, rel, f.module, module_refs):
            info.shim_of = locals_.pop()
            info.kinds.add("shim")
    if not classes and not modules:
        for name in info.defined:
            if (name in CLIENT_CLASSES or name.endswith("QdrantClient")) and _is_class(f.module, name):
                info.lookalikes.append(name)
        if info.lookalikes:
            info.kinds.add("lookalike")
    if not info.kinds:
        return None
    return info


def _is_class(module: cst.Module, name: str) -> bool:
    return any(isinstance(s, cst.ClassDef) and s.name.value == name for s in module.body)


def _top_level(module: cst.Module, node: cst.CSTNode) -> bool:
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine) and any(s is node for s in stmt.body):
            return True
        if isinstance(stmt, cst.Try):
            for inner in [*stmt.body.body, *(x for h in stmt.handlers for x in h.body.body)]:
                if isinstance(inner, cst.SimpleStatementLine) and any(s is node for s in inner.body):
                    return True
    return False


def scan_repository(index: RepoIndex) -> dict[str, ClientModule]:
    """Every file that does something with Qdrant clients, shims of them included."""
    found: dict[str, ClientModule] = {}
    for rel in index.files:
        info = classify(index, rel)
        if info is not None:
            found[rel] = info
    # a file named qdrant_client.py is a shadow only where some import loads it for the package
    for rel, importers in index.shadows().items():
        info = found.get(rel) or ClientModule(rel=rel, module=index.module_for_path(rel))
        info.shadows = True
        info.is_test = is_test_path(rel)
        info.parse_error = index.files[rel].error
        for imp, ref in importers:
            where = f"{imp}:{ref.lineno}"
            (info.shadow_breaks if ref.shadowed_by else info.shadow_uses).append(where)
        found[rel] = info
    # a shim counts only when what it re-exports is a client module
    for rel, info in list(found.items()):
        if "shim" in info.kinds and (info.shim_of not in found or not found[info.shim_of].is_client):
            info.kinds.discard("shim")
            info.shim_of = None
            if not info.kinds and not info.shadows:
                del found[rel]
    # shims made only of imports from another client module are found here too, and thin
    # wrappers whose functions only return the call of one of its functions
    for rel, f in index.files.items():
        if f.module is None or PurePosixPath(rel).name == "__init__.py":
            continue
        if rel in found:
            continue
        refs = index.imports_of(rel)
        if not _is_import_only(f.module):
            delegated = delegates(index, f.module, refs, found)
            # only a wrapper other modules import its functions from: one nothing imports may be
            # an entry point (a handler), never a shim to remove
            taken = {n for _, r in index.importers_of(rel) if r.local_path == rel for n in r.names}
            if delegated is not None and set(delegated[1]) & taken:
                target, names = delegated
                info = ClientModule(rel=rel, module=index.module_for_path(rel), kinds={"shim"}, shim_of=target)
                info.delegates = names
                info.defined = module_bindings(f.module)
                info.is_test = is_test_path(rel)
                found[rel] = info
            continue
        targets = {r.local_path for r in refs if r.local_path and r.local_path in found}
        if len(targets) == 1 and _reexports(index, rel, f.module, refs):
            target = targets.pop()
            if found[target].is_client:
                info = ClientModule(rel=rel, module=index.module_for_path(rel), kinds={"shim"}, shim_of=target)
                info.defined = module_bindings(f.module)
                info.is_test = is_test_path(rel)
                found[rel] = info
    return found


def _reexports(index: RepoIndex, rel: str, module: cst.Module, refs: list[ImportRef]) -> bool:
    """An import-only module re-exports: ``import *``, ``__all__``, or importers take its imports."""
    if any("*" in r.names for r in refs) or dunder_all(module) is not None:
        return True
    imported = {r.bound_name(n) for r in refs for n in r.names} | {r.bound_name() for r in refs if not r.names}
    for _, ref in index.importers_of(rel):
        if ref.local_path == rel and (set(ref.names) & imported or "*" in ref.names):
            return True
        if rel in ref.submodules.values():
            return True
    return False
