"""The runbook's backup step writes to an object store when its backup_path is an s3:// URL."""

from __future__ import annotations

from pathlib import Path

from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.open import close_all
from qdrant_ops.runbook.model import Runbook
from qdrant_ops.runbook.run import run_runbook
from qdrant_ops.runbook.runs import load_state
from runbook_fixtures import make_repo, make_store, runbook_data


def test_runbook_backup_step_to_s3(s3_url: str, tmp_path: Path) -> None:
    store, repo = tmp_path / "store", make_repo(tmp_path / "repo")
    make_store(store)
    close_all()
    data = runbook_data(store, repo, tmp_path / "runs")
    data["phases"] = [{"id": "7.1", "steps": [{"id": "backup", "kind": "backup", "config": {"backup_path": s3_url}}]}]
    report = run_runbook(Runbook.model_validate(data))
    assert report.status == "ok", report.notes
    state = load_state(Path(report.run_dir))
    written = state.steps[0].undo["backup_dir"]
    assert written.startswith(s3_url + "/")
    assert verify_backup(written).status == "ok"


def test_runbook_backup_path_is_an_object_store(s3_url: str, tmp_path: Path) -> None:
    """The runbook's own backup_path as s3://: step backups go under <url>/runs/<id>/, the run
    state stays in the local cache, and ``runs`` finds the run."""
    from qdrant_ops.runbook.runs import list_runs

    store, repo = tmp_path / "store", make_repo(tmp_path / "repo")
    make_store(store)
    close_all()
    data = runbook_data(store, repo, tmp_path / "unused")
    data["backup_path"] = s3_url
    data["phases"] = [{"id": "7.1", "steps": [{"id": "backup", "kind": "backup"}]}]
    report = run_runbook(Runbook.model_validate(data))
    assert report.status == "ok", report.notes
    assert Path(report.run_dir).is_dir() and str(tmp_path / "cache") in report.run_dir
    written = load_state(Path(report.run_dir)).steps[0].undo["backup_dir"]
    assert written.startswith(f"{s3_url}/runs/{report.run_id}/backup/")
    assert verify_backup(written).status == "ok"
    assert [r.run_id for r in list_runs(s3_url)] == [report.run_id]
