"""SIGKILL ``qdrant-ops backup``, ``restore`` and ``migrate`` at random moments; rerun; nothing lost
or doubled.

Small scale here (3 trials each); ``make trials`` runs 50 each on 20k points.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.endpoints.archive import is_complete_backup
from qdrant_ops.endpoints.open import close_all
from reliability.crash import (
    Content,
    backup_config,
    backup_content,
    backup_trial,
    clear,
    cli,
    fresh_copy,
    migrate_args,
    migrate_trial,
    restore_trial,
    store_content,
    timed,
)

# Kills real CLI processes many times: run by `make test-slow` and `make test-all`.
pytestmark = pytest.mark.slow

N = 1000
TRIALS = 3


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Content]:
    base = tmp_path_factory.mktemp("crash-source")
    store = base / "store"
    make_collection(str(store), "c", "int-unnamed", N)
    close_all()
    return store, store_content(str(store), "c")


def test_backup_killed_at_random_moments(source: tuple[Path, Content], tmp_path: Path) -> None:
    store, expected = source
    rng = random.Random(20240601)
    config = backup_config(tmp_path / "cfg.json", rows_per_file=150, batch_size=50)
    src = fresh_copy(store, tmp_path / "src")
    full = timed(cli("backup", "--source", str(src), "--backup-path", str(tmp_path / "calib"),
                     "--parallel", "2", "--no-verify", "--config", str(config)))
    results = []
    for i in range(TRIALS):
        work = tmp_path / f"t{i}"
        clear(work)
        results.append(backup_trial(str(src), expected, work, rng, full, 2, config))
    for r in results:
        assert r.ok, (r.kill_at_s, r.problems, r.lost, r.duplicated)


def test_restore_killed_at_random_moments(source: tuple[Path, Content], tmp_path: Path) -> None:
    store, expected = source
    rng = random.Random(20240602)
    root = tmp_path / "b"
    timed(cli("backup", "--source", str(store), "--backup-path", str(root)))
    bdir = next(d for d in root.iterdir() if is_complete_backup(d))
    assert backup_content(bdir, "c").digest == expected.digest
    full = timed(cli("restore", str(bdir), "--target", str(tmp_path / "calib"), "--parallel", "2", "--batch-size", "1000"))
    for i in range(TRIALS):
        work = tmp_path / f"t{i}"
        clear(work)
        r = restore_trial(bdir, expected, work, rng, full, 2)
        assert r.ok, (r.kill_at_s, r.problems, r.lost, r.duplicated)


def test_migrate_killed_at_random_moments(source: tuple[Path, Content], tmp_path: Path) -> None:
    store, expected = source
    rng = random.Random(20240603)
    src = fresh_copy(store, tmp_path / "src")
    calib = tmp_path / "calib"
    full = timed(migrate_args(str(src), str(calib / "target"), calib, 2))
    assert store_content(str(calib / "target"), "c").digest == expected.digest
    results = []
    for i in range(TRIALS):
        work = tmp_path / f"t{i}"
        clear(work)
        results.append(migrate_trial(str(src), expected, work, rng, full, 2))
    for r in results:
        assert r.ok, (r.kill_at_s, r.problems, r.lost, r.duplicated)
    assert any(r.killed for r in results), "no trial killed the run mid-way"
