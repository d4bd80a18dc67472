"""An API key never appears in any output; paths stay inside the backup; a second run is locked out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.endpoints.archive import extract_tar, is_complete_backup, load_manifest, write_manifest_checksum
from qdrant_ops.endpoints.open import close_all
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
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    bdir = Path(backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"),
                                    rows_per_file=100)).backup_dir)
    for p in [bdir, *bdir.rglob("*")]:
        assert p.stat().st_mode & 0o077 == 0, p


def test_manifest_paths_outside_are_refused(tmp_path: Path) -> None:
    make_collection(":memory:", "c", "int-unnamed", 100)
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    bdir = Path(backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"))).backup_dir)
    data = json.loads((bdir / "manifest.json").read_text())
    fe = data["collections"]["c"]["files"][0]
    original = fe["path"]
    outside = tmp_path / "outside.parquet"
    outside.write_bytes((bdir / original).read_bytes())
    for bad in ["../outside.parquet", str(outside), "c/../../outside.parquet"]:
        fe["path"] = bad
        (bdir / "manifest.json").write_text(json.dumps(data))
        write_manifest_checksum(bdir)  # the path check is on trial, not the manifest's sha256
        with pytest.raises(CorruptBackupError, match="outside the backup"):
            load_manifest(bdir)
    fe["path"] = original
    (bdir / "manifest.json").write_text(json.dumps(data))
    write_manifest_checksum(bdir)
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


def test_tar_absolute_member_refused(tmp_path: Path) -> None:
    """A member named with an absolute path (TarInfo built by hand) is refused; nothing is written."""
    import io

    escape = tmp_path / "abs-escape.txt"
    tar = tmp_path / "abs.tar"
    data = b"pwned"
    with tarfile.open(tar, "w") as tf:
        info = tarfile.TarInfo(str(escape))  # absolute: /tmp/.../abs-escape.txt
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    assert tarfile.open(tar).getnames()[0].startswith("/") or Path("/" + tarfile.open(tar).getnames()[0]) == escape
    with pytest.raises(CorruptBackupError, match="escapes"):
        extract_tar(tar, tmp_path / "dest")
    assert not escape.exists()
    assert not any(p.is_file() for p in (tmp_path / "dest").rglob("*"))


# -- concurrency: a second run on the same backup path / migration state is locked out ---------------

_HOLD = """
import sys, time
from pathlib import Path
from qdrant_ops.pipeline.locks import FileLock
with FileLock(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()  # hold until the test says go
"""


def _hold_lock(lock: Path, what: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock), what], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0


def test_second_backup_on_same_path_refused(tmp_path: Path) -> None:
    store = tmp_path / "store"
    make_collection(str(store), "c", "int-unnamed", 300)
    close_all()
    root = tmp_path / "b"
    holder = _hold_lock(root / ".qdrant-ops.lock", f"backup path {root}")  # what backup takes
    try:
        r = _cli("--quiet", "backup", "--source", str(store), "--backup-path", str(root))
        assert r.returncode == 2, r.stderr
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and "in use by another qdrant-ops run" in lines[0], r.stderr
        assert "Traceback" not in r.stderr
        assert not [d for d in root.iterdir() if d.name != ".qdrant-ops.lock"], "the refused run wrote"
    finally:
        _release(holder)
    r = _cli("--quiet", "backup", "--source", str(store), "--backup-path", str(root))
    assert r.returncode == 0, r.stderr
    (bdir,) = [d for d in root.iterdir() if is_complete_backup(d)]
    assert _cli("verify", str(bdir)).returncode == 0


def test_second_run_refused_while_first_runs(tmp_path: Path) -> None:
    """A real backup held open mid-run (a slow source hook) locks out a second; the first finishes intact."""
    store = tmp_path / "store"
    make_collection(str(store), "c", "int-unnamed", 300)
    close_all()
    other = tmp_path / "store-copy"
    shutil.copytree(store, other)
    root = tmp_path / "b"
    gate = tmp_path / "gate"
    script = f"""
import sys, time
from pathlib import Path
from qdrant_ops.endpoints.qdrant import QdrantEndpoint
real = QdrantEndpoint.scan
def slow(self, *a, **k):
    print("scanning", flush=True)
    while not Path({str(gate)!r}).exists():
        time.sleep(0.05)
    yield from real(self, *a, **k)
QdrantEndpoint.scan = slow
from qdrant_ops.cli import main
sys.argv = ["qdrant-ops", "--quiet", "backup", "--source", {str(store)!r}, "--backup-path", {str(root)!r}]
main()
"""
    first = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "scanning"
        # a copy of the store: local mode lets one process open a store directory at a time
        second = _cli("--quiet", "backup", "--source", str(other), "--backup-path", str(root))
        assert second.returncode == 2 and "in use by another qdrant-ops run" in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and "Traceback" not in second.stderr
    finally:
        gate.touch()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    (bdir,) = [d for d in root.iterdir() if is_complete_backup(d)]
    assert load_manifest(bdir).collections["c"].points_count == 300
    assert _cli("verify", str(bdir)).returncode == 0


def test_second_migrate_on_same_state_refused(tmp_path: Path) -> None:
    from qdrant_ops.migration.run import STATE_FILE

    store = tmp_path / "store"
    make_collection(str(store), "c", "int-unnamed", 300)
    close_all()
    mb = tmp_path / "mb"
    state = mb / STATE_FILE
    args = ["--quiet", "migrate", "--source", str(store), "--target", str(tmp_path / "target"),
            "--backup-path", str(mb), "--no-backup"]
    holder = _hold_lock(state.with_name(state.name + ".lock"), f"migration state {state}")
    try:
        r = _cli(*args)
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "in use by another qdrant-ops run" in r.stderr, r.stderr
        assert not state.exists(), "the refused run wrote migration state"
        from qdrant_ops.endpoints.open import open_endpoint

        assert open_endpoint(str(tmp_path / "target")).list_collections() == [], "the refused run wrote"
        close_all()
    finally:
        _release(holder)
    r = _cli(*args)
    assert r.returncode == 0, r.stderr
    assert not state.exists()
    assert _cli("verify", "--source", str(store), "--target", str(tmp_path / "target")).returncode == 0
