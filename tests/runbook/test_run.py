"""The Phase 7 runbook on an embedded store and a fixture repository built here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from qdrant_ops.endpoints.open import close_all
from qdrant_ops.errors import PlanChangedError
from qdrant_ops.runbook.model import Runbook
from qdrant_ops.runbook.rollback import rollback_run
from qdrant_ops.runbook.run import run_runbook
from qdrant_ops.runbook.runs import list_runs, load_state
from runbook_fixtures import file_bytes, git, make_repo, make_store, runbook_data, store_digests, tree_digest


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    store, repo, backups = tmp_path / "store", make_repo(tmp_path / "repo"), tmp_path / "backups"
    make_store(store)
    close_all()  # digests below are taken on a reopened store, as after a run
    plan = tmp_path / "PLAN.md"
    plan.write_bytes((repo / "docs/PLAN.md").read_bytes())
    return {"store": store, "repo": repo, "backups": backups, "plan": plan, "tmp": tmp_path}


def _runbook(w: dict[str, Path]) -> Runbook:
    return Runbook.model_validate(runbook_data(w["store"], w["repo"], w["backups"]))


def test_full_run_of_both_phases_then_rollback_restores_data_and_code(world: dict[str, Path]) -> None:
    code_before, data_before = file_bytes(world["repo"]), store_digests(world["store"])
    close_all()
    report = run_runbook(_runbook(world), plan=str(world["plan"]))
    assert report.status == "ok", report.summary_lines()
    assert [s.status for s in report.steps] == ["ok"] * 7
    stats = report.statistics
    assert stats["collections_backed_up"] == 2 and stats["points_backed_up"] == 120
    assert stats["bytes_backed_up"] > 0
    assert stats["collections_migrated"] == 2 and stats["points_migrated"] == 120
    assert stats["scripts_archived"] == 1 and stats["references_updated"] == 2
    assert stats["clients_consolidated"] == 1 and stats["legacy_references_left"] == 0
    assert set(stats["step_durations_s"]) == {s.id for s in report.steps}
    assert report.validation and all(v["passed"] for v in report.validation)
    assert report.tests_before == {"passed": 1} and report.tests_after == {"passed": 1}
    # the run directory: state, each step's report, the run report
    rdir = Path(report.run_dir)
    assert rdir.parent == world["backups"] / "runs"
    data = json.loads((rdir / "report.json").read_text())
    assert data["schema"] == "qdrant-ops/run" and data["status"] == "ok"
    assert (rdir / "report.md").read_text().startswith("# qdrant-ops run report")
    state = load_state(rdir)
    assert all(s.report and (rdir / f"{s.report}.json").is_file() for s in state.steps)
    assert [r.run_id for r in list_runs(world["backups"])] == [report.run_id]
    # code and data changed
    repo = world["repo"]
    assert not (repo / "scripts/old_reindex.py").exists()
    assert (repo / "legacy/python-scripts/scripts/old_reindex.py").is_file()
    assert "legacy/python-scripts/scripts/old_reindex.py" in (repo / "Makefile").read_text()
    assert not (repo / "app/search/qdrant_helper.py").exists()
    close_all()
    assert {"roadmap_tasks_v2", "emails_v2"} <= set(store_digests(world["store"]))
    # the plan: items of completed steps ticked, a status line per phase
    text = world["plan"].read_text()
    assert "- [x] Back up every collection (backup)" in text
    assert "- [x] Validate recall and counts" in text
    assert "- [ ] Something done by hand" in text
    assert text.count(f"run `{report.run_id}`") == 2
    close_all()

    back = rollback_run(str(world["backups"]), report.run_id)
    assert back.status == "ok", back.summary_lines()
    assert [s.id for s in back.steps] == [s.id for s in reversed(report.steps)]
    close_all()
    assert file_bytes(repo) == code_before
    assert store_digests(world["store"]) == data_before
    assert git(repo, "status", "--porcelain") == ""
    assert load_state(rdir).status == "rolled-back"


def test_selective_phase_runs_only_that_phase(world: dict[str, Path]) -> None:
    code_before = tree_digest(world["repo"])
    report = run_runbook(_runbook(world), phase="7.1")
    assert report.status == "ok", report.summary_lines()
    assert report.phases == ["7.1"] and [s.phase for s in report.steps] == ["7.1"] * 3
    assert not any(c.name == "clean work tree" for c in report.prerequisites)
    assert tree_digest(world["repo"]) == code_before
    close_all()
    assert "emails_v2" in store_digests(world["store"])


def test_dry_run_changes_nothing(world: dict[str, Path]) -> None:
    code_before, tree_before = file_bytes(world["repo"]), tree_digest(world["tmp"])
    data_before = store_digests(world["store"])
    close_all()
    plan_before = world["plan"].read_bytes()
    report = run_runbook(_runbook(world), dry_run=True, plan=str(world["plan"]))
    assert report.status == "dry-run", report.summary_lines()
    assert [s.status for s in report.steps] == ["dry-run"] * 7
    joined = "\n".join(report.summary_lines())
    assert "would back up 2 collection(s), 120 points" in joined
    assert "roadmap_tasks -> roadmap_tasks_v2" in joined
    assert "+- [x] Back up every collection (backup)" in report.plan_diff
    close_all()
    assert world["plan"].read_bytes() == plan_before
    assert file_bytes(world["repo"]) == code_before
    assert store_digests(world["store"]) == data_before
    close_all()
    assert tree_digest(world["tmp"]) == tree_before
    assert not world["backups"].exists()


def test_failing_prerequisite_stops_before_any_change(world: dict[str, Path]) -> None:
    data = runbook_data(world["store"], world["repo"], world["backups"])
    data["prerequisites"] = {"min_free_gb": 10_000_000}
    tree_before = tree_digest(world["tmp"])
    report = run_runbook(Runbook.model_validate(data))
    assert report.status == "failed" and report.exit_code == 1
    failed = [c for c in report.prerequisites if not c.passed]
    assert [c.name for c in failed] == ["free disk"]
    assert failed[0].figures["needed_bytes"] > failed[0].figures["free_bytes"]
    assert report.steps == []
    close_all()
    assert tree_digest(world["tmp"]) == tree_before


def test_dirty_work_tree_fails_the_prerequisite_for_code_phase(world: dict[str, Path]) -> None:
    (world["repo"] / "app/search/views.py").write_text("URL = 'changed'\n")
    report = run_runbook(_runbook(world), phase="7.2")
    assert report.exit_code == 1
    check = next(c for c in report.prerequisites if c.name == "clean work tree")
    assert not check.passed and "app/search/views.py" in check.detail
    assert (world["repo"] / "scripts/old_reindex.py").exists()


def test_resume_after_a_failed_step(world: dict[str, Path]) -> None:
    marker = world["tmp"] / "fixed"
    out = world["tmp"] / "out.txt"
    data = runbook_data(world["store"], world["repo"], world["backups"])
    data["phases"] = [{"id": "7.1", "steps": [
        {"id": "backup", "kind": "backup"},
        {"id": "gate", "kind": "shell", "config": {"command": [sys.executable, "-c",
            f"import os,sys; sys.exit(0 if os.path.exists({str(marker)!r}) else 3)"]}},
        {"id": "after", "kind": "shell", "config": {"command": f"echo done >> {out}"}},
    ]}]
    rb = Runbook.model_validate(data)
    first = run_runbook(rb)
    assert first.status == "failed" and first.exit_code == 1
    assert [s.status for s in first.steps] == ["ok", "failed", "pending"]
    assert f"--resume {first.run_id}" in first.notes[-1]
    assert not out.exists()
    backups = sorted((Path(first.run_dir) / "backup").iterdir())
    marker.write_text("")
    second = run_runbook(rb, resume=first.run_id)
    assert second.status == "ok" and second.resumed and second.run_id == first.run_id
    assert [s.status for s in second.steps] == ["ok", "ok", "ok"]
    assert sorted((Path(first.run_dir) / "backup").iterdir()) == backups  # backup not run again
    assert out.read_text() == "done\n"
    # a completed step whose config changed refuses the resume
    data["phases"][0]["steps"][0]["config"] = {"compression_level": 9}
    with pytest.raises(PlanChangedError):
        run_runbook(Runbook.model_validate(data), resume=first.run_id)
