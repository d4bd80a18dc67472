"""Random corruption of a finished backup: verify and restore refuse every time, naming the file."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.uri import endpoint_from_uri
from reliability.corrupt import KINDS, corrupt, refused

# Repeated random corruption trials: run by `make test-slow` and `make test-all`.
pytestmark = pytest.mark.slow


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    make_collection(":memory:", "c", "sparse", 600)
    cfg = BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"),
                       batch_size=100, rows_per_file=150)
    return Path(backup(cfg).backup_dir)


@pytest.mark.parametrize("kind", KINDS)
def test_every_corruption_is_refused(backup_dir: Path, tmp_path: Path, kind: str) -> None:
    rng = random.Random(kind)
    for i in range(3):
        copy = tmp_path / f"copy-{i}" / backup_dir.name
        shutil.copytree(backup_dir, copy)
        c = corrupt(copy, kind, rng)
        v_ok, r_ok, why = refused(copy, c, str(tmp_path / f"target-{i}"))
        assert v_ok and r_ok, (c, why)
        assert not (tmp_path / f"target-{i}").exists(), "restore wrote before checking"
