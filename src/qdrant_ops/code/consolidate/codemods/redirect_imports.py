"""Point one file's imports and references at the canonical module instead of its duplicates.

Rewrites, keeping the file's formatting: ``from old import a as b`` (absolute or relative; a
relative import stays relative when the canonical module is in the same top-level package),
``import pkg.old [as x]``, ``from pkg import old [as x]`` (the local name is kept with ``as`` so
no other line changes), attribute chains ``pkg.old.name``, and dotted string targets of
``mock.patch``/``monkeypatch.setattr``/``importlib.import_module`` and ``["python", "-m", ...]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node

from qdrant_ops.code.consolidate.usage import TARGET_CALLS, call_name, match_dotted, string_value
from qdrant_ops.code.index import ImportRef, RepoIndex
from qdrant_ops.code.positions import lines_of


@dataclass(frozen=True)
class Change:
    """One rewritten reference."""

    line: int
    kind: str  # import | attribute | string
    old: str
    new: str


def _name(node: cst.CSTNode | None) -> str:
    return (get_full_name_for_node(node) or "") if node is not None else ""


def _dotted_expr(name: str) -> cst.Attribute | cst.Name:
    expr = cst.parse_expression(name)
    if not isinstance(expr, (cst.Attribute, cst.Name)):
        # Module names come from paths of identifiers only (code/index.py): a bug if reached.
        raise ValueError(f"not a dotted name: {name}")
    return expr


def _module_expr(name: str) -> cst.Attribute | cst.Name:
    return _dotted_expr(name)


def relative_name(index: RepoIndex, importer: str, target: str) -> tuple[int, str] | None:
    """``(level, module)`` for a relative import of ``target`` from ``importer``, or None."""
    own = index.module_for_path(importer)
    dest = index.module_for_path(target)
    if not own or not dest:
        return None
    pkg = own.split(".") if importer.endswith("__init__.py") else own.split(".")[:-1]
    parts = dest.split(".")
    common = 0
    for a, b in zip(pkg, parts, strict=False):
        if a != b:
            break
        common += 1
    if common == 0:
        return None
    return len(pkg) - common + 1, ".".join(parts[common:])


class RedirectImports(cst.CSTTransformer):
    """Rewrite one file of ``index`` so that every reference to an ``old`` path names its ``new``."""

    def __init__(
        self,
        index: RepoIndex,
        rel: str,
        redirects: Mapping[str, str],
        stay: Mapping[str, set[str]] | None = None,
        new_names: Mapping[str, str] | None = None,
        renames: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.stay = dict(stay or {})
        self.new_names = dict(new_names or {})  # dotted names of files the plan creates
        self.renames = {k: dict(v) for k, v in (renames or {}).items()}  # old file -> {name: canonical's}
        self.index = index
        self.rel = rel
        self.redirects = dict(redirects)
        self.refs: dict[int, ImportRef] = {
            id(r.node): r for r in index.imports_of(rel) if r.node is not None
        }
        self.chains: dict[str, str] = {}  # "pkg.old" -> "pkg.new" for `import pkg.old`
        self.names: dict[str, list[str]] = {
            old: index.names_for_path(old) for old in self.redirects
        }
        self.pending: list[tuple[cst.CSTNode, str, str, str]] = []
        self._extra: list[cst.SimpleStatementLine] = []

    # -- helpers ------------------------------------------------------------------------------

    def _abs_name(self, target: str) -> str:
        if target in self.new_names:
            return self.new_names[target]
        return self.index.import_name_for(target, self.rel) or self.index.module_for_path(target) or ""

    def _note(self, node: cst.CSTNode, kind: str, old: str, new: str) -> None:
        self.pending.append((node, kind, old, new))

    def changes(self, original: cst.Module) -> list[Change]:
        lines = lines_of(original, [n for n, *_ in self.pending])
        return [Change(lines.get(id(n), 0), k, o, nw) for n, k, o, nw in self.pending]

    # -- imports --------------------------------------------------------------------------------

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        if not self._extra:
            return updated_node
        extra, self._extra = self._extra, []
        if not updated_node.body:
            first = extra[0].with_changes(leading_lines=updated_node.leading_lines)
            return cst.FlattenSentinel([first, *extra[1:]])
        return cst.FlattenSentinel([updated_node, *extra])

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        ref = self.refs.get(id(original_node))
        if ref is None:
            return updated_node
        node = updated_node
        if ref.local_path in self.redirects:
            staying = self.stay.get(ref.local_path, set())
            if staying and not isinstance(node.names, cst.ImportStar):
                kept = [a for a in node.names if _name(a.name) in staying]
                moving = [a for a in node.names if _name(a.name) not in staying]
                if not moving:
                    return node
                if kept:
                    moved = node.with_changes(
                        names=[*moving[:-1], moving[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)],
                        lpar=None, rpar=None,
                    )
                    self._extra.append(cst.SimpleStatementLine(body=[self._retarget(ref, original_node, moved)]))
                    return node.with_changes(
                        names=[*kept[:-1], kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]
                    )
            return self._retarget(ref, original_node, node)
        return self._move_submodules(ref, original_node, node)

    def _retarget(self, ref: ImportRef, original_node: cst.ImportFrom, node: cst.ImportFrom) -> cst.ImportFrom:
        if ref.local_path is not None:
            new_path = self.redirects[ref.local_path]
            rel_form = relative_name(self.index, self.rel, new_path) if ref.relative else None
            if ref.relative and new_path in self.new_names:
                # a renamed file stays beside the old one: only the last part of the name changes
                head = _name(original_node.module).rpartition(".")[0]
                stem = self.new_names[new_path].rpartition(".")[2]
                rel_form = (ref.level, f"{head}.{stem}" if head else stem)
            if rel_form is not None:
                level, mod = rel_form
                node = node.with_changes(
                    relative=[cst.Dot()] * level, module=_module_expr(mod) if mod else None
                )
                new_text = "." * level + mod
            else:
                new_text = self._abs_name(new_path)
                node = node.with_changes(relative=[], module=_module_expr(new_text))
            old_text = "." * ref.level + _name(original_node.module) if ref.relative else ref.module
            self._note(original_node, "import", old_text, new_text)
            renamed = self.renames.get(ref.local_path, {})
            if renamed and not isinstance(node.names, cst.ImportStar):
                node = node.with_changes(names=[self._renamed(a, renamed) for a in node.names])
        return node

    @staticmethod
    def _renamed(alias: cst.ImportAlias, renamed: Mapping[str, str]) -> cst.ImportAlias:
        """``make_client`` of a delegating shim becomes ``get_client as make_client``."""
        old = _name(alias.name)
        if old not in renamed:
            return alias
        asname = alias.asname or cst.AsName(name=cst.Name(old))
        return alias.with_changes(name=cst.Name(renamed[old]), asname=asname)

    def _move_submodules(
        self, ref: ImportRef, original_node: cst.ImportFrom, node: cst.ImportFrom
    ) -> cst.ImportFrom | cst.RemovalSentinel:
        moved = {n: p for n, p in ref.submodules.items() if p in self.redirects}
        if not moved or isinstance(node.names, cst.ImportStar):
            return node
        keep = [a for a in node.names if (get_full_name_for_node(a.name) or "") not in moved]
        for name, old_path in moved.items():
            self._extra.append(self._submodule_import(ref, name, old_path, original_node))
        if not keep:
            return cst.RemoveFromParent()
        last = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return node.with_changes(names=[*keep[:-1], last])

    def _submodule_import(
        self, ref: ImportRef, name: str, old_path: str, original: cst.ImportFrom
    ) -> cst.SimpleStatementLine:
        new_path = self.redirects[old_path]
        bound = ref.bound_name(name)
        rel_form = relative_name(self.index, self.rel, new_path) if ref.relative else None
        if rel_form is not None:
            level, mod = rel_form
            parent, _, stem = mod.rpartition(".")
            text = f"from {'.' * level}{parent} import {stem}"
        else:
            full = self._abs_name(new_path)
            parent, _, stem = full.rpartition(".")
            text = f"from {parent} import {stem}" if parent else f"import {stem}"
        if stem != bound:
            text += f" as {bound}"
        old_src = f"from {'.' * ref.level}{_name(original.module)} import {name}"
        self._note(original, "import", old_src, text)
        stmt = cst.parse_statement(text)
        if not isinstance(stmt, cst.SimpleStatementLine):
            raise ValueError(text)  # an import always parses to one: narrows the type for mypy
        return stmt

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        aliases = list(updated_node.names)
        changed = False
        for i, alias in enumerate(original_node.names):
            name = get_full_name_for_node(alias.name) or ""
            path = self.index.resolve(name, self.rel)
            if path not in self.redirects:
                continue
            new = self._abs_name(self.redirects[path])
            aliases[i] = aliases[i].with_changes(name=_module_expr(new))
            if alias.asname is None:
                self.chains[name] = new
            self._note(original_node, "import", name, new)
            changed = True
        return updated_node.with_changes(names=aliases) if changed else updated_node

    # -- references -----------------------------------------------------------------------------

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if not self.chains:
            return updated_node
        full = get_full_name_for_node(original_node.value)
        if full in self.chains:
            new = self.chains[full]
            self._note(original_node, "attribute", f"{full}.{original_node.attr.value}", f"{new}.{original_node.attr.value}")
            return updated_node.with_changes(value=_dotted_expr(new))
        return updated_node

    def _new_string(self, value: str) -> str | None:
        for old, new in self.redirects.items():
            hit = match_dotted(value, self.names[old])
            if hit is None:
                continue
            matched, rest = hit
            old_pref = self.index.module_for_path(old) or matched
            new_pref = self.index.module_for_path(new) or ""
            prefix = matched[: -len(old_pref)] if matched.endswith(old_pref) else ""
            target = prefix + new_pref
            return f"{target}.{rest}" if rest else target
        return None

    def _rewrite_string(self, node: cst.BaseExpression) -> cst.BaseExpression:
        value = string_value(node)
        if value is None or not isinstance(node, cst.SimpleString):
            return node
        new = self._new_string(value)
        if new is None or new == value:
            return node
        self._note(node, "string", value, new)
        return node.with_changes(value=f"{node.prefix}{node.quote}{new}{node.quote}")

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if call_name(original_node) not in TARGET_CALLS:
            return updated_node
        args = [
            a.with_changes(value=self._rewrite_string(o.value)) if isinstance(o.value, cst.SimpleString) else a
            for a, o in zip(updated_node.args, original_node.args, strict=True)
        ]
        return updated_node.with_changes(args=args)

    def _rewrite_argv(self, elements: Sequence[cst.BaseElement], originals: Sequence[cst.BaseElement]) -> list[cst.BaseElement]:
        out = list(elements)
        for i in range(1, len(originals)):
            if string_value(originals[i - 1].value) == "-m" and isinstance(originals[i].value, cst.SimpleString):
                out[i] = out[i].with_changes(value=self._rewrite_string(originals[i].value))
        return out

    def leave_List(self, original_node: cst.List, updated_node: cst.List) -> cst.List:
        return updated_node.with_changes(elements=self._rewrite_argv(updated_node.elements, original_node.elements))

    def leave_Tuple(self, original_node: cst.Tuple, updated_node: cst.Tuple) -> cst.Tuple:
        return updated_node.with_changes(elements=self._rewrite_argv(updated_node.elements, original_node.elements))


def redirect_file(
    index: RepoIndex,
    rel: str,
    redirects: Mapping[str, str],
    stay: Mapping[str, set[str]] | None = None,
    new_names: Mapping[str, str] | None = None,
    renames: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[str, list[Change]]:
    """The new text of ``rel`` and the references rewritten in it (empty when nothing changes)."""
    f = index.files[rel]
    if f.module is None:
        return f.source, []
    transformer = RedirectImports(index, rel, redirects, stay, new_names, renames)
    new_module = f.module.visit(transformer)
    changes = transformer.changes(f.module)
    if not changes:
        return f.source, []
    return new_module.code, changes
