"""Issue 26 items 5, 7, 8: output for scripts, --help a person reads, a closed pipe ends quietly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops import __version__
from qdrant_ops.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return res.exit_code, res.stdout, res.stderr


def _backup_args(tmp_path: Path) -> list[str]:
    make_collection(":memory:", "docs", "int-unnamed", n=10)
    return ["backup", "--source", ":memory:", "--backup-path", str(tmp_path / "bk")]


def test_json_prints_one_document_on_stdout(tmp_path: Path) -> None:
    args = _backup_args(tmp_path)
    for where in ("before", "after"):
        code, out, err = run("--json", *args) if where == "before" else run(*args, "--json")
        assert code == 0, err
        data = json.loads(out)  # the whole of stdout is one JSON document
        assert data["schema"] == "qdrant-ops/backup" and data["status"] == "ok"
        assert "backup: ok" in err  # people's lines moved to stderr


def test_report_dash_means_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*_backup_args(tmp_path), "--report", "-")
    assert code == 0, err
    assert json.loads(out)["verb"] == "backup"
    assert not list(tmp_path.glob("-*"))  # no files named -.json / -.md


def test_quiet_after_the_verb_prints_the_result_line(tmp_path: Path) -> None:
    code, out, err = run(*_backup_args(tmp_path), "-q")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 and Path(lines[0]).is_dir() and (Path(lines[0]) / "manifest.json").is_file()


def test_version_and_completion() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"qdrant-ops {__version__}"
    code, out, _ = run("--help")
    assert "--install-completion" in out and "--show-completion" in out


def _help_texts(args: list[str]) -> list[str]:
    code, out, _ = run(*args, "--help")
    assert code == 0, out
    texts = [out]
    commands = re.findall(r"^│ ([a-z][a-z-]+) {2,}", out, flags=re.M) if "Commands" in out else []
    for c in commands:
        texts += _help_texts([*args, c])
    return texts


def test_help_labels_and_defaults_in_one_style() -> None:
    texts = _help_texts([])
    assert len(texts) > 15
    for text in texts:
        assert "<bool>" not in text and "<str>" not in text and "<int>" not in text, text
        assert not re.search(r"\(default|; default", text), text  # only "[default: ...]"
    code, out, _ = run("backup", "--help")
    assert "edge:DIR" in out
    code, out, _ = run("restore", "--help")
    assert "edge:DIR" in out
    code, out, _ = run("cutover", "--help")
    assert "same forms" not in out and "edge:DIR" in out
    code, out, _ = run("validate", "--help")
    assert "[default: 10]" in out


def test_runs_has_column_headers_and_json(tmp_path: Path) -> None:
    from qdrant_ops.runbook.runs import runs_root

    root = tmp_path / "bk"
    code, out, _ = run("runs", "--backup-path", str(root), "--json")
    assert code == 0 and json.loads(out)["runs"] == []
    rb = tmp_path / "rb.yaml"
    rb.write_text(f'backup_path: {root}\nphases:\n  - id: "1"\n    steps:\n      - {{id: s, kind: shell, config: {{command: "true"}}}}\n')
    code, out, err = run("run", "--runbook", str(rb), "--yes", "-q")
    assert code == 0, err
    run_id = out.strip()
    assert (runs_root(str(root)) / run_id).is_dir()  # -q prints the run id, and only it
    code, out, _ = run("runs", "--backup-path", str(root))
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["RUN", "ID", "STATUS"] and lines[1].startswith(run_id)


@pytest.mark.parametrize("args", [["config", "schema", "migrate"], ["runs", "--backup-path", "nowhere"], ["--version"]])
def test_closed_stdout_ends_quietly(args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    p = subprocess.Popen([sys.executable, "-m", "qdrant_ops", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader is gone before the command writes
    err = p.stderr.read().decode()
    assert p.wait() in (0, 141), err
    assert err == ""


def test_json_on_an_error_is_still_one_document(tmp_path: Path) -> None:
    code, out, err = run("backup", "--source", "htp://x", "--backup-path", str(tmp_path / "bk"), "--json")
    assert code == 2 and "error:" in err
    data = json.loads(out)
    assert data["schema"] == "qdrant-ops/error" and data["exit_code"] == 2 and "htp" in data["error"]


def test_global_options_move_in_front_of_the_verb() -> None:
    from qdrant_ops.cli.group import hoist_global_options

    args = ["backup", "--source", "x", "--log-format", "json", "-q", "--", "--json"]
    assert hoist_global_options(args) == ["--log-format", "json", "-q", "backup", "--source", "x", "--", "--json"]
    code, _, err = run("runs", "--backup-path", "nowhere", "--log-format", "yaml")
    assert code == 2 and "--log-format must be text or json" in err
