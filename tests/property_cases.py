"""The property-based run (issue 25 item 7): hypothesis strategies built from the collection corpus
generate a collection (config, payload indexes, aliases, points) and a pair of engines; every verb
then runs through the CLI as a user runs it. Each run must end in 0, or 1-4 with one line on
stderr: never 70, never a traceback.

Used by tests/reliability/test_property_run.py (a few examples) and benchmarks/property_run.py (hundreds).
"""

from __future__ import annotations

import copy
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from qdrant_client import models as m

from collection_corpus import CORPUS, Case, make_points
from collection_matrix import cli, make_source, store_uri
from qdrant_ops.endpoints.base import Point
from qdrant_ops.endpoints.open import close_all

ALLOWED = {0, 1, 2, 3, 4}
ENGINE_PAIRS = [("local", "local"), ("memory", "memory"), ("edge", "edge"), ("local", "edge"), ("edge", "local")]
_VECTOR_KEYS = ("vectors_config", "sparse_vectors_config")

# payload values: what JSON holds, plus what Python callers put in local mode (big ints, -0.0)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
payload_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
payloads = st.dictionaries(st.text(max_size=8), payload_values, max_size=4)
# what only local mode stores (a Python float): NaN and infinities, which JSON engines cannot hold
wild_payloads = st.dictionaries(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=2)


def _merge(base: Case, others: list[Case]) -> Case:
    """``base``'s vectors, with the other cases' collection settings, indexes and aliases laid
    over it (later ones win): combinations no single corpus case has."""
    kwargs = copy.deepcopy(base.kwargs)
    indexes = dict(base.indexes)
    aliases = list(base.aliases)
    for other in others:
        kwargs.update({k: v for k, v in other.kwargs.items() if k not in _VECTOR_KEYS})
        indexes.update(other.indexes)
        aliases += [a for a in other.aliases if a not in aliases]
    return Case("+".join([base.feature, *(o.feature for o in others)]), kwargs, [], indexes, aliases)


@st.composite
def vector_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Dense vectors (unnamed or named, any distance/datatype/multi) and sparse ones."""
    def one() -> m.VectorParams:
        multi = draw(st.booleans())
        return m.VectorParams(
            size=draw(st.integers(1, 8)),
            distance=draw(st.sampled_from(list(m.Distance))),
            datatype=draw(st.sampled_from([None, m.Datatype.FLOAT32, m.Datatype.FLOAT16, m.Datatype.UINT8])),
            on_disk=draw(st.sampled_from([None, True, False])),
            multivector_config=m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM) if multi else None,
        )

    shape = draw(st.sampled_from(["unnamed", "named", "none"]))
    out: dict[str, Any] = {}
    if shape == "unnamed":
        out["vectors_config"] = one()
    elif shape == "named":
        names = draw(st.lists(st.sampled_from(["a", "b", "dense", "é"]), min_size=1, max_size=3, unique=True))
        out["vectors_config"] = {n: one() for n in names}
    else:
        out["vectors_config"] = {}
    sparse = draw(st.lists(st.sampled_from(["s", "bm25", "t"]), max_size=2, unique=True))
    if sparse:
        out["sparse_vectors_config"] = {
            n: m.SparseVectorParams(modifier=draw(st.sampled_from([None, m.Modifier.IDF, m.Modifier.NONE])))
            for n in sparse
        }
    return out


@st.composite
def generated_collections(draw: st.DrawFn) -> Case:
    """A collection: a corpus case, or generated vectors, with 0-3 other cases' settings over it,
    and 0-12 points whose payloads are generated JSON beside the corpus's own fields."""
    base = draw(st.sampled_from(CORPUS))
    others = draw(st.lists(st.sampled_from(CORPUS), max_size=3))
    case = _merge(base, others)
    if draw(st.booleans()):
        case.kwargs.update(draw(vector_configs()))
    n = draw(st.integers(0, 12))
    ids = draw(st.sampled_from(["int", "uuid", "mixed"]))
    points = make_points(case.kwargs, n, seed=draw(st.integers(0, 2**16)), ids=ids)
    extra = draw(st.lists(payloads | wild_payloads, min_size=len(points), max_size=len(points)))
    scale = draw(st.sampled_from([1.0, 1.0, 1e-30, 1e30]))  # tiny and huge vectors too
    case.points = [
        Point(p.id, {k: _scaled(v, scale) for k, v in p.vectors.items()}, {**(p.payload or {}), **e})
        for p, e in zip(points, extra, strict=True)
    ]
    return case


def _scaled(v: Any, scale: float) -> Any:
    if scale == 1.0 or not isinstance(v, list):
        return v
    return [_scaled(x, scale) if isinstance(x, list) else x * scale for x in v]


