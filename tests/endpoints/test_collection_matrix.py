"""The round-trip matrix (issue 25 item 1): every corpus feature x verb x engine is either an exact
round trip (config as the engine reports it, payload indexes, aliases and points) or a refusal
before anything is written, exit 2, naming the feature and the engine.

Verbs run through the CLI as a user runs them: ``backup`` then ``restore``, and ``migrate``. The
source and the target are two stores of the same engine (``:memory:`` is one shared store, so its
targets are renamed). docs/collection-features.md is this matrix as a table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collection_corpus import CORPUS, Case, spec_of
from collection_matrix import (
    ENGINE_NAMES,
    ENGINES,
    cli,
    comparable,
    make_source,
    missing_from,
    points_differ,
    points_of,
    schema_of,
    state_of,
    store_uri,
)
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.errors import UnsupportedError

# (feature, engine) -> words the refusal names besides the engine
REFUSED: dict[tuple[str, str], str] = {
    ("no-vectors", "edge"): "no vectors",
    # Edge re-quantizes turbo4 vectors on every write (turbo8/16 stay within the float tolerance).
    ("datatype-turbo4", "edge"): "datatype turbo4",
}
VERBS = ("restore", "migrate")
# The whole matrix takes about 4 minutes on one core: these features run in the quick suite, the
# rest with ``make test-slow``.
QUICK = {"index-text", "payload-id-tracker-memory", "no-vectors", "ids-mixed", "datatype-float16-with-sparse", "aliases"}
CASES = [pytest.param(c, id=c.feature, marks=() if c.feature in QUICK else pytest.mark.slow) for c in CORPUS]
NAME = "c"


def _target_name(engine: str, verb: str) -> str:
    if engine != "memory":
        return NAME
    return f"{NAME}_r" if verb == "restore" else f"{NAME}_v2"


def _run_verb(verb: str, src: str, dst: str, engine: str, tmp_path: Path) -> tuple[int, str]:
    if verb == "restore":
        res = cli("backup", "--source", src, "--backup-path", str(tmp_path / "bk"), "--no-tar", "--no-verify")
        assert res.exit_code == 0, res.stdout + res.stderr
        args = ["restore", str(tmp_path / "bk"), "--target", dst]
        if engine == "memory":
            args += ["--suffix", "_r"]
        res = cli(*args)
    else:
        args = ["migrate", "--source", src, "--target", dst, "--no-backup", "--backup-path", str(tmp_path / "mig")]
        if engine == "memory":
            args += ["--format-version", "v2"]
        res = cli(*args)
    return res.exit_code, res.stderr


def _one_line_refusal(code: int, stderr: str, case: Case, engine: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert code == 2, stderr
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert REFUSED[(case.feature, engine)] in lines[0] and ENGINE_NAMES[engine] in lines[0], lines[0]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_round_trip_or_refusal(case: Case, engine: str, verb: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    src = store_uri(engine, tmp_path / "src")
    dst = store_uri(engine, tmp_path / "dst")
    if (case.feature, engine) in REFUSED:
        # The engine cannot hold the feature: making such a collection there is refused, and a
        # verb bringing one from local mode is refused before the target is touched.
        with pytest.raises(UnsupportedError) as err:
            open_endpoint(dst).create_collection(NAME, spec_of(case, NAME))
        assert REFUSED[(case.feature, engine)] in str(err.value) and ENGINE_NAMES[engine] in str(err.value)
        src = store_uri("local", tmp_path / "src")
        make_source(case, src, NAME)
        before = state_of(dst, tmp_path)
        code, stderr = _run_verb(verb, src, dst, "local", tmp_path)
        _one_line_refusal(code, stderr, case, engine)
        assert state_of(dst, tmp_path) == before
        return
    source = make_source(case, src, NAME)
    want = source.get_spec(NAME)
    if engine == "edge":
        # An Edge store is given the config as a spec: it keeps all of it (and adds its defaults).
        asked = spec_of(case, NAME)
        assert not missing_from(asked.config, want.config), missing_from(asked.config, want.config)
        assert not missing_from(asked.payload_schema, schema_of(want.payload_schema))
    want_points = points_of(source, NAME)
    code, stderr = _run_verb(verb, src, dst, engine, tmp_path)
    assert code == 0, stderr
    tname = _target_name(engine, verb)
    target = open_endpoint(dst)
    got = target.get_spec(tname)
    assert comparable(got.config, migrated=verb == "migrate") == comparable(want.config)
    assert schema_of(got.payload_schema) == schema_of(want.payload_schema)
    if engine == "memory" and verb == "migrate":
        # one store: an alias names one collection, so migrate leaves them on the source
        # (--switch-alias moves one once validation passed)
        assert got.aliases == [] and source.get_spec(NAME).aliases == want.aliases
    else:
        suffix = "_r" if engine == "memory" else ""  # restore renames them with the collection
        assert got.aliases == [a + suffix for a in want.aliases]
    diffs = points_differ(want_points, points_of(target, tname), want.vector_fields(), edge=engine == "edge")
    assert not diffs, diffs[:5]
