"""``qdrant-ops init | run | runs | check-legacy | rollback RUN_ID`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import close_all
from qdrant_ops.runbook.run import load_runbook
from runbook_fixtures import file_bytes, make_repo, make_store, runbook_data

runner = CliRunner()


def test_init_writes_a_runbook_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "rb.yaml"
    res = runner.invoke(app, ["init", str(path)])
    assert res.exit_code == 0, res.output
    rb = load_runbook(path)
    assert [p.id for p in rb.phases] == ["7.1", "7.2"]
    assert [s.kind for s in rb.phases[0].steps] == ["backup", "migrate", "validate"]
    assert [s.kind for s in rb.phases[1].steps] == ["cleanup-legacy", "consolidate-clients", "check-legacy", "tests"]
    again = runner.invoke(app, ["init", str(path)])
    assert again.exit_code == 2 and "--force" in again.output


def test_bad_step_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "rb.yaml"
    path.write_text(yaml.safe_dump({"phases": [{"id": "7.1", "steps": [
        {"id": "backup", "kind": "backup", "config": {"compresion_level": 3}}]}]}))
    res = runner.invoke(app, ["run", "--runbook", str(path), "--dry-run"])
    assert res.exit_code == 2
    assert "step backup" in res.output and "compresion_level" in res.output


def test_run_runs_rollback_and_check_legacy(tmp_path: Path) -> None:
    store, repo, backups = tmp_path / "store", make_repo(tmp_path / "repo"), tmp_path / "backups"
    make_store(store, points=30)
    close_all()
    data = runbook_data(store, repo, backups)
    data["phases"][1]["steps"] = [s for s in data["phases"][1]["steps"] if s["kind"] != "tests"]
    rb_path = tmp_path / "rb.json"
    rb_path.write_text(json.dumps(data))
    before = file_bytes(repo)

    # references to a script named by hand: exit 1 with file:line
    res = runner.invoke(app, ["check-legacy", "--repo", str(repo), "--script", "scripts/old_reindex.py"])
    assert res.exit_code == 1, res.output
    assert "Makefile:2:" in res.output and "scripts/run_all.ps1:2:" in res.output

    res = runner.invoke(app, ["run", "--runbook", str(rb_path), "--phase", "7.2", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "cleanup-legacy (cleanup-legacy): dry-run" in res.output
    assert file_bytes(repo) == before

    res = runner.invoke(app, ["run", "--runbook", str(rb_path), "--phase", "7.2"])
    assert res.exit_code == 2 and "--yes" in res.output  # not confirmed: nothing done
    res = runner.invoke(app, ["run", "--runbook", str(rb_path), "--phase", "7.2", "--yes"])
    assert res.exit_code == 0, res.output
    run_id = res.output.split()[1].rstrip(":")
    res = runner.invoke(app, ["check-legacy", "--repo", str(repo)])
    assert res.exit_code == 0, res.output  # the archive index names the script; references were rewritten

    res = runner.invoke(app, ["runs", "--backup-path", str(backups)])
    assert res.exit_code == 0 and run_id in res.output and "ok" in res.output

    res = runner.invoke(app, ["rollback"])
    assert res.exit_code == 2 and "RUN_ID or --alias" in res.output
    res = runner.invoke(app, ["rollback", "nope", "--backup-path", str(backups)])
    assert res.exit_code == 2 and "no run 'nope'" in res.output
    res = runner.invoke(app, ["rollback", run_id, "--backup-path", str(backups)])
    assert res.exit_code == 0, res.output
    assert "undo [7.2] cleanup-legacy" in res.output
    assert file_bytes(repo) == before
