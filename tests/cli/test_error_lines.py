"""Issue 26 item 6: errors that say what happened, in one line, with the exit code of DESIGN.md."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def _one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_unreachable_server_says_connection_refused(scheme: str, tmp_path: Path) -> None:
    uri = f"{scheme}://127.0.0.1:{_closed_port()}"
    code, _, err = run("backup", "--source", uri, "--backup-path", str(tmp_path / "bk"))
    assert code == 3
    assert _one_line(err) == f"error: cannot reach {uri}: connection refused"


def test_edge_store_held_by_another_opener_says_locked(tmp_path: Path) -> None:
    from qdrant_edge import EdgeShard

    store = tmp_path / "store"
    make_collection(f"edge:{store}", "docs", "int-unnamed", n=10)
    from qdrant_ops.endpoints.open import close_all

    close_all()
    held = EdgeShard.load(str(store / "docs"))
    try:
        code, _, err = run("backup", "--source", f"edge:{store}", "--backup-path", str(tmp_path / "bk"))
    finally:
        held.close()
    assert code == 2
    line = _one_line(err)
    assert "locked by another process" in line and "WouldBlock" not in line


def test_yaml_error_names_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("source: ':memory:'\nbackup_path: [a\ncollections: b\n")
    code, _, err = run("backup", "--config", str(cfg))
    assert code == 2 and "line 3, column" in _one_line(err)


def test_run_without_endpoint_names_the_runbook_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rb = tmp_path / "rb.yaml"
    rb.write_text('phases:\n  - id: "1"\n    steps:\n      - {id: b, kind: backup}\n')
    code, _, err = run("run", "--runbook", str(rb), "--dry-run")
    line = _one_line(err)
    assert code == 2 and "--source" not in line and "`endpoint:`" in line


def test_not_a_backup_exits_2_for_a_file_and_a_directory(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("hi")
    (tmp_path / "d").mkdir()
    for what in ("f.txt", "d"):
        code, _, err = run("verify", str(tmp_path / what))
        assert code == 2, err
        _one_line(err)


def test_an_alias_named_like_a_collection_is_refused_in_one_line() -> None:
    make_collection(":memory:", "documents", "int-unnamed", n=5)
    make_collection(":memory:", "documents_v2", "int-unnamed", n=5)
    code, _, err = run("cutover", "--alias", "documents", "--collection", "documents_v2", "--target", ":memory:", "--force")
    assert code == 2 and "cannot also be an alias" in _one_line(err)
