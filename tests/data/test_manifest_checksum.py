"""The whole manifest is checked: its sha256 sits beside it (``manifest.json.sha256``), checked
before anything else, so any change to ``manifest.json`` is refused by verify and restore
(issue 25: a ``points_count`` edited inside a collection's recorded spec passed ``verify``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints import archive
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.errors import CorruptBackupError

runner = CliRunner()


def _backup(tmp: Path) -> Path:
    make_collection(str(tmp / "src"), "docs", "sparse", 30)
    close_all()
    res = runner.invoke(app, ["backup", "--source", str(tmp / "src"), "--backup-path", str(tmp / "bk")])
    assert res.exit_code == 0, res.output
    close_all()
    [root] = [p for p in (tmp / "bk").iterdir() if p.is_dir() and not p.name.startswith(".")]
    return root


def _edit(root: Path, change: object) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data, indent=2))


def test_the_sidecar_holds_the_manifests_sha256(tmp_path: Path) -> None:
    root = _backup(tmp_path)
    digest, name = (root / "manifest.json.sha256").read_text().split()
    assert name == "manifest.json"
    assert digest == hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()
    res = runner.invoke(app, ["verify", str(root), "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    checks = json.loads((tmp_path / "rep.json").read_text())["checks"]
    assert {"name": "manifest", "passed": True} .items() <= next(c for c in checks if c["name"] == "manifest").items()


def test_an_edited_spec_points_count_is_refused_by_verify_and_restore(tmp_path: Path) -> None:
    root = _backup(tmp_path)

    def bump(data: dict) -> None:  # type: ignore[type-arg]
        data["collections"]["docs"]["spec"]["points_count"] += 1

    _edit(root, bump)
    res = runner.invoke(app, ["verify", str(root)])
    assert res.exit_code == 1, res.output
    assert "manifest.json" in res.output and "changed after it was written" in res.output
    res = runner.invoke(app, ["verify", str(root), "--against", str(tmp_path / "src")])
    assert res.exit_code == 1, res.output
    res = runner.invoke(app, ["restore", str(root), "--target", str(tmp_path / "dst")])
    assert res.exit_code == 1, res.output
    assert "manifest.json" in res.output
    close_all()
    assert open_endpoint(str(tmp_path / "dst")).list_collections() == []


def test_a_backup_of_the_older_format_still_reads_and_says_so(tmp_path: Path) -> None:
    root = _backup(tmp_path)
    (root / "manifest.json.sha256").unlink()
    res = runner.invoke(app, ["verify", str(root)])
    assert res.exit_code == 1, res.output  # this manifest says a checksum was written: gone
    assert "manifest.json.sha256: missing" in res.output
    _edit(root, lambda data: data.pop("manifest_sha256_file"))  # as written before the sidecar
    res = runner.invoke(app, ["verify", str(root), "--report", str(tmp_path / "v")])
    assert res.exit_code == 0, res.output
    assert "manifest not checksummed (older format)" in json.loads((tmp_path / "v.json").read_text())["notes"]
    res = runner.invoke(app, ["restore", str(root), "--target", str(tmp_path / "dst"), "--report", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "manifest not checksummed (older format)" in json.loads((tmp_path / "r.json").read_text())["notes"]


def test_a_backup_stopped_between_manifest_and_checksum_finishes_on_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_collection(str(tmp_path / "src"), "docs", "int-unnamed", 20)
    cfg = BackupConfig(source={"path": str(tmp_path / "src")}, backup_path=str(tmp_path / "bk"))

    def stop(backup_dir: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(archive, "write_manifest_checksum", stop)
    with pytest.raises(KeyboardInterrupt):
        backup(cfg)
    monkeypatch.undo()
    [partial] = list((tmp_path / "bk").glob(".partial-*"))
    assert (partial / "manifest.json").exists() and not (partial / "manifest.json.sha256").exists()
    done = Path(backup(cfg).backup_dir)
    assert (done / "manifest.json.sha256").exists()
    assert archive.load_manifest(done).checksummed
    with pytest.raises(CorruptBackupError):
        _edit(done, lambda data: data.update(name="x"))
        archive.load_manifest(done)
