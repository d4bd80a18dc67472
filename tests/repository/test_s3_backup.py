"""Backup, restore and verify with an s3:// backup path against the loopback S3 server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datagen import make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.archive import load_manifest, resolve_backup
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import CorruptBackupError, NotFoundError


def _keys(s3: Any, url: str) -> dict[str, int]:
    bucket, _, prefix = url[len("s3://"):].partition("/")
    out: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.update({o["Key"][len(prefix) + 1:]: o["Size"] for o in page.get("Contents", [])})
    return out


def _cfg(url: str, **kw: object) -> BackupConfig:
    return BackupConfig(backup_path=url, source=endpoint_from_uri(":memory:"), batch_size=50,
                        rows_per_file=100, **kw)  # type: ignore[arg-type]


def test_backup_to_s3_restores_and_verifies(s3: Any, s3_url: str, tmp_path: Path) -> None:
    make_collection(":memory:", "a", "int-unnamed", n=300)
    make_collection(":memory:", "b", "sparse", n=120)
    rep = backup(_cfg(s3_url, verify_integrity=True))
    assert rep.backup_dir.startswith(s3_url + "/")
    assert not rep.failed_checks and rep.uploaded_files >= 4 and rep.reused_files == 0
    keys = _keys(s3, rep.backup_dir)
    assert "manifest.json" in keys and sum(k.endswith(".parquet") for k in keys) >= 4
    assert not [k for k in keys if "state.sqlite" in k or "plan.json" in k]  # bookkeeping stays local
    # The staging directory is gone once published.
    assert not [p for p in (tmp_path / "cache" / "staging").rglob("*.parquet")]

    # The repository root finds the newest complete backup; the backup's own URL finds itself.
    for where in (s3_url, rep.backup_dir):
        check = verify_backup(where)
        assert check.status == "ok" and not check.failed_checks
    out = restore(RestoreConfig(backup=s3_url, target=endpoint_from_uri(str(tmp_path / "dst"))))
    assert out.status == "ok"
    dst = open_endpoint(str(tmp_path / "dst"))
    assert dst.count("a") == 300 and dst.count("b") == 120


def test_prefix_without_manifest_is_not_a_backup(s3: Any, s3_url: str) -> None:
    make_collection(":memory:", "a", "int-unnamed", n=150)
    rep = backup(_cfg(s3_url))
    bucket, _, key = rep.backup_dir[len("s3://"):].partition("/")
    s3.delete_object(Bucket=bucket, Key=f"{key}/manifest.json")
    with pytest.raises(NotFoundError, match="no complete backup.*incomplete"):
        resolve_backup(s3_url)
    from qdrant_ops.repository.listing import list_backups

    assert [b.complete for b in list_backups(s3_url)] == [False]


def test_tar_to_an_object_store_is_refused(s3_url: str) -> None:
    from qdrant_ops.errors import UsageError

    make_collection(":memory:", "a", "int-unnamed", n=10)
    with pytest.raises(UsageError, match="--tar"):
        backup(_cfg(s3_url, tar=True))


def test_tampered_object_is_refused(s3: Any, s3_url: str, tmp_path: Path) -> None:
    make_collection(":memory:", "a", "int-unnamed", n=150)
    rep = backup(_cfg(s3_url))
    bucket, _, key = rep.backup_dir[len("s3://"):].partition("/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/manifest.json")["Body"].read())
    part = manifest["collections"]["a"]["files"][0]["path"]
    body = s3.get_object(Bucket=bucket, Key=f"{key}/{part}")["Body"].read()
    s3.put_object(Bucket=bucket, Key=f"{key}/{part}", Body=body[:-1] + bytes([body[-1] ^ 1]))
    check = verify_backup(rep.backup_dir)
    assert check.failed_checks
    with pytest.raises(CorruptBackupError):
        restore(RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(str(tmp_path / "dst"))))


def test_credentials_never_recorded(s3: Any, s3_url: str) -> None:
    make_collection(":memory:", "a", "int-unnamed", n=60)
    secret = "testing-secret-key"
    url = f"{s3_url}?access_key=testing-key-id&secret_key={secret}"
    rep = backup(_cfg(url))
    assert "?" not in rep.backup_dir and secret not in rep.model_dump_json()
    manifest = load_manifest(resolve_backup(rep.backup_dir))
    assert secret not in json.dumps(manifest.data)


def test_staging_holds_a_few_files_not_the_backup(s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import qdrant_ops.data.backup as backup_module

    real = backup_module.send_staged
    staged: list[int] = []

    def counting(path: Path, work: Path, target: Any, sent: set[str], *rest: Any) -> None:
        staged.append(len(list(work.rglob("*.parquet"))))
        real(path, work, target, sent, *rest)

    monkeypatch.setattr(backup_module, "send_staged", counting)
    make_collection(":memory:", "a", "int-unnamed", n=600)
    rep = backup(_cfg(s3_url, verify_integrity=True))
    assert not rep.failed_checks and rep.uploaded_files == len(staged) >= 6
    assert max(staged) <= 2  # the file being sent, and at most the next one being written
