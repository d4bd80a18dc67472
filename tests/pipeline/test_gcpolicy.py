"""Bulk verbs raise the garbage collector's young threshold and always put it back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.base import ScanPage
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.pipeline.gcpolicy import BULK_THRESHOLD, bulk, bulk_gc


@pytest.fixture(autouse=True)
def _keep_thresholds():
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_raised_inside_and_restored_after_nested_blocks() -> None:
    gc.set_threshold(700, 10, 10)
    with bulk_gc():
        assert gc.get_threshold() == (BULK_THRESHOLD, 10, 10)
        with bulk_gc():
            assert gc.get_threshold()[0] == BULK_THRESHOLD
        assert gc.get_threshold()[0] == BULK_THRESHOLD  # the inner block leaves the outer's setting
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_when_the_verb_raises() -> None:
    gc.set_threshold(500, 7, 3)

    @bulk
    def verb() -> None:
        assert gc.get_threshold() == (BULK_THRESHOLD, 7, 3)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        verb()
    assert gc.get_threshold() == (500, 7, 3)


def test_a_higher_or_disabled_threshold_is_left_alone() -> None:
    gc.set_threshold(BULK_THRESHOLD * 2, 10, 10)
    with bulk_gc():
        assert gc.get_threshold()[0] == BULK_THRESHOLD * 2
    gc.set_threshold(0, 10, 10)
    with bulk_gc():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0


def test_overlapping_blocks_in_threads_restore_once_all_end() -> None:
    gc.set_threshold(700, 10, 10)
    inside = threading.Barrier(3)
    leave = threading.Event()

    def worker() -> None:
        with bulk_gc():
            inside.wait()
            leave.wait()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert gc.get_threshold()[0] == BULK_THRESHOLD
    leave.set()
    for t in threads:
        t.join()
    assert gc.get_threshold() == (700, 10, 10)


class ThresholdRecorder:
    """Delegates to a real endpoint; notes the young-generation threshold while pages stream."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def scan(self, name: str, **kw: Any) -> Iterator[ScanPage]:
        for page in self.inner.scan(name, **kw):
            self.seen.append(gc.get_threshold()[0])
            yield page


def test_backup_and_restore_stream_with_the_bulk_threshold(tmp_path: Path) -> None:
    gc.set_threshold(700, 10, 10)
    make_collection(":memory:", "a", "int-unnamed", n=300)
    src = ThresholdRecorder(open_endpoint(":memory:"))
    rep = backup(
        BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path), batch_size=100),
        source=src,  # type: ignore[arg-type]
    )
    assert rep.status == "ok"
    assert src.seen and set(src.seen) == {BULK_THRESHOLD}
    assert gc.get_threshold() == (700, 10, 10)


def _thresholds_inside(run: Any) -> list[int]:
    """The young-generation threshold at each call into qdrant-ops code while ``run`` runs (on
    this thread)."""
    import sys

    seen: list[int] = []
    import qdrant_ops.pipeline.gcpolicy as policy

    own = policy.__file__  # the policy's own frames are the ones that set the threshold

    def profile(frame: Any, event: str, arg: Any) -> None:
        name = frame.f_code.co_filename
        if event == "call" and "qdrant_ops" in name and name != own:
            seen.append(gc.get_threshold()[0])

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return seen


def test_every_data_verb_runs_with_the_raised_threshold(tmp_path: Path, target_uri: str) -> None:
    from qdrant_ops.data.config import RestoreConfig, VerifyConfig
    from qdrant_ops.data.restore import restore
    from qdrant_ops.data.verify import verify, verify_against, verify_backup, verify_live
    from qdrant_ops.migration.config import MigrateConfig
    from qdrant_ops.migration.run import migrate
    from qdrant_ops.migration.validate import validate

    make_collection(":memory:", "a", "int-unnamed", n=30)
    source = endpoint_from_uri(":memory:")
    bdir = backup(BackupConfig(source=source, backup_path=str(tmp_path / "bk"))).backup_dir
    migration = MigrateConfig.model_validate(
        {"source_qdrant": {"url": ":memory:"}, "target_qdrant": {"url": str(tmp_path / "m")},
         "backup_path": str(tmp_path / "mb"), "backup": False, "validation": {"samples": 5}}
    )
    # Everything a verb is given is built here, so that each call recorded is the verb's own work.
    again = BackupConfig(source=source, backup_path=str(tmp_path / "bk2"))
    into = RestoreConfig(backup=bdir, target=endpoint_from_uri(target_uri))
    one = VerifyConfig(backup=bdir)
    verbs: dict[str, Any] = {
        "backup": lambda: backup(again),
        "restore": lambda: restore(into),
        "verify_backup": lambda: verify_backup(bdir),
        "verify": lambda: verify(one),
        "migrate": lambda: migrate(migration),
        "validate": lambda: validate(migration),
    }
    src, dst = open_endpoint(":memory:"), open_endpoint(target_uri)
    verbs["verify_against"] = lambda: verify_against(bdir, dst)
    verbs["verify_live"] = lambda: verify_live(src, dst)
    gc.set_threshold(700, 10, 10)
    for name, run in verbs.items():
        seen = _thresholds_inside(run)
        assert seen and set(seen) == {BULK_THRESHOLD}, (name, seen[:5])
        assert gc.get_threshold() == (700, 10, 10), name
