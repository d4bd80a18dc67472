"""Group duplicated Qdrant client modules and choose the canonical one of each group.

Similarity is computed on a normalised token stream of the syntax tree, so it survives
reformatting, comments, docstrings and renamed locals: each node contributes its type; names keep
their value unless they are a function's parameter or local (renamed ``$0``, ``$1`` ... by first
appearance); literals keep their value; imports are left out (where a module imports from is
packaging, not behaviour). Two modules score the Dice coefficient of their multisets of token
5-grams, which also ignores the order of their definitions.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst

from qdrant_ops.code.consolidate.clients import ClientModule
from qdrant_ops.code.index import RepoIndex
from qdrant_ops.errors import UsageError

log = logging.getLogger(__name__)

NGRAM = 5
DEFAULT_MIN_SIMILARITY = 0.6


class _Tokens(cst.CSTVisitor):
    def __init__(self) -> None:
        self.out: list[str] = []
        self.scopes: list[dict[str, str]] = []

    def _local(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Comment(self, node: cst.Comment) -> bool:
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        scope: dict[str, str] = {}
        for p in [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]:
            scope.setdefault(p.name.value, f"${len(scope)}")
        for star in (node.params.star_arg, node.params.star_kwarg):
            if isinstance(star, cst.Param):
                scope.setdefault(star.name.value, f"${len(scope)}")
        collector = _Assigned()
        node.body.visit(collector)
        for name in collector.names:
            scope.setdefault(name, f"${len(scope)}")
        self.out += ["FunctionDef", node.name.value]
        self.scopes.append(scope)
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        # docstrings are documentation, not behaviour
        if len(node.body) == 1 and isinstance(node.body[0], cst.Expr):
            if isinstance(node.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
                return False
        return True

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.Comment, cst.Import, cst.ImportFrom)):
            return False
        if isinstance(node, cst.Name):
            self.out.append(self._local(node.value) or node.value)
        elif isinstance(node, cst.SimpleString):
            self.out.append(repr(node.evaluated_value))
        elif isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
            self.out.append(node.value)
        elif not isinstance(
            node,
            (
                cst.TrailingWhitespace, cst.EmptyLine, cst.SimpleWhitespace, cst.ParenthesizedWhitespace,
                cst.Newline, cst.LeftParen, cst.RightParen, cst.Comma, cst.Module, cst.IndentedBlock,
                cst.SimpleStatementLine, cst.Arg, cst.Param, cst.Parameters, cst.Annotation,
            ),
        ):
            self.out.append(type(node).__name__)
        return super().on_visit(node)


class _Assigned(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: list[str] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def _t(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Name):
            self.names.append(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for el in node.elements:
                self._t(el.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._t(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._t(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._t(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._t(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._t(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._t(node.target)


def tokens(module: cst.Module) -> list[str]:
    """The normalised token stream of a module."""
    visitor = _Tokens()
    module.visit(visitor)
    return visitor.out


def _ngrams(toks: Sequence[str]) -> Counter[tuple[str, ...]]:
    if len(toks) < NGRAM:
        return Counter([tuple(toks)]) if toks else Counter()
    return Counter(tuple(toks[i : i + NGRAM]) for i in range(len(toks) - NGRAM + 1))


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Dice coefficient of the token 5-gram multisets: 1.0 for the same code, 0.0 for nothing shared."""
    ga, gb = _ngrams(a), _ngrams(b)
    total = sum(ga.values()) + sum(gb.values())
    if total == 0:
        return 0.0
    return round(2 * sum((ga & gb).values()) / total, 4)


@dataclass
class Member:
    rel: str
    module: str | None
    role: str  # canonical | identical | equivalent | near-duplicate | shim
    score: float
    importers: int
    api: list[str] = field(default_factory=list)


@dataclass
class Group:
    canonical: str
    reason: str
    members: list[Member]

    @property
    def duplicates(self) -> list[Member]:
        return [m for m in self.members if m.role != "canonical"]


def _importer_files(index: RepoIndex, rel: str) -> set[str]:
    return {f for f, _ in index.importers_of(rel) if f != rel}


