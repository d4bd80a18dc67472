"""``qdrant-ops cleanup-legacy`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legacy_fixtures import git, make_repo, snapshot
from qdrant_ops.cli import app

runner = CliRunner()
ARCH = "legacy/python-scripts"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["cleanup-legacy", *args])
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_prints_the_plan_and_changes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    code, out, _ = invoke("--repo", str(repo), "--scripts", "scripts/reindex_qdrant.py,scripts/export_points.py",
                          "--dry-run")
    assert code == 0, out
    assert f"move (git mv) scripts/export_points.py -> {ARCH}/scripts/export_points.py" in out
    assert "--- a/requirements.txt" in out and "-python-dotenv==1.0.0" in out
    assert f"+\tpython {ARCH}/scripts/reindex_qdrant.py --all" in out
    assert "cleanup-legacy: dry-run" in out
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_archive_with_report_then_restore(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    code, out, err = invoke("--repo", str(repo), "scripts/reindex_qdrant.py", "scripts/export_points.py",
                            "--report", str(tmp_path / "cleanup"))
    assert code == 0, err
    assert "archive 2 script(s) and 1 helper(s)" in out
    data = json.loads((tmp_path / "cleanup.json").read_text())
    assert data["schema"] == "qdrant-ops/cleanup-legacy"
    assert {m["source"] for m in data["moved"]} == {
        "scripts/reindex_qdrant.py", "scripts/export_points.py", "scripts/qdrant_helpers.py"}
    assert {h["path"] for h in data["helpers_kept"]} == {"scripts/shared_utils.py"}
    assert any(r["file"] == "Makefile" and r["line"] == 5 for r in data["references"])
    assert {r["distribution"] for r in data["requirements_removed"]} >= {"python-dotenv", "beautifulsoup4"}
    md = (tmp_path / "cleanup.md").read_text()
    assert "## Archived" in md and "## References" in md and "| Makefile:5 | rewritten |" in md
    assert "## Requirements" in md and "## Helpers kept" in md
    code, out, err = invoke("--repo", str(repo), "--restore")
    assert code == 0, err
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_dirty_tree_exits_2_with_one_line(repo: Path) -> None:
    (repo / "Makefile").write_text("dirty\n")
    code, out, err = invoke("--repo", str(repo), "--scripts", "scripts/export_points.py")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "uncommitted changes (Makefile)" in err and "--force" in err
    code, _, err = invoke("--repo", str(repo), "--scripts", "scripts/export_points.py", "--force")
    assert code == 0, err


def test_config_file_and_flags_win(repo: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cleanup.yaml"
    cfg.write_text(
        f"repo: {repo}\nscripts: [scripts/export_points.py]\narchive_path: attic\n"
        "references: report\nallow_list: [httpx]\n"
    )
    code, out, err = invoke("--config", str(cfg), "--archive-path", "old/py")
    assert code == 0, err
    assert (repo / "old/py/scripts/export_points.py").is_file()
    assert not (repo / "attic").exists()
    assert "python -m scripts.export_points" in (repo / "Makefile").read_text()  # report only
    assert "httpx" in (repo / "pyproject.toml").read_text()  # allow-listed by the config


def test_detect_lists_candidates_with_reasons(repo: Path) -> None:
    before = snapshot(repo)
    code, out, _ = invoke("--repo", str(repo), "--detect")
    assert code == 0
    assert "detected 2 candidate(s), 0 selected" in out
    assert "- scripts/reindex_qdrant.py: has a `__main__` entry; imported by no other file; imports qdrant_client" in out
    assert snapshot(repo) == before


def test_verbose_lists_every_file_examined(repo: Path) -> None:
    code, out, _ = invoke("--repo", str(repo), "--scripts", "scripts/export_points.py", "--verbose", "--dry-run")
    assert code == 0
    assert "examined app/__init__.py: python file: no reference to an archived script" in out
    assert "examined Makefile: 1 reference(s) rewritten, 0 reported" in out
    assert "examined requirements.txt: requirements: 4 entries, 0 removed" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--references", "sometimes", "--scripts", "x.py"], "--references takes rewrite or report"),
        (["--scripts", "scripts/missing.py"], "not found"),
        ([], "nothing to archive"),
        (["--restore"], "archive-index.json"),
        (["--scripts", "x.py", "--archive-path", "../elsewhere"], "leaves the repository"),
    ],
)
def test_usage_errors_exit_2(repo: Path, args: list[str], message: str) -> None:
    code, _, err = invoke("--repo", str(repo), *args)
    assert code == 2
    assert message in err


def test_help_lists_the_flags() -> None:
    result = runner.invoke(app, ["cleanup-legacy", "--help"])
    assert result.exit_code == 0
    for flag in ("--repo", "--scripts", "--detect", "--archive-path", "--references", "--dry-run",
                 "--force", "--verbose", "--restore", "--report", "--config", "--yes"):
        assert flag in result.stdout
