"""Each kind of damage to a backup (``reliability/corrupt.py``: a flipped bit, a truncated, deleted or
swapped file, an edited row count, hash or path) and a missing manifest are refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.archive import write_manifest_checksum
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import CorruptBackupError
from reliability.corrupt import KINDS, corrupt


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    make_collection(":memory:", "docs", "uuid-named", n=120)
    make_collection(":memory:", "other", "int-unnamed", n=60)
    rep = backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "bk"), rows_per_file=50, batch_size=25))
    return Path(rep.backup_dir)


def _refused_naming(backup_dir: Path, target: Path, named: str) -> None:
    try:
        rep = verify_backup(str(backup_dir))
    except CorruptBackupError as exc:
        assert named in str(exc)
    else:
        assert rep.status == "failed"
        assert any(named in c.detail for c in rep.failed_checks), rep.summary_lines()
    with pytest.raises(CorruptBackupError) as info:
        restore(RestoreConfig(backup=str(backup_dir), target=endpoint_from_uri(str(target))))
    assert named in str(info.value)
    # nothing was written before the refusal
    assert not target.exists() or not any(target.rglob("*.sqlite"))


@pytest.mark.parametrize("kind", KINDS)
def test_verify_and_restore_refuse_and_name_the_file(backup_dir: Path, tmp_path: Path, kind: str) -> None:
    damage = corrupt(backup_dir, kind, random.Random(kind))
    _refused_naming(backup_dir, tmp_path / "restored", damage.file)


def test_a_missing_manifest_is_refused(backup_dir: Path, tmp_path: Path) -> None:
    (backup_dir / "manifest.json").unlink()
    _refused_naming(backup_dir, tmp_path / "restored", "manifest")


def test_any_edit_of_the_manifest_is_refused(backup_dir: Path, tmp_path: Path) -> None:
    # Not re-checksummed: the manifest's own sha256 refuses an edit that no other check sees.
    m = json.loads((backup_dir / "manifest.json").read_text())
    m["collections"]["docs"]["spec"]["points_count"] += 1
    (backup_dir / "manifest.json").write_text(json.dumps(m))
    _refused_naming(backup_dir, tmp_path / "restored", "manifest.json")


@pytest.mark.parametrize(
    "where,value",
    [
        (("collections", "docs", "snapshots"), "x"),
        (("collections", "docs", "snapshots"), [1]),
        (("collections", "docs", "vector_fields", 0, "size"), 1e300),
        (("collections", "docs", "spec", "config", "params", "vectors", "text", "size"), -1),
        (("collections", "docs", "vector_fields", 0, "kind"), "sparse"),
        (("collections", "docs", "spec", "payload_schema"), {"a": 1}),
        (("collections", "docs", "spec", "payload_schema"), {"a": {"data_type": "nope"}}),
    ],
)
def test_malformed_manifest_values_are_refused_cleanly(backup_dir: Path, tmp_path: Path, where: tuple[object, ...], value: object) -> None:
    m = json.loads((backup_dir / "manifest.json").read_text())
    node = m
    for k in where[:-1]:
        node = node[k]  # type: ignore[index]
    node[where[-1]] = value  # type: ignore[index]
    (backup_dir / "manifest.json").write_text(json.dumps(m))
    write_manifest_checksum(backup_dir)  # the value is on trial, not the manifest's own sha256
    with pytest.raises(CorruptBackupError, match="manifest"):
        verify_backup(str(backup_dir))
    with pytest.raises(CorruptBackupError):
        restore(RestoreConfig(backup=str(backup_dir), target=endpoint_from_uri(str(tmp_path / "t"))))
