"""The property-based run, quick: a few generated collections through every verb on every engine
pair end in 0 or 1-4 with one line, never 70 or a traceback (benchmarks/property_run.py runs
hundreds; its figures are in benchmarks/README.md)."""

from __future__ import annotations

from pathlib import Path

from property_cases import ENGINE_PAIRS, Outcome, run_many


def test_generated_collections_end_in_a_documented_exit(tmp_path: Path) -> None:
    tally = run_many(len(ENGINE_PAIRS), tmp_path, seed=25)
    assert tally.collections == len(ENGINE_PAIRS)
    assert not tally.problems, tally.problems
    assert sum(n for (verb, _), n in tally.codes.items() if verb == "migrate") > 0


def test_the_property_catches_what_it_forbids() -> None:
    assert Outcome("restore", 70, "error: unexpected ValueError: x").problem()
    assert Outcome("restore", 2, "Traceback (most recent call last):\n  ...\nValueError: x").problem()
    assert Outcome("restore", 3, "error: one\nerror: two").problem()
    assert Outcome("restore", 4, "WARNING batch failed\nerror: 2 points could not be written").problem() is None
    assert Outcome("verify", 1, "", "FAILED [c] digest").problem() is None
    assert Outcome("migrate", 4, "WARNING batch failed", "migrate: partial in 1s").problem() is None
    assert Outcome("migrate", 4, "", "migrate: ok").problem()
