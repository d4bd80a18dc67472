"""Line numbers of chosen libcst nodes, computed in one cheap code-generation pass.

libcst's ``PositionProvider`` records a range for every node of a module, which costs about twice
as much as parsing it. Reports only need the first line of a few nodes (imports, attribute uses,
string targets), so this walks the code generator once and notes the line where each wanted node
starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState


class _LineState(CodegenState):
    """A code generator state that notes the line on which wanted nodes start."""

    __slots__ = ("_wanted", "_counted", "_newlines", "found")

    def __init__(
        self, module: cst.Module, wanted: Callable[[cst.CSTNode], bool]
    ) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self._wanted = wanted
        self._counted = 0
        self._newlines = 0
        self.found: dict[int, int] = {}

    def before_codegen(self, node: cst.CSTNode) -> None:
        if self._wanted(node):
            tokens = self.tokens
            for i in range(self._counted, len(tokens)):
                self._newlines += tokens[i].count("\n")
            self._counted = len(tokens)
            self.found.setdefault(id(node), self._newlines + 1)


def node_lines(
    module: cst.Module, wanted: Callable[[cst.CSTNode], bool]
) -> dict[int, int]:
    """``{id(node): first line}`` for every node of ``module`` for which ``wanted`` is true.

    Keys are ``id()`` of the nodes in this very module object; keep the module alive while using
    them.
    """
    state = _LineState(module, wanted)
    module._codegen(state)
    return state.found


def lines_of(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, int]:
    """``{id(node): first line}`` for the given nodes of ``module``."""
    ids = {id(n) for n in nodes}
    if not ids:
        return {}
    return node_lines(module, lambda n: id(n) in ids)
