"""Issue 26 item 1: what cannot be right is refused, and a read never creates what it reads."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize(
    "uri",
    ["htp://localhost:6333", "ftp://x", "localhost:6333", "http:/localhost", "http://", "http://h:abc", "http://h:99999"],
)
def test_bad_addresses_are_refused_and_create_nothing(uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("backup", "--source", uri, "--backup-path", "bk")
    assert code == 2, (out, err)
    assert "scheme" in _one_line(err) or "malformed URL" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_address_parsing_is_one_place() -> None:
    from qdrant_ops.endpoints.uri import EndpointConfig, endpoint_from_uri, uri_problem
    from qdrant_ops.errors import UsageError

    assert uri_problem("edge:./x") is None and uri_problem(":memory:") is None
    assert uri_problem("http://h:6333") is None and uri_problem("grpcs://h") is None
    assert uri_problem("./a:b") is None and uri_problem("C:/data") is None
    with pytest.raises(UsageError):
        endpoint_from_uri("htp://h")
    # a config file's url/path go through the same check
    with pytest.raises(ValueError, match="scheme 'ftp'"):
        EndpointConfig(url="ftp://x")
    with pytest.raises(ValueError, match="scheme 'htp'"):
        EndpointConfig(path="htp:/x")


def test_verify_against_unknown_scheme_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_collection(":memory:", "docs", "int-unnamed", n=10)
    code, out, err = run("backup", "--source", ":memory:", "--backup-path", str(tmp_path / "bk"))
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    code, _, err = run("verify", str(tmp_path / "bk"), "--against", "ftp://x")
    assert code == 2
    _one_line(err)
    assert not (tmp_path / "ftp:").exists()


@pytest.mark.parametrize("form", ["edge:{d}", "{d}"])
def test_missing_store_is_not_created_by_a_read(form: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    uri = form.format(d=missing)
    code, _, err = run("backup", "--source", uri, "--backup-path", str(tmp_path / "bk"))
    assert code == 2 and "no such" in _one_line(err)
    code, _, err = run("verify", "--source", uri, "--target", ":memory:")
    assert code == 2
    assert not missing.exists()
    assert not (tmp_path / "bk").exists() or not any((tmp_path / "bk").glob("2*"))


def test_empty_source_needs_allow_empty_and_verify_of_empty_backup_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run("backup", "--source", f"edge:{empty}", "--backup-path", str(tmp_path / "bk"))
    assert code == 2 and "--allow-empty" in _one_line(err)
    assert not any((tmp_path / "bk").glob("2*"))

    code, out, err = run("backup", "--source", f"edge:{empty}", "--backup-path", str(tmp_path / "bk"), "--allow-empty")
    assert code == 0, err
    backup_dir = out.strip().splitlines()[-1].split("backup: ", 1)[1]
    assert json.loads((Path(backup_dir) / "manifest.json").read_text())["collections"] == {}

    code, out, err = run("verify", backup_dir)
    assert code == 1 and "holds no collections" in out


def test_config_file_accepts_a_plain_string_endpoint(tmp_path: Path) -> None:
    make_collection(":memory:", "docs", "int-unnamed", n=10)
    cfg = tmp_path / "b.yaml"
    cfg.write_text(f"source: ':memory:'\nbackup_path: {tmp_path / 'bk'}\n")
    code, out, err = run("backup", "--config", str(cfg))
    assert code == 0, err
    cfg.write_text("source: htp://localhost:6333\n")
    code, _, err = run("backup", "--config", str(cfg))
    assert code == 2 and "scheme 'htp'" in _one_line(err)
