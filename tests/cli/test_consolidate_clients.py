from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fixture_repos import HELPER, git, make_repo, snapshot
from qdrant_ops.cli import app

runner = CliRunner()


def _repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "r",
        {
            "a/__init__.py": "",
            "a/qdrant_helper.py": HELPER,
            "a/use.py": "from a.qdrant_helper import get_client\n",
            "a/use2.py": "from a.qdrant_helper import VectorStore\n",
            "b/__init__.py": "",
            "b/qdrant_helper.py": HELPER,
            "b/use.py": "from b.qdrant_helper import get_client\n",
        },
    )


def test_list_prints_groups_and_writes_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    before = snapshot(repo)
    result = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--list"])
    assert result.exit_code == 0, result.output
    assert "group 1: canonical a/qdrant_helper.py" in result.output
    assert "imported at b/use.py:1" in result.output and "uses get_client: b/use.py:1" in result.output
    assert snapshot(repo) == before


def test_dry_run_prints_diff(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    before = snapshot(repo)
    result = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "+from a.qdrant_helper import get_client" in result.output
    assert "+++ /dev/null" in result.output
    assert snapshot(repo) == before


def test_apply_with_config_file_and_report(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"repo: {repo}\nrun_tests: false\nimport_check: false\ncanonical: [b.qdrant_helper]\n")
    report = tmp_path / "out" / "consolidate"
    result = runner.invoke(app, ["consolidate-clients", "--config", str(cfg), "--report", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "consolidate.json").read_text())
    assert data["schema"] == "qdrant-ops/consolidate-clients"
    assert data["files_removed"] == ["a/qdrant_helper.py"]
    assert data["groups"][0]["reason"] == "chosen with --canonical"
    assert (repo / "a/use.py").read_text() == "from b.qdrant_helper import get_client\n"
    md = (tmp_path / "out" / "consolidate.md").read_text()
    assert "## References rewritten" in md and "a/use.py:1" in md
    # undo with the command the report names
    ref = data["backup"]["location"]
    result = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--restore", ref])
    assert result.exit_code == 0, result.output
    assert git(repo, "status", "--porcelain") == ""


def test_bad_usage_exit_2(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--canonical", "nope.mod", "--list"])
    assert result.exit_code == 2
    assert "--canonical 'nope.mod' is not a module" in result.output
    cfg = tmp_path / "bad.toml"
    cfg.write_text("min_similarity = 3\n")
    result = runner.invoke(app, ["consolidate-clients", "--config", str(cfg)])
    assert result.exit_code == 2


def test_config_schema_lists_consolidate(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "schema", "consolidate-clients"])
    assert result.exit_code == 0 and "merge_missing" in result.output
