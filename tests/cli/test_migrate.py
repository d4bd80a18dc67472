"""CLI: migrate / validate / cutover / rollback, exit codes included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import close_all, open_endpoint

runner = CliRunner()

PLAN = {"source_qdrant": {"host": "localhost", "port": 6333, "api_key": "${QDRANT_API_KEY}"},
        "target_qdrant": {"host": "localhost", "port": 6333, "api_key": "${QDRANT_API_KEY}"},
        "backup_path": "./backups/migration", "collections": ["roadmap_tasks", "emails", "documents"],
        "batch_size": 1000, "validate_after": True, "dry_run": False}


def _stores(tmp: Path) -> tuple[str, str]:
    src, dst = str(tmp / "src"), str(tmp / "dst")
    for name in ("roadmap_tasks", "emails", "documents"):
        make_collection(src, name, "int-unnamed", 60)
    close_all()
    return src, dst


def test_plan_config_unchanged_against_two_embedded_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = _stores(tmp_path)
    config = tmp_path / "migration.json"
    config.write_text(json.dumps(PLAN))
    monkeypatch.setenv("MIGRATION_CONFIG", str(config))
    monkeypatch.setenv("QDRANT_API_KEY", "secret-key-123")
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["migrate", "--source", src, "--target", dst, "--report", "rep"])
    assert res.exit_code == 0, res.output
    assert "secret-key-123" not in res.output
    data = json.loads((tmp_path / "rep.json").read_text())
    assert [c["name"] for c in data["collections"]] == ["roadmap_tasks", "emails", "documents"]
    assert (tmp_path / data["backup_dir"]).is_dir() and data["backup_dir"].startswith("backups/migration/")
    assert all(c["passed"] for c in data["checks"])
    res = runner.invoke(app, ["validate", "--source", src, "--target", dst])
    assert res.exit_code == 0, res.output


def test_dry_run_env_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = _stores(tmp_path)
    monkeypatch.setenv("DRY_RUN", "true")
    res = runner.invoke(app, ["migrate", "--source", src, "--target", dst, "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert "dry run: nothing was written" in res.output
    assert not (tmp_path / "dst").exists() and not (tmp_path / "b").exists()


def test_config_schema_migrate() -> None:
    res = runner.invoke(app, ["config", "schema", "migrate"])
    assert res.exit_code == 0
    schema = json.loads(res.output)
    assert {"transforms", "target", "format_version", "source_qdrant"} <= set(schema["properties"])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["migrate", "--source", ":memory:"], 2, "no target"),
        (["migrate", "--source", ":memory:", "--target", ":memory:", "--on-exists", "merge"], 2, "--on-exists"),
        (["migrate", "--source", ":memory:", "--target", "x", "--collections", "nope"], 2, "not found"),
        (["migrate", "--source", "http://127.0.0.1:9", "--target", ":memory:"], 3, "cannot reach"),
        (["rollback", "--alias", "x", "--target", ":memory:"], 2, "does not exist"),
        (["rollback"], 2, "--alias"),
    ],
)
def test_errors_exit_codes(args: list[str], code: int, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, args)
    assert res.exit_code == code, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_hook_dropping_points_exits_1(tmp_path: Path) -> None:
    make_collection(":memory:", "c", "int-unnamed", 40)
    config = tmp_path / "m.yaml"
    config.write_text("transforms:\n  - python: migrate_hooks:drop_odd\nvalidation:\n  samples: 5\n")
    res = runner.invoke(app, ["migrate", "-c", str(config), "--source", ":memory:", "--target", str(tmp_path / "t"),
                              "--no-backup", "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 1, res.output
    assert "FAILED [c] count" in res.output and "dropped by a python hook" in res.output


def test_cutover_requires_validation_and_rollback(tmp_path: Path) -> None:
    make_collection(":memory:", "a", "int-unnamed", 5)
    res = runner.invoke(app, ["cutover", "--alias", "live", "--collection", "a", "--target", ":memory:"])
    assert res.exit_code == 1 and "validation" in res.output
    res = runner.invoke(app, ["cutover", "--alias", "live", "--collection", "a", "--target", ":memory:", "--force"])
    assert res.exit_code == 0, res.output
    assert open_endpoint(":memory:").aliases()["live"] == "a"
    res = runner.invoke(app, ["rollback", "--alias", "live", "--target", ":memory:"])
    assert res.exit_code == 0, res.output
    assert "live" not in open_endpoint(":memory:").aliases()


def test_partial_run_ends_with_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Points the target refuses (±Infinity payloads into Edge): exit 4, and the last line on
    stderr is one ``error:`` line naming the dead-letter file, as restore's partial end is."""
    from qdrant_client import QdrantClient, models

    src = str(tmp_path / "src")
    client = QdrantClient(path=src)
    client.create_collection("c", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT))
    client.upsert("c", [models.PointStruct(id=i, vector=[float(i), 1.0, 0.0, 0.5],
                                           payload={"x": float("inf") if i == 3 else i}) for i in range(10)])
    client.close()
    monkeypatch.chdir(tmp_path)  # the dead-letter file goes under the default backup path
    res = runner.invoke(app, ["migrate", "--source", src, "--target", f"edge:{tmp_path}/dst", "--no-backup",
                              "--continue-on-error"])
    assert res.exit_code == 4, res.output
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "point(s) could not be migrated; they are in " in last, res.stderr
    assert last.startswith("error: 1 point(s)"), last  # only the refused point, the others written
    assert (tmp_path / last.split("they are in ")[1].split(";")[0]).is_file()
    assert open_endpoint(f"edge:{tmp_path}/dst").count("c") == 9
