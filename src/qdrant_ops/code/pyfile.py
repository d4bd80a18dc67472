"""One Python file parsed with libcst, and the imports and main guard read from its tree."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
import libcst.matchers as m

from qdrant_ops.code.positions import node_lines

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportRef:
    """One imported module: ``import a.b as c`` or ``from a.b import x as y, z``.

    ``module`` is the absolute dotted name (relative imports resolved); ``names`` the names taken
    from it (empty for ``import a.b``); ``alias`` the ``as`` name of ``import a.b as c``;
    ``asnames`` the ``as`` names of a from-import (``{"x": "y"}``); ``submodules`` the imported
    names that are themselves repository modules (``from pkg import old`` -> ``{"old": path}``);
    ``local_path`` the repository file ``module`` resolves to, None when it is outside the
    repository (the real ``qdrant_client``) or a namespace directory. ``shadowed_by`` is set on
    an import that means an installed package (``from qdrant_client import QdrantClient``) where
    Python would load a repository file of that name instead: the file that breaks it.
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
    shadowed_by: str | None = None

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


def parse_file(root: Path, rel: str) -> PyFile | None:
    """``rel`` read and parsed; None where it cannot be read, a ``PyFile`` with ``error`` set where
    it cannot be parsed."""
    path = root / rel
    try:
        raw = path.read_bytes()
    except OSError as exc:
        log.warning("cannot read %s: %s", rel, exc)
        return None
    try:
        module = cst.parse_module(raw)
    except (cst.ParserSyntaxError, UnicodeDecodeError, LookupError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.info("cannot parse %s: %s", rel, first)
        text = raw.decode("utf-8", errors="replace")
        return PyFile(rel, path, raw, text, None, f"{type(exc).__name__}: {first}")
    try:
        text = raw.decode(module.encoding)
    except (UnicodeDecodeError, LookupError):
        text = module.code
    return PyFile(rel, path, raw, text, module)


def import_nodes(module: cst.Module) -> list[tuple[cst.Import | cst.ImportFrom, int]]:
    """Every import statement of ``module``, nested ones included, with its line number."""
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
    return [(node, lines.get(id(node), 0)) for node in nodes]


def has_main_guard(module: cst.Module) -> bool:
    """Whether the module's top level holds ``if __name__ == "__main__":`` (either way round)."""
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
    for stmt in module.body:
        if m.matches(stmt, guard) and isinstance(stmt, cst.If):
            test = stmt.test
            if isinstance(test, cst.Comparison):
                strings = [test.left] + [c.comparator for c in test.comparisons]
                for s in strings:
                    if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__":
                        return True
    return False


def defined_names(module: cst.Module | None, source: str) -> set[str]:
    """Names a module binds at top level by its own code (defs, classes, assignments), not by
    imports. Read from the text where the module does not parse."""
    if module is None:
        return set(_DEF_RE.findall(source)) | set(_ASSIGN_RE.findall(source))
    out: set[str] = set()

    def walk(body: Sequence[cst.CSTNode]) -> None:
        for stmt in body:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                out.add(stmt.name.value)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                        [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else []
                    )
                    out.update(t.value for t in targets if isinstance(t, cst.Name))
            elif isinstance(stmt, (cst.If, cst.Try, cst.With)):
                walk(stmt.body.body)
                if isinstance(stmt, cst.Try):
                    for h in stmt.handlers:
                        walk(h.body.body)

    walk(module.body)
    return out


_DEF_RE = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.M)
_ASSIGN_RE = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)", re.M)


def asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is None:
        return None
    target = alias.asname.name
    return target.value if isinstance(target, cst.Name) else None
