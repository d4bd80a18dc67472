"""``backups list`` and ``forget`` on a local repository and on S3, with the repository lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import LockedError
from qdrant_ops.pipeline.locks import FileLock
from qdrant_ops.repository.forget import forget
from qdrant_ops.repository.location import repository_lock_path
from qdrant_ops.repository.retention import Policy

runner = CliRunner()


def _three_backups(repo: str) -> list[str]:
    make_collection(":memory:", "a", "int-unnamed", n=40)
    cfg = BackupConfig(backup_path=repo, source=endpoint_from_uri(":memory:"), verify_integrity=False)
    return [backup(cfg).backup_dir for _ in range(3)]


@pytest.fixture(params=["local", "s3"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "repo")
    return str(request.getfixturevalue("s3_url"))


def test_list_then_forget_keeps_the_newest(repo: str) -> None:
    made = _three_backups(repo)
    res = runner.invoke(app, ["backups", "list", repo, "--json"])
    assert res.exit_code == 0, res.stderr
    listed = json.loads(res.stdout)["backups"]
    assert [b["location"] for b in listed] == made
    assert all(b["state"] == "complete" and b["points"] == 40 and b["collections"] == ["a"] and b["bytes"] > 0
               for b in listed)

    res = runner.invoke(app, ["forget", "--backup-path", repo, "--keep-last", "1", "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    plan = json.loads(res.stdout)
    assert [b["location"] for b in plan["kept"]] == made[2:] and len(plan["removed"]) == 2
    assert len(json.loads(runner.invoke(app, ["backups", "list", repo, "--json"]).stdout)["backups"]) == 3  # dry run

    res = runner.invoke(app, ["forget", repo, "--keep-last", "1"])
    assert res.exit_code == 0, res.stderr
    assert "2 removed" in res.stdout
    assert [b["location"] for b in json.loads(runner.invoke(app, ["backups", "list", repo, "--json"]).stdout)["backups"]] == made[2:]
    assert runner.invoke(app, ["verify", made[2]]).exit_code == 0


def test_partial_is_listed_and_only_pruned_on_request(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    made = _three_backups(str(repo))
    partial = repo / ".partial-20200101T000000Z"
    (partial / "a").mkdir(parents=True)
    listed = json.loads(runner.invoke(app, ["backups", "list", str(repo), "--json"]).stdout)["backups"]
    assert [b["state"] for b in listed] == ["partial", "complete", "complete", "complete"]
    forget(str(repo), Policy(last=3))
    assert partial.exists()
    report = forget(str(repo), Policy(last=3), prune=True)
    assert not partial.exists() and report.prune is not None and report.prune.removed_count == 1
    assert all(Path(m).exists() for m in made)


def test_forget_and_backup_never_run_at_once(repo: str) -> None:
    make_collection(":memory:", "a", "int-unnamed", n=10)
    cfg = BackupConfig(backup_path=repo, source=endpoint_from_uri(":memory:"), verify_integrity=False)
    with FileLock(repository_lock_path(repo), "held by the test"):
        with pytest.raises(LockedError):
            forget(repo, Policy(last=1))
        with pytest.raises(LockedError):
            backup(cfg)


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    for args in (["forget", str(tmp_path)], ["forget", str(tmp_path), "--keep-within", "soon"],
                 ["backups", "list"], ["backups", "list", str(tmp_path / "missing")]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
