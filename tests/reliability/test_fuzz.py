"""Bounded hypothesis runs over configs, CLI arguments and manifests: no tracebacks, ever."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import fuzz


@pytest.mark.parametrize("fmt", ["json", "yaml", "toml"])
def test_fuzzed_configs(tmp_path: Path, fmt: str) -> None:
    t = fuzz.fuzz_configs(40, tmp_path, fmt)
    assert t.cases >= 40
    assert (t.tracebacks, t.bad) == (0, 0), t.examples[:3]


def test_fuzzed_cli_arguments(tmp_path: Path) -> None:
    t = fuzz.fuzz_cli(40, tmp_path)
    assert (t.tracebacks, t.bad) == (0, 0), t.examples[:3]


def test_fuzzed_manifests(tmp_path: Path) -> None:
    t = fuzz.fuzz_manifests(30, tmp_path, fuzz._small_backup)
    assert (t.tracebacks, t.bad) == (0, 0), t.examples[:3]
