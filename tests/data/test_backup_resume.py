"""An interrupted then resumed backup gives the same digests as an uninterrupted one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.archive import PARTIAL_PREFIX, load_manifest, resolve_backup
from qdrant_ops.endpoints.base import ScanPage
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import CorruptBackupError, NotFoundError

# These tests run ``--parallel N`` through the slice machinery on the embedded engines.
pytestmark = pytest.mark.usefixtures("sliced_local_mode")


class Crash(RuntimeError):
    pass


class CrashingEndpoint:
    """Delegates to a real endpoint; the scan dies after ``pages`` pages (a simulated crash)."""

    def __init__(self, inner: Any, pages: int) -> None:
        self.inner = inner
        self.pages = pages

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def scan(self, name: str, **kw: Any) -> Iterator[ScanPage]:
        for page in self.inner.scan(name, **kw):
            if self.pages <= 0:
                raise Crash("killed")
            self.pages -= 1
            yield page


@pytest.mark.parametrize("parallel,crash_after", [(1, 3), (2, 5), (1, 0)])
def test_interrupted_backup_resumes_to_same_digests(
    store_uri: str, tmp_path: Path, parallel: int, crash_after: int
) -> None:
    make_collection(store_uri, "a", "int-unnamed", n=400)
    make_collection(store_uri, "b", "sparse", n=250)
    src = open_endpoint(store_uri)
    base = dict(source=endpoint_from_uri(store_uri), batch_size=25, rows_per_file=50, parallel=parallel)

    reference = backup(BackupConfig(backup_path=str(tmp_path / "ref"), **base), source=src)
    ref_manifest = load_manifest(Path(reference.backup_dir))

    root = tmp_path / "bk"
    with pytest.raises(Crash):
        backup(BackupConfig(backup_path=str(root), **base), source=CrashingEndpoint(src, crash_after))  # type: ignore[arg-type]
    partial = list(root.glob(PARTIAL_PREFIX + "*"))
    assert len(partial) == 1
    # a partial backup never looks complete: not found as a backup, refused when named directly
    with pytest.raises(NotFoundError):
        resolve_backup(str(root))
    with pytest.raises(CorruptBackupError):
        load_manifest(partial[0])

    resumed = backup(BackupConfig(backup_path=str(root), **base), source=src)
    assert resumed.resumed
    assert not list(root.glob(PARTIAL_PREFIX + "*"))
    manifest = load_manifest(Path(resumed.backup_dir))
    for name in ("a", "b"):
        assert manifest.collections[name].digest == ref_manifest.collections[name].digest
        assert manifest.collections[name].points_count == ref_manifest.collections[name].points_count
    assert not (Path(resumed.backup_dir) / "state.sqlite").exists()


def test_different_arguments_start_a_new_backup(store_uri: str, tmp_path: Path) -> None:
    make_collection(store_uri, "a", "int-unnamed", n=120)
    src = open_endpoint(store_uri)
    root = tmp_path / "bk"
    with pytest.raises(Crash):
        backup(
            BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(root), batch_size=20, rows_per_file=20),
            source=CrashingEndpoint(src, 2),  # type: ignore[arg-type]
        )
    rep = backup(BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(root), batch_size=30), source=src)
    assert not rep.resumed
    assert load_manifest(Path(rep.backup_dir)).collections["a"].points_count == 120


def test_killed_between_manifest_and_rename_is_finished_by_rerun(store_uri: str, tmp_path: Path) -> None:
    """A partial directory already holding its manifest is refused, and the rerun only renames it."""
    import shutil

    make_collection(store_uri, "a", "int-unnamed", n=60)
    root = tmp_path / "bk"
    cfg = BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(root), verify_integrity=False)
    done = Path(backup(cfg).backup_dir)
    # Re-create the moment before the rename: the same directory, still named .partial-<stamp>.
    partial = root / f"{PARTIAL_PREFIX}{done.name}"
    shutil.copytree(done, partial)
    shutil.rmtree(done)
    import json

    from qdrant_ops.data.partial import backup_plan

    src = open_endpoint(store_uri)
    (partial / "plan.json").write_text(json.dumps(backup_plan(cfg, src, ["a"], 1), sort_keys=True))
    with pytest.raises(CorruptBackupError):
        load_manifest(partial)
    with pytest.raises(NotFoundError):
        resolve_backup(str(root))
    rep = backup(cfg)
    assert rep.resumed and Path(rep.backup_dir).name == done.name
    assert load_manifest(Path(rep.backup_dir)).collections["a"].points_count == 60
    assert not (Path(rep.backup_dir) / "plan.json").exists()


def test_data_files_are_on_disk_before_the_checkpoint_names_them(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume skips the files its checkpoint names done, so each is fsynced (file and directory
    entry) first; the finished directory's rename and a tar's are made durable too."""
    import qdrant_ops.data.partial as partial_mod
    import qdrant_ops.data.slice_writer as writer_mod
    import qdrant_ops.endpoints.archive as archive_mod
    from qdrant_ops.pipeline.checkpoint import Checkpoint

    events: list[tuple[str, str]] = []
    real_file, real_dir = writer_mod.fsync_file, writer_mod.fsync_dir

    def rec_file(path: Path) -> None:
        events.append(("fsync", Path(path).name))
        real_file(path)

    def rec_dir(path: Path) -> None:
        events.append(("fsync-dir", Path(path).name))
        real_dir(path)

    real_save = Checkpoint.save_slice

    def rec_save(self: Checkpoint, *a: Any, **kw: Any) -> None:
        item = kw.get("item")
        if item:
            events.append(("done", Path(item["path"]).name))
        real_save(self, *a, **kw)

    monkeypatch.setattr(writer_mod, "fsync_file", rec_file)
    monkeypatch.setattr(writer_mod, "fsync_dir", rec_dir)
    monkeypatch.setattr(partial_mod, "fsync_dir", rec_dir)  # the rename into place
    monkeypatch.setattr(archive_mod, "fsync_file", rec_file)
    monkeypatch.setattr(archive_mod, "fsync_dir", rec_dir)
    monkeypatch.setattr(Checkpoint, "save_slice", rec_save)
    make_collection(store_uri, "a", "int-unnamed", n=120)
    root = tmp_path / "bk"
    cfg = BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(root), batch_size=25, rows_per_file=50)
    report = backup(cfg)
    done = [name for kind, name in events if kind == "done"]
    assert len(done) == 3  # 120 rows, 50 per file
    for name in done:
        at = events.index(("done", name))
        assert events[at - 2 : at] == [("fsync", name), ("fsync-dir", "a")], events
    assert ("fsync-dir", "bk") in events  # the rename into place
    events.clear()
    tarred = backup(cfg.model_copy(update={"tar": True}))
    assert tarred.backup_dir.endswith(".tar") and Path(tarred.backup_dir).is_file()
    assert ("fsync", f"{PARTIAL_PREFIX}{Path(tarred.backup_dir).stem}.tar") in events
    assert report.status == "ok"


