"""Thin wrappers over a client module: functions that only return the call of one of its functions
with their own parameters passed through (``def make(): return get_client()``), and aliases of its
functions or classes (``connect = get_client``). Such a module adds no behaviour; its importers can
take the target's names directly (``from core.qdrant import get_client as make``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from qdrant_ops.code.index import ImportRef, RepoIndex

if TYPE_CHECKING:
    from qdrant_ops.code.consolidate.clients import ClientModule


def delegates(
    index: RepoIndex, module: cst.Module, refs: list[ImportRef], found: dict[str, ClientModule]
) -> tuple[str, dict[str, str]] | None:
    """``(target file, {function: target's function})`` when every definition of ``module`` is a
    function that only returns the call of a function imported from one client module, with its
    own parameters passed through unchanged (``def make(): return get_client()``), or an alias
    (``make = get_client``)."""
    imported: dict[str, tuple[str, str]] = {}  # local name -> (file, name there)
    for ref in refs:
        if ref.local_path and ref.local_path in found and found[ref.local_path].is_client:
            for n in ref.names:
                if n != "*":
                    imported[ref.bound_name(n)] = (ref.local_path, n)
    if not imported:
        return None
    out: dict[str, str] = {}
    targets: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, cst.FunctionDef):
            hit = _delegate_call(stmt, imported)
            if hit is None:
                return None
            targets.add(hit[0])
            out[stmt.name.value] = hit[1]
            continue
        if isinstance(stmt, cst.SimpleStatementLine):
            ok = True
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom, cst.Pass)):
                    continue
                if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
                    continue
                if (isinstance(small, cst.Assign) and len(small.targets) == 1
                        and isinstance(small.targets[0].target, cst.Name)):
                    name = small.targets[0].target.value
                    if name == "__all__":
                        continue
                    src = imported.get(small.value.value) if isinstance(small.value, cst.Name) else None
                    # an alias of a function or class; a constant (URL = DEFAULT_URL) is data, not a wrapper
                    if src is not None and _defines_callable(index, *src):
                        targets.add(src[0])
                        out[name] = src[1]
                        continue
                ok = False
            if ok:
                continue
        return None
    if len(targets) != 1 or not out:
        return None
    return targets.pop(), out


def _defines_callable(index: RepoIndex, rel: str, name: str) -> bool:
    f = index.files.get(rel)
    return f is not None and f.module is not None and any(
        isinstance(st, (cst.FunctionDef, cst.ClassDef)) and st.name.value == name for st in f.module.body
    )


def _delegate_call(fn: cst.FunctionDef, imported: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    params = fn.params
    if params.star_arg is not cst.MaybeSentinel.DEFAULT or params.star_kwarg is not None or params.kwonly_params:
        return None
    names = [p.name.value for p in [*params.posonly_params, *params.params]]
    if any(p.default is not None for p in [*params.posonly_params, *params.params]) or fn.decorators:
        return None
    body = [s for s in fn.body.body if not (
        isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Expr)
        and isinstance(s.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))]
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    ret = body[0].body[0]
    if not isinstance(ret, cst.Return) or not isinstance(ret.value, cst.Call):
        return None
    call = ret.value
    if not isinstance(call.func, cst.Name) or call.func.value not in imported:
        return None
    passed = []
    for i, arg in enumerate(call.args):
        if arg.star or not isinstance(arg.value, cst.Name):
            return None
        kw = arg.keyword.value if arg.keyword is not None else None
        # positional in order, or keyword with the same name: the call is the caller's own call
        if (kw is None and (i >= len(names) or arg.value.value != names[i])) or (kw is not None and kw != arg.value.value):
            return None
        passed.append(arg.value.value)
    if passed != names:
        return None
    return imported[call.func.value]