def find_groups(
    index: RepoIndex,
    clients: dict[str, ClientModule],
    *,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    canonical: Iterable[str] = (),
) -> tuple[list[Group], dict[tuple[str, str], float]]:
    """Groups of duplicated client modules, each with its canonical member, and all pair scores."""
    candidates = [
        c for c in clients.values()
        if c.is_client and not c.is_test and "lookalike" not in c.kinds
        and "shim" not in c.kinds
        and not (c.is_script and not c.shadows and not _importer_files(index, c.rel))
    ]
    toks: dict[str, list[str]] = {}
    digest: dict[str, str] = {}
    for c in candidates:
        f = index.files[c.rel]
        if f.module is not None:
            toks[c.rel] = tokens(f.module)
            digest[c.rel] = hashlib.sha256(f.raw.replace(b"\r\n", b"\n")).hexdigest()
    rels = sorted(toks)
    scores: dict[tuple[str, str], float] = {}
    parent = {r: r for r in rels}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, a in enumerate(rels):
        for b in rels[i + 1 :]:
            s = 1.0 if digest[a] == digest[b] else similarity(toks[a], toks[b])
            scores[(a, b)] = scores[(b, a)] = s
            if s >= min_similarity and toks[a] and toks[b]:
                parent[find(a)] = find(b)
    clusters: dict[str, list[str]] = {}
    for r in rels:
        clusters.setdefault(find(r), []).append(r)
    shims: dict[str, list[str]] = {}
    for c in clients.values():
        if "shim" in c.kinds and c.shim_of:
            target = c.shim_of
            while target in clients and "shim" in clients[target].kinds and clients[target].shim_of:
                target = clients[target].shim_of or target
            shims.setdefault(target, []).append(c.rel)
    wanted = {resolve_canonical(index, x): x for x in canonical}
    grouped = {m_ for members in clusters.values() for m_ in members
               if len(members) > 1 or any(shims.get(x) for x in members)}
    for rel, value in wanted.items():
        check_canonical(clients, rel, value, grouped)
    groups: list[Group] = []
    for members in clusters.values():
        attached = [s for m_ in members for s in shims.get(m_, [])]
        if len(members) < 2 and not attached:
            continue
        chosen, reason = choose_canonical(index, clients, members, set(wanted))
        out = [_member(index, clients, chosen, "canonical", 1.0)]
        for m_ in sorted(members):
            if m_ == chosen:
                continue
            s = scores.get((m_, chosen), 0.0)
            role = "identical" if digest[m_] == digest[chosen] else "equivalent" if s >= 0.999 else "near-duplicate"
            out.append(_member(index, clients, m_, role, s))
        for s_ in sorted(attached):
            out.append(_member(index, clients, s_, "shim", 1.0))
        groups.append(Group(chosen, reason, out))
    groups.sort(key=lambda g: g.canonical)
    return groups, scores


def _member(index: RepoIndex, clients: dict[str, ClientModule], rel: str, role: str, score: float) -> Member:
    return Member(
        rel=rel,
        module=index.module_for_path(rel),
        role=role,
        score=score,
        importers=len(_importer_files(index, rel)),
        api=clients[rel].public_api if rel in clients else [],
    )


def resolve_canonical(index: RepoIndex, value: str) -> str:
    """A ``--canonical`` argument (dotted module name or path) as a repository path."""
    v = value.strip().removeprefix("./")
    if v in index.files:
        return v
    found = index.path_for_module(v)
    if found is not None:
        return found
    if (index.root / v).is_file():
        if not v.endswith(".py"):
            raise UsageError(f"--canonical {value!r} is not a Python module (only a .py file can be canonical)")
        raise UsageError(f"--canonical {value!r} was left out of the analysis (--exclude, or a tool or vendor folder)")
    raise UsageError(f"--canonical {value!r} is not a module or file of this repository")


def check_canonical(clients: dict[str, ClientModule], rel: str, value: str, grouped: set[str]) -> None:
    """Refuse a ``--canonical`` that cannot be one: exit 2 with the reason, never ignore it."""
    c = clients.get(rel)
    why = None
    if c is None:
        why = "it is not a Qdrant client module: it neither constructs, wraps nor re-exports qdrant_client's client"
    elif c.shadows:
        why = "it shadows the qdrant_client package, so it can never be the module to keep"
    elif "lookalike" in c.kinds and not c.is_client:
        why = f"its {', '.join(c.lookalikes)} is built on something other than qdrant_client"
    elif "shim" in c.kinds:
        why = f"it only re-exports {c.shim_of}; name that one"
    elif c.is_test:
        why = "it is test code"
    elif rel not in grouped:
        why = "it has no duplicate to consolidate onto it"
    if why:
        raise UsageError(f"--canonical {value!r} ({rel}) cannot be canonical: {why}")


def choose_canonical(
    index: RepoIndex, clients: dict[str, ClientModule], members: list[str], wanted: set[str]
) -> tuple[str, str]:
    """The member to keep: the one asked for, else most importers, then the most complete API."""
    asked = [m_ for m_ in members if m_ in wanted]
    if asked:
        return asked[0], "chosen with --canonical"
    allowed = [m_ for m_ in members if not clients[m_].shadows] or members

    def key(rel: str) -> tuple[int, int, int, int, str]:
        info = clients[rel]
        return (
            -len(_importer_files(index, rel)),
            -len(info.public_api),
            0 if not info.is_script else 1,
            rel.count("/"),
            rel,
        )

    ranked = sorted(allowed, key=key)
    best = ranked[0]
    n_imp = len(_importer_files(index, best))
    n_api = len(clients[best].public_api)
    if len(ranked) > 1 and n_imp == len(_importer_files(index, ranked[1])):
        reason = f"most complete API ({n_api} public names) among members with {n_imp} importers"
    else:
        reason = f"most importers ({n_imp} files)"
    shadowing = [m_ for m_ in members if clients[m_].shadows]
    if shadowing:
        reason += "; shadowing modules are never canonical"
    return best, reason
