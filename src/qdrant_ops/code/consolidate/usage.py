"""Which names of a module its importers actually use, and where.

Found through ``from mod import a, b``, attribute uses of an imported module object (``mod.a``,
``pkg.mod.a``), ``patch.object(mod, "a")``/``monkeypatch.setattr(mod, "a", ...)`` and dotted
string targets (``mock.patch("pkg.mod.a")``) anywhere in the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.helpers import get_full_name_for_node

from qdrant_ops.code.index import RepoIndex
from qdrant_ops.code.positions import lines_of

# Calls whose string arguments name a module or a module attribute.
TARGET_CALLS = frozenset(
    {
        "patch", "multiple", "setattr", "delattr", "import_module", "run_module", "find_spec",
        "__import__", "importorskip", "import_string", "locate", "resolve_name", "spy", "dict",
    }
)


@dataclass
class Usage:
    """The names importers take from one module: ``name -> ["file:line", ...]``."""

    target: str
    names: dict[str, list[str]] = field(default_factory=dict)
    importers: dict[str, list[int]] = field(default_factory=dict)
    star: list[str] = field(default_factory=list)

    def add(self, name: str, where: str) -> None:
        self.names.setdefault(name, [])
        if where not in self.names[name]:
            self.names[name].append(where)


def call_name(call: cst.Call) -> str:
    full = get_full_name_for_node(call.func) or ""
    return full.rsplit(".", 1)[-1]


def string_value(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def match_dotted(value: str, names: list[str]) -> tuple[str, str] | None:
    """``(module name, rest)`` when ``value`` is one of ``names`` or one followed by ``.attr``."""
    for name in sorted(names, key=len, reverse=True):
        if value == name:
            return name, ""
        if value.startswith(name + ".") and all(p.isidentifier() for p in value[len(name) + 1 :].split(".")):
            return name, value[len(name) + 1 :]
    return None


class _UseFinder(cst.CSTVisitor):
    def __init__(self, bound: set[str], dotted: set[str], module_names: list[str]) -> None:
        self.bound = bound  # local names bound to the module object
        self.dotted = dotted  # full dotted chains that reach it (import pkg.mod)
        self.module_names = module_names
        self.found: list[tuple[str, cst.CSTNode]] = []

    def _is_module(self, node: cst.BaseExpression) -> bool:
        full = get_full_name_for_node(node)
        return full is not None and (full in self.bound or full in self.dotted)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if self._is_module(node.value):
            self.found.append((node.attr.value, node))
            return False
        return True

    def visit_Call(self, node: cst.Call) -> None:
        name = call_name(node)
        if name not in TARGET_CALLS:
            return
        args = list(node.args)
        if len(args) >= 2 and self._is_module(args[0].value):
            attr = string_value(args[1].value)
            if attr and attr.isidentifier():
                self.found.append((attr, args[1].value))
        for arg in args:
            value = string_value(arg.value)
            if value:
                hit = match_dotted(value, self.module_names)
                if hit and hit[1]:
                    self.found.append((hit[1].split(".")[0], arg.value))


def find_usage(index: RepoIndex, target: str) -> Usage:
    """Every name of ``target`` used elsewhere in the repository, with its file:line."""
    usage = Usage(target)
    module_names = index.names_for_path(target)
    per_file: dict[str, tuple[set[str], set[str]]] = {}
    for rel, ref in index.importers_of(target):
        if rel == target:
            continue
        usage.importers.setdefault(rel, []).append(ref.lineno)
        bound, dotted = per_file.setdefault(rel, (set(), set()))
        if ref.local_path == target:
            if ref.names:
                for n in ref.names:
                    if n == "*":
                        usage.star.append(f"{rel}:{ref.lineno}")
                    else:
                        usage.add(n, f"{rel}:{ref.lineno}")
            elif ref.alias:
                bound.add(ref.alias)
            else:
                dotted.add(ref.module)
        for n, path in ref.submodules.items():
            if path == target:
                bound.add(ref.bound_name(n))
    needle = [n.rsplit(".", 1)[-1] for n in module_names]
    for rel, f in index.files.items():
        if rel == target or f.module is None:
            continue
        bound, dotted = per_file.get(rel, (set(), set()))
        if not bound and not dotted and not any(n in f.source for n in needle):
            continue
        finder = _UseFinder(bound, dotted, module_names)
        f.module.visit(finder)
        if not finder.found:
            continue
        lines = lines_of(f.module, [n for _, n in finder.found])
        for name, node in finder.found:
            usage.add(name, f"{rel}:{lines.get(id(node), 0)}")
            if rel not in usage.importers:
                usage.importers.setdefault(rel, []).append(lines.get(id(node), 0))
    return usage
