"""An API key never appears in any output; paths stay inside the backup; a second run is locked out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.endpoints import close_all
from qdrant_ops.endpoints.archive import extract_tar, is_complete_backup, load_manifest
from qdrant_ops.errors import CorruptBackupError

KEY = "sk-reliability-SECRET-4f9a2c"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qdrant_ops", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def _all_text(root: Path) -> str:
    out = []
    for p in root.rglob("*"):
        if p.is_file():
            out.append(p.read_bytes().decode("latin-1"))
    return "\n".join(out)


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_api_key_never_written(tmp_path: Path, how: str) -> None:
    store = tmp_path / "store"
    make_collection(str(store), "c", "int-unnamed", 200)
    close_all()
    env: dict[str, str] = {}
    extra: list[str] = []
    if how == "flag":
        extra = ["--api-key", KEY]
    elif how == "env":
        env = {"QDRANT_API_KEY": KEY}
    else:
        cfg = tmp_path / "cfg.yaml"
        cfg.write_text(f"source:\n  path: {store}\n  api_key: {KEY}\n")
        extra = ["--config", str(cfg)]
    src = [] if how == "config" else ["--source", str(store)]
    outputs = []
    for fmt in ("text", "json"):
        r = _cli("--debug", "--log-format", fmt, "backup", *src, "--backup-path", str(tmp_path / "b"),
                 "--report", str(tmp_path / f"rep-{fmt}"), *extra, env=env)
        assert r.returncode == 0, r.stderr
        outputs += [r.stdout, r.stderr]
    # errors too: an unreachable server named with the key in its URL, and a missing collection
    for r in (
        _cli("--debug", "backup", "--source", f"http://127.0.0.1:9/?api_key={KEY}", "--backup-path",
             str(tmp_path / "x"), *extra, env=env),
        _cli("--debug", "--log-format", "json", "backup", *src, "--collections", "nope",
             "--backup-path", str(tmp_path / "y"), *extra, env=env),
    ):
        assert r.returncode in (2, 3), r.stderr
        outputs += [r.stdout, r.stderr]
    assert all(KEY not in o for o in outputs)
    assert KEY not in _all_text(tmp_path / "b")  # manifests, data, state
    assert KEY not in "".join(p.read_text() for p in tmp_path.glob("rep-*"))


def test_backup_files_are_owner_only(tmp_path: Path) -> None:
    make_collection(":memory:", "c", "sparse", 300)
    close_all(keep_memory=True)
    from qdrant_ops.backup import backup
    from qdrant_ops.config import BackupConfig, endpoint_from_uri

    bdir = Path(backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"),
                                    rows_per_file=100)).backup_dir)
    for p in [bdir, *bdir.rglob("*")]:
        assert p.stat().st_mode & 0o077 == 0, p


def test_manifest_paths_outside_are_refused(tmp_path: Path) -> None:
    make_collection(":memory:", "c", "int-unnamed", 100)
    from qdrant_ops.backup import backup
    from qdrant_ops.config import BackupConfig, endpoint_from_uri

    bdir = Path(backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"))).backup_dir)
    data = json.loads((bdir / "manifest.json").read_text())
    fe = data["collections"]["c"]["files"][0]
    original = fe["path"]
    outside = tmp_path / "outside.parquet"
    outside.write_bytes((bdir / original).read_bytes())
    for bad in ["../outside.parquet", str(outside), "c/../../outside.parquet"]:
        fe["path"] = bad
        (bdir / "manifest.json").write_text(json.dumps(data))
        with pytest.raises(CorruptBackupError):
            load_manifest(bdir)
    fe["path"] = original
    (bdir / "manifest.json").write_text(json.dumps(data))
    (bdir / original).unlink()
    (bdir / original).symlink_to(outside)
    r = _cli("verify", str(bdir))
    assert r.returncode == 1 and "symlink" in r.stderr + r.stdout


@pytest.mark.parametrize("member", ["../escape.txt", "link"])
def test_tar_cannot_escape(tmp_path: Path, member: str) -> None:
    tar = tmp_path / "evil.tar"
    payload = tmp_path / "payload.txt"
    payload.write_text("x")
    with tarfile.open(tar, "w") as tf:
        if member == "link":
            info = tarfile.TarInfo("bk/link")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tf.addfile(info)
        else:
            tf.add(payload, arcname=member)
    with pytest.raises(CorruptBackupError):
        extract_tar(tar, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()
