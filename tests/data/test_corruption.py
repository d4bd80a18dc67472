"""A flipped byte, a truncated file, a missing file and an edited manifest are each refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import CorruptBackupError


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    make_collection(":memory:", "docs", "uuid-named", n=120)
    make_collection(":memory:", "other", "int-unnamed", n=60)
    rep = backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "bk"), rows_per_file=50, batch_size=25))
    return Path(rep.backup_dir)


def _first_file(d: Path) -> Path:
    return sorted((d / "docs").glob("*.parquet"))[0]


def flip_byte(d: Path) -> str:
    f = _first_file(d)
    data = bytearray(f.read_bytes())
    data[len(data) // 3] ^= 0x01
    f.write_bytes(bytes(data))
    return f.name


def truncate(d: Path) -> str:
    f = _first_file(d)
    f.write_bytes(f.read_bytes()[:-100])
    return f.name


def delete(d: Path) -> str:
    f = _first_file(d)
    f.unlink()
    return f.name


def edit_count(d: Path) -> str:
    m = json.loads((d / "manifest.json").read_text())
    m["collections"]["docs"]["files"][0]["rows"] += 1
    (d / "manifest.json").write_text(json.dumps(m))
    return "manifest.json"


def edit_hash(d: Path) -> str:
    m = json.loads((d / "manifest.json").read_text())
    entry = m["collections"]["docs"]["files"][0]
    entry["sha256"] = "0" * 64
    (d / "manifest.json").write_text(json.dumps(m))
    return Path(entry["path"]).name


def edit_path(d: Path) -> str:
    m = json.loads((d / "manifest.json").read_text())
    m["collections"]["docs"]["files"][0]["path"] = "../elsewhere.parquet"
    (d / "manifest.json").write_text(json.dumps(m))
    return "elsewhere.parquet"


def swap_file(d: Path) -> str:
    files = sorted((d / "docs").glob("*.parquet"))
    a, b = files[0], files[1]
    a.write_bytes(b.read_bytes())
    return a.name


def drop_manifest(d: Path) -> str:
    (d / "manifest.json").unlink()
    return "manifest"


CORRUPTIONS: list[Callable[[Path], str]] = [
    flip_byte, truncate, delete, edit_count, edit_hash, edit_path, swap_file, drop_manifest,
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_verify_and_restore_refuse_and_name_the_file(backup_dir: Path, tmp_path: Path, corrupt: Callable[[Path], str]) -> None:
    named = corrupt(backup_dir)
    try:
        rep = verify_backup(str(backup_dir))
    except CorruptBackupError as exc:
        assert named in str(exc)
    else:
        assert rep.status == "failed"
        assert any(named in c.detail for c in rep.failed_checks), rep.summary_lines()
    target = tmp_path / "restored"
    with pytest.raises(CorruptBackupError) as info:
        restore(RestoreConfig(backup=str(backup_dir), target=endpoint_from_uri(str(target))))
    assert named in str(info.value)
    # nothing was written before the refusal
    assert not target.exists() or not any(target.rglob("*.sqlite"))


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
    with pytest.raises(CorruptBackupError, match="manifest"):
        verify_backup(str(backup_dir))
    with pytest.raises(CorruptBackupError):
        restore(RestoreConfig(backup=str(backup_dir), target=endpoint_from_uri(str(tmp_path / "t"))))
