"""Data files streamed to S3 as they are written, and the whole-file upload when a stream fails."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.uri import endpoint_from_uri


def _cfg(url: str) -> BackupConfig:
    return BackupConfig(backup_path=url, source=endpoint_from_uri(":memory:"), batch_size=50, rows_per_file=100,
                        verify_integrity=True)


def _counting_uploads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from qdrant_ops.repository import store

    real = store.upload
    sent: list[str] = []

    def counting(local: Path, loc: Any, rel: str) -> None:
        sent.append(rel)
        real(local, loc, rel)

    monkeypatch.setattr(store, "upload", counting)
    return sent


def _object(s3: Any, url: str, rel: str) -> bytes:
    bucket, _, prefix = url[len("s3://"):].partition("/")
    return bytes(s3.get_object(Bucket=bucket, Key=f"{prefix}/{rel}")["Body"].read())


def test_data_files_are_streamed_as_written(s3: Any, s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = _counting_uploads(monkeypatch)
    make_collection(":memory:", "a", "int-unnamed", n=600)
    rep = backup(_cfg(s3_url))
    assert rep.status == "ok" and not rep.failed_checks
    manifest = json.loads(_object(s3, rep.backup_dir, "manifest.json"))
    files = manifest["collections"]["a"]["files"]
    assert len(files) >= 6 and rep.uploaded_files == len(files)
    # No data file was uploaded again once written: each object came from its stream.
    assert not [rel for rel in uploads if rel.endswith(".parquet")]
    # The sha256 recorded (taken as the bytes were written) is the object's.
    for f in files:
        data = _object(s3, rep.backup_dir, f["path"])
        assert len(data) == f["bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"]


class _FailingStream:
    """A store stream that takes half of its first write, then fails (a connection lost mid-way)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, data: Any) -> int:
        self.real.write(bytes(data)[: max(len(data) // 2, 1)])
        raise OSError("AWS Error NETWORK_CONNECTION during UploadPart operation (injected)")

    def flush(self) -> None:
        self.real.flush()

    def close(self) -> None:
        self.real.close()


class _FailingStreamsFs:
    """The target's filesystem, whose output streams for data files fail (all else passes)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def open_output_stream(self, path: str, **kw: Any) -> Any:
        return _FailingStream(self.real.open_output_stream(path, **kw))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_failed_stream_sends_the_whole_file(s3: Any, s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import qdrant_ops.data.backup as backup_module

    real = backup_module.StreamedFile

    def failing(path: Path, target: Any, rel: str, done: set[str], turn: Any) -> Any:
        return real(path, dataclasses.replace(target, fs=_FailingStreamsFs(target.fs)), rel, done, turn)

    monkeypatch.setattr(backup_module, "StreamedFile", failing)
    uploads = _counting_uploads(monkeypatch)
    make_collection(":memory:", "a", "int-unnamed", n=300)
    rep = backup(_cfg(s3_url))
    # Each stream was given up and its part-object replaced by the whole file, sent once recorded;
    # the backup's own verify (every object's sha256 against the manifest) passed.
    assert rep.status == "ok" and not rep.failed_checks
    parquet = sorted(rel for rel in uploads if rel.endswith(".parquet"))
    assert len(parquet) == rep.uploaded_files >= 3 and len(set(parquet)) == len(parquet)
    assert verify_backup(rep.backup_dir).status == "ok"


class _Recording:
    """A store stream that notes how many bytes it had taken at each flush."""

    def __init__(self, real: Any) -> None:
        self.real, self.taken, self.flushed_at = real, 0, list[int]()

    def write(self, data: Any) -> None:
        self.real.write(data)
        self.taken += len(data)

    def flush(self) -> None:
        self.flushed_at.append(self.taken)
        self.real.flush()


def test_upload_keeps_one_part_in_flight(s3_url: str) -> None:
    """Before a write completes a part, the one before must have uploaded: pyarrow takes writes
    without limit, so a slow store would otherwise see the whole file in memory."""
    from qdrant_ops.repository.location import open_location
    from qdrant_ops.repository.store import PART, _Paced

    loc = open_location(s3_url)
    with loc.fs.open_output_stream(loc.key("big.bin"), metadata={}) as real:
        rec = _Recording(real)
        paced = _Paced(rec)
        for _ in range(9):
            paced.write(b"x" * (4 << 20))  # 36 MiB: parts end at 10, 20 and 30 MiB
    assert rec.flushed_at == [16 << 20, 28 << 20]
    assert all(at < n * PART for n, at in zip((2, 3), rec.flushed_at, strict=True))
