"""Issue 26 item 9: what the README says of cleanup-legacy holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from legacy_fixtures import git, make_repo
from qdrant_ops.cli import app

runner = CliRunner()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["cleanup-legacy", *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_glob_matching_nothing_exits_2_with_one_line(repo: Path) -> None:
    code, out, err = invoke("--repo", str(repo), "--scripts", "scripts/nomatch_*.py")
    assert code == 2, out
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "matched no Python file" in lines[0]


def test_a_report_inside_the_repository_is_not_rewritten_by_the_next_run(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    code, _, err = invoke("--repo", ".", "--scripts", "scripts/reindex_qdrant.py", "--report", "cleanup1")
    assert code == 0, err
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "archive reindex")
    first_md, first_json = (repo / "cleanup1.md").read_text(), (repo / "cleanup1.json").read_text()
    assert "scripts/export_points.py" in first_md + first_json  # the next run's script is named there
    code, _, err = invoke("--repo", ".", "--scripts", "scripts/export_points.py", "--report", "cleanup2")
    assert code == 0, err
    assert (repo / "cleanup1.md").read_text() == first_md
    assert (repo / "cleanup1.json").read_text() == first_json
    assert "skipped: a qdrant-ops report" in (repo / "cleanup2.json").read_text()