@dataclass
class Outcome:
    """One verb's run: the command, its exit code and its stderr."""

    verb: str
    code: int
    stderr: str
    stdout: str = ""

    def problem(self) -> str | None:
        """Why this run breaks the property (None when it holds)."""
        # the error line; warnings logged before it are not errors
        lines = [ln for ln in self.stderr.splitlines() if ln.strip() and not ln.startswith(("WARNING ", "INFO "))]
        if "Traceback" in self.stderr + self.stdout:
            return f"{self.verb}: traceback: {lines[-1] if lines else ''}"
        if self.code not in ALLOWED:
            return f"{self.verb}: exit {self.code}: {lines[0] if lines else '(no message)'}"
        if self.code == 1:
            return None  # a check failed: its report (stdout) says what
        if self.code == 4 and not lines and "partial" in self.stdout:
            return None  # migrate reports a partial run in its report (restore with an error line)
        if self.code != 0 and len(lines) != 1:
            return f"{self.verb}: exit {self.code} with {len(lines)} lines on stderr: {lines[:3]}"
        return None


@dataclass
class Tally:
    """What a property run saw: runs per verb and exit code, and every problem found."""

    collections: int = 0
    codes: Counter[tuple[str, int]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)
    pairs: Counter[str] = field(default_factory=Counter)
    checks: list[str] = field(default_factory=list)  # the runs that ended in exit 1, and why
    points: int = 0

    def add(self, outcome: Outcome, label: str) -> None:
        self.codes[(outcome.verb, outcome.code)] += 1
        if outcome.verb == "setup":  # the source engine refused the input: nothing to run
            self.messages[f"setup: {_shape(outcome.stderr)}"] += 1
            return
        if outcome.code:
            text = outcome.stdout if outcome.code == 1 else outcome.stderr
            first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("WARNING ", "INFO "))), "")
            if outcome.code == 1:  # the report's failing line
                first = next((ln for ln in text.splitlines() if "FAIL" in ln or "differ" in ln), first)
                self.checks.append(f"[{label}] {outcome.verb}: {first.strip()[:200]}")
            self.messages[f"{outcome.verb} exit {outcome.code}: {_shape(first)}"] += 1
        problem = outcome.problem()
        if problem:
            self.problems.append(f"[{label}] {problem}")


def _shape(line: str) -> str:
    """A message with its names and numbers blurred, so alike messages count together."""
    out = []
    for word in line.split():
        out.append("…" if any(ch.isdigit() for ch in word) or word.startswith(("/", "'", '"')) else word)
    return " ".join(out)[:160]


def run_one(case: Case, pair: tuple[str, str], work: Path) -> list[Outcome]:
    """Make ``case`` at the source engine, then: backup, verify the backup, restore into the target,
    verify the target against the backup (--full), migrate into a second target, and verify the
    two live stores (--full)."""
    src_engine, dst_engine = pair
    src = store_uri(src_engine, work / "src")
    dst = store_uri(dst_engine, work / "dst")
    mig = store_uri(dst_engine, work / "mig") if dst_engine != "memory" else ":memory:"
    name = "gen"
    try:
        make_source(case, src, name)
    except Exception as exc:  # noqa: BLE001 - an input the source engine itself rejects
        close_all()
        return [Outcome("setup", -1, f"source engine rejected the collection: {type(exc).__name__}: {exc}")]
    out: list[Outcome] = []

    def run(verb: str, *args: str) -> Outcome:
        res = cli(*args)
        o = Outcome(verb, res.exit_code, res.stderr, res.stdout)
        out.append(o)
        return o

    bk = work / "bk"
    b = run("backup", "backup", "--source", src, "--backup-path", str(bk), "--no-tar")
    if b.code == 0:
        run("verify-backup", "verify", str(bk))
        suffix = ["--suffix", "_r"] if dst_engine == "memory" else []
        r = run("restore", "restore", str(bk), "--target", dst, *suffix)
        if r.code == 0:
            run("verify-against", "verify", str(bk), "--against", dst, "--full", *suffix)
    fv = ["--format-version", "v2"] if src_engine == dst_engine == "memory" else []
    mg = run("migrate", "migrate", "--source", src, "--target", mig, "--backup-path", str(work / "mstate"), "--no-backup", *fv)
    if mg.code == 0:
        ren = ["--rename", f"{name}={name}_v2"] if fv else []
        run("verify-live", "verify", "--source", src, "--target", mig, "--full", *ren)
    close_all()
    return out


def run_many(examples: int, work: Path, seed: int = 0, tally: Tally | None = None) -> Tally:
    """``examples`` generated collections through every verb, each on a drawn engine pair."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    tally = tally or Tally()

    @hseed(seed)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(generated_collections())
    def prop(case: Case) -> None:
        pair = ENGINE_PAIRS[tally.collections % len(ENGINE_PAIRS)]  # each pair as often
        tally.collections += 1
        tally.pairs[f"{pair[0]}->{pair[1]}"] += 1
        tally.points += len(case.points)
        here = work / f"run{tally.collections}"
        label = f"#{tally.collections} {pair[0]}->{pair[1]} {case.feature} ({len(case.points)} points)"
        try:
            for o in run_one(case, pair, here):
                tally.add(o, label)
        finally:
            shutil.rmtree(here, ignore_errors=True)

    prop()
    return tally
