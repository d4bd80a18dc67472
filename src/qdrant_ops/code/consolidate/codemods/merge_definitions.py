"""Copy definitions a duplicate has and the canonical module lacks into the canonical module.

For each missing name, its top-level statement is copied from the duplicate together with every
other top-level definition it needs that the canonical lacks, and the imports those need (relative
imports made absolute, or relative to the canonical module). Imports go after the canonical
module's last top-level import, definitions at its end (before an ``if __name__ == "__main__":``
block). A name the canonical module already binds is never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import libcst as cst

from qdrant_ops.code.consolidate.clients import module_bindings
from qdrant_ops.code.index import ImportRef, RepoIndex


@dataclass
class MergeResult:
    code: str
    copied: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    kept_canonical: list[str] = field(default_factory=list)


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


Stmt = cst.SimpleStatementLine | cst.BaseCompoundStatement


def _binds(stmt: Stmt) -> set[str]:
    return set(module_bindings(cst.Module(body=[stmt])))


def _used(stmt: cst.CSTNode) -> set[str]:
    v = _Names()
    stmt.visit(v)
    return v.names


def _is_import(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _is_main_guard(stmt: cst.BaseStatement) -> bool:
    if not isinstance(stmt, cst.If) or not isinstance(stmt.test, cst.Comparison):
        return False
    parts = [stmt.test.left, *(c.comparator for c in stmt.test.comparisons)]
    return any(isinstance(p, cst.Name) and p.value == "__name__" for p in parts)


def _import_text(index: RepoIndex, canonical: str, ref: ImportRef, bound: str) -> str | None:
    if not ref.names:
        if ref.alias:
            return f"import {ref.module} as {ref.alias}" if ref.alias == bound else None
        return f"import {ref.module}" if ref.root == bound else None
    for name in ref.names:
        if ref.bound_name(name) != bound or name == "*":
            continue
        module = ref.module
        if ref.relative and ref.local_path:
            module = index.import_name_for(ref.local_path, canonical) or ref.module
        elif ref.relative and name in ref.submodules:
            sub = index.import_name_for(ref.submodules[name], canonical)
            if sub:
                parent, _, stem = sub.rpartition(".")
                text = f"from {parent} import {stem}" if parent else f"import {stem}"
                return text + (f" as {bound}" if bound != stem else "")
        suffix = f" as {bound}" if bound != name else ""
        return f"from {module} import {name}{suffix}"
    return None


def merge_missing(
    index: RepoIndex,
    duplicate: str,
    canonical: str,
    missing: Iterable[str],
    canonical_module: cst.Module | None = None,
) -> MergeResult:
    """The canonical module's new text with ``missing`` (and what they need) copied from ``duplicate``.

    ``canonical_module`` is the canonical module's current tree when it was already rewritten.
    """
    dup = index.files[duplicate].module
    can = canonical_module or index.files[canonical].module
    if dup is None or can is None:
        # Only parsed modules are compared and merged; an unparsed one here is a bug.
        raise ValueError("both modules must parse")
    have = set(module_bindings(can))
    defs: dict[str, Stmt] = {}
    for stmt in dup.body:
        if _is_import(stmt) or _is_main_guard(stmt):
            continue
        for name in _binds(stmt):
            defs.setdefault(name, stmt)
    import_bound: dict[str, ImportRef] = {}
    for ref in index.imports_of(duplicate):
        if ref.names:
            for n in ref.names:
                import_bound.setdefault(ref.bound_name(n), ref)
        else:
            import_bound.setdefault(ref.bound_name(), ref)
    result = MergeResult(code="")
    take: list[Stmt] = []
    need_imports: list[str] = []
    queue = [n for n in missing if n not in have]
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if name in have:
            result.kept_canonical.append(name)
            continue
        if name in defs:
            stmt = defs[name]
            if not any(s is stmt for s in take):
                take.append(stmt)
                result.copied.append(name)
                queue.extend(sorted(_used(stmt) - seen))
        elif name in import_bound:
            text = _import_text(index, canonical, import_bound[name], name)
            if text and text not in need_imports:
                need_imports.append(text)
                result.imports.append(text)
    order = {id(s): i for i, s in enumerate(dup.body)}
    take.sort(key=lambda s: order.get(id(s), 0))
    body = list(can.body)
    last_import = max((i for i, s in enumerate(body) if _is_import(s)), default=-1)
    new_imports: list[Stmt] = []
    for t in need_imports:
        parsed = cst.parse_statement(t)
        if isinstance(parsed, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            new_imports.append(parsed)
    body = body[: last_import + 1] + new_imports + body[last_import + 1 :]
    guard = next((i for i, s in enumerate(body) if _is_main_guard(s)), len(body))
    copied: list[Stmt] = [
        s.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
        if isinstance(s, (cst.FunctionDef, cst.ClassDef)) else s
        for s in take
    ]
    body = body[:guard] + copied + body[guard:]
    result.code = can.with_changes(body=body).code
    return result
