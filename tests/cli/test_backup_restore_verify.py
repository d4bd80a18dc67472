"""backup, restore and verify through the CLI, including their error exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args), env=env)
    return res.exit_code, res.stdout, res.stderr


def _one_line(err: str) -> None:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err


def test_backup_restore_verify_cli(store_uri: str, target_uri: str, tmp_path: Path) -> None:
    make_collection(store_uri, "emails", "uuid-named", n=80)
    make_collection(store_uri, "documents", "sparse", n=60)
    code, out, err = run(
        "backup", "--source", store_uri, "--backup-path", str(tmp_path / "bk"),
        "--collections", "emails,documents", "--report", str(tmp_path / "rep"),
    )
    assert code == 0, err
    backup_dir = out.strip().splitlines()[-1].split("backup: ", 1)[1]
    data = json.loads((tmp_path / "rep.json").read_text())
    assert data["schema"] == "qdrant-ops/backup" and data["schema_version"] == 1
    assert {c["name"]: c["points"] for c in data["collections"]} == {"emails": 80, "documents": 60}
    assert (tmp_path / "rep.md").read_text().startswith("# qdrant-ops backup report")

    code, out, err = run("verify", backup_dir)
    assert code == 0, err

    code, out, err = run("restore", str(tmp_path / "bk"), "--target", target_uri, "--suffix", "_v2")
    assert code == 0, err
    code, out, err = run("verify", backup_dir, "--against", target_uri, "--suffix", "_v2", "--full")
    assert code == 0, err
    code, out, err = run("verify", "--source", store_uri, "--target", target_uri, "--suffix", "_v2")
    assert code == 0, err

    # the same restore again: recognised as done, nothing written
    code, out, err = run("restore", backup_dir, "--target", target_uri, "--suffix", "_v2")
    assert code == 0 and "already restored" in out, err
    # another restore into existing targets: one line, exit 2
    code, out, err = run("restore", backup_dir, "--target", target_uri, "--suffix", "_v2", "--collections", "emails")
    assert code == 2 and "already exist" in err
    _one_line(err)
    # skip and replace work
    code, _, err = run("restore", backup_dir, "--target", target_uri, "--suffix", "_v2", "--on-exists", "skip")
    assert code == 0, err
    code, _, err = run("restore", backup_dir, "--target", target_uri, "--suffix", "_v2", "--on-exists", "replace")
    assert code == 0, err


def test_verify_mismatch_exits_1(tmp_path: Path, target_uri: str) -> None:
    from qdrant_ops.endpoints.open import open_endpoint

    make_collection(":memory:", "a", "int-unnamed", n=50)
    code, out, err = run("backup", "--source", ":memory:", "--backup-path", str(tmp_path / "bk"))
    assert code == 0, err
    code, out, err = run("restore", str(tmp_path / "bk"), "--target", target_uri)
    assert code == 0, err
    client = open_endpoint(target_uri).client  # type: ignore[attr-defined]
    client.set_payload("a", payload={"i": "changed"}, points=[4])
    client.delete("a", points_selector=[7])
    code, out, err = run("verify", str(tmp_path / "bk"), "--against", target_uri, "--full")
    assert code == 1
    assert "payload" in out and "missing" in out


@pytest.mark.parametrize(
    "args,code,text",
    [
        (["backup", "--source", ":memory:", "--collections", "nope", "--backup-path", "{tmp}/b"], 2, "nope"),
        (["backup", "--backup-path", "{tmp}/b"], 2, "no source"),
        (["backup", "--source", "http://127.0.0.1:9", "--backup-path", "{tmp}/b"], 3, "cannot reach"),
        (["backup", "--source", ":memory:", "--compression-level", "40", "--backup-path", "{tmp}/b"], 2, "compression_level"),
        (["backup", "--config", "{tmp}/missing.json"], 2, "not found"),
        (["restore", "{tmp}/nothing-here", "--target", ":memory:"], 2, "not found"),
        (["restore", "{tmp}", "--target", ":memory:", "--on-exists", "maybe"], 2, "on_exists"),
        (["restore", "{tmp}", "--target", ":memory:", "--rename", "bad"], 2, "old=new"),
        (["verify"], 2, "BACKUP"),
        (["--log-format", "xml", "verify"], 2, "log-format"),
    ],
)
def test_error_exits_are_one_line(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    real = [a.replace("{tmp}", str(tmp_path)) for a in args]
    got, out, err = run(*real)
    assert got == code, (out, err)
    assert text in err
    _one_line(err)


def test_api_key_never_printed(tmp_path: Path) -> None:
    key = "very-secret-api-key-123"
    code, out, err = run(
        "--debug", "backup", "--source", "http://127.0.0.1:9", "--api-key", key, "--backup-path", str(tmp_path / "b")
    )
    assert code == 3
    assert key not in out and key not in err


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    f = tmp_path / "b.json"
    f.write_text(json.dumps({"qdrant_host": "h", "qdrant_api_key": "${QDRANT_API_KEY}"}))
    code, out, err = run("config", "show", "backup", "--config", str(f), env={"QDRANT_API_KEY": "topsecret-xyz"})
    assert code == 0, err
    assert "topsecret-xyz" not in out and "**********" in out
    code, out, err = run("config", "schema", "backup")
    assert code == 0 and json.loads(out)["title"] == "BackupConfig"


def test_cli_backup_restore_verify_with_edge(tmp_path: Path) -> None:
    src = f"edge:{tmp_path}/src"
    make_collection(src, "docs", "sparse", n=40)
    runner = CliRunner()
    res = runner.invoke(app, ["backup", "--source", src, "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--target", f"edge:{tmp_path}/dst"])
    assert res.exit_code == 0, res.output
    assert "optimize()" in res.output
    res = runner.invoke(app, ["verify", "--source", src, "--target", f"edge:{tmp_path}/dst", "--full"])
    assert res.exit_code == 0, res.output
    # an edge: URI naming a file is bad usage
    (tmp_path / "f").write_text("x")
    res = runner.invoke(app, ["backup", "--source", f"edge:{tmp_path}/f", "--backup-path", str(tmp_path / "bk2")])
    assert res.exit_code == 2
    assert "is a file" in res.output