def test_a_full_file_is_closed_while_the_next_file_is_read(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing a finished file (footer, fsync, sha256) runs beside the scan and the next file's
    writes: the first file's fsync here waits until the second page of the next file has been
    read, which a close made on the scanning thread, or ahead of the next file's writes in the
    same queue, would never see."""
    import threading

    import qdrant_ops.data.slice_writer as writer_mod

    next_page_read = threading.Event()
    seen: dict[str, bool] = {}
    real_fsync = writer_mod.fsync_file

    def slow_fsync(path: Path) -> None:
        if Path(path).name == "part-000-00000.parquet":
            seen["next file read first"] = next_page_read.wait(timeout=10)
        real_fsync(path)

    class Watching(CrashingEndpoint):
        def scan(self, name: str, **kw: Any) -> Iterator[ScanPage]:
            for i, page in enumerate(self.inner.scan(name, **kw)):
                if i == 3:  # the second page of the second file (25-point pages, 50 a file)
                    next_page_read.set()
                yield page

    monkeypatch.setattr(writer_mod, "fsync_file", slow_fsync)
    make_collection(store_uri, "a", "int-unnamed", n=120)
    src = open_endpoint(store_uri)
    cfg = BackupConfig(
        source=endpoint_from_uri(store_uri), backup_path=str(tmp_path / "bk"), batch_size=25, rows_per_file=50
    )
    rep = backup(cfg, source=Watching(src, 0))  # type: ignore[arg-type]
    assert seen == {"next file read first": True}
    assert rep.status == "ok" and load_manifest(Path(rep.backup_dir)).collections["a"].points_count == 120


def test_a_file_closed_when_the_scan_fails_is_kept_for_the_resume(store_uri: str, tmp_path: Path) -> None:
    """The scan dies while the first file is being closed: the file is still recorded once it is
    on disk, and the resume keeps it instead of writing it again."""
    make_collection(store_uri, "a", "int-unnamed", n=120)
    src = open_endpoint(store_uri)
    root = tmp_path / "bk"
    cfg = BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(root), batch_size=25, rows_per_file=50)
    with pytest.raises(Crash):
        backup(cfg, source=CrashingEndpoint(src, 2))  # type: ignore[arg-type]  # dies reading page 3
    (partial,) = root.glob(PARTIAL_PREFIX + "*")
    first = partial / "a" / "part-000-00000.parquet"
    written = first.stat().st_mtime_ns
    resumed = backup(cfg, source=src)
    assert resumed.resumed
    kept = Path(resumed.backup_dir) / "a" / "part-000-00000.parquet"
    assert kept.stat().st_mtime_ns == written
    manifest = load_manifest(Path(resumed.backup_dir))
    assert manifest.collections["a"].points_count == 120
    assert [f.rows for f in manifest.collections["a"].files] == [50, 50, 20]


def test_a_file_whose_close_fails_is_written_again_by_the_resume(
    store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A close that fails beside the scan (here the fsync: a full disk) fails the backup at the
    next wait, the file is never recorded, and the resume writes it again."""
    import errno

    import qdrant_ops.data.slice_writer as writer_mod
    from qdrant_ops.data.verify import verify_backup

    real_fsync = writer_mod.fsync_file

    def full_disk(path: Path) -> None:
        if Path(path).name == "part-000-00000.parquet":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(path)

    make_collection(store_uri, "a", "int-unnamed", n=120)
    root = tmp_path / "bk"
    cfg = BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(root), batch_size=25, rows_per_file=50)
    monkeypatch.setattr(writer_mod, "fsync_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        backup(cfg)
    monkeypatch.setattr(writer_mod, "fsync_file", real_fsync)
    (partial,) = root.glob(PARTIAL_PREFIX + "*")
    failed = partial / "a" / "part-000-00000.parquet"
    assert failed.exists()
    failed.write_bytes(b"not what was written")  # kept by a resume, it would fail the checks
    resumed = backup(cfg)
    assert resumed.resumed
    assert load_manifest(Path(resumed.backup_dir)).collections["a"].points_count == 120
    assert verify_backup(resumed.backup_dir).status == "ok"
