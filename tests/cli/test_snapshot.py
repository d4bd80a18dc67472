"""``qdrant-ops snapshot ...`` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import close_all

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["snapshot", "create", "--collections", "docs"],
        ["snapshot", "list"],
        ["snapshot", "download", "docs", "x.snapshot"],
        ["snapshot", "delete", "docs", "x.snapshot"],
        ["snapshot", "restore", "docs", "x.snapshot"],
    ],
)
@pytest.mark.parametrize("where", ["memory", "local", "edge"])
def test_every_server_command_refuses_embedded_stores(args: list[str], where: str, tmp_path: Path) -> None:
    url = {"memory": ":memory:", "local": str(tmp_path / "store"), "edge": f"edge:{tmp_path}/e"}[where]
    res = runner.invoke(app, [*args, "--url", url])
    assert res.exit_code == 2, res.output
    assert "embedded stores have no native snapshots" in res.output


def test_backup_snapshot_refused_on_local_mode(tmp_path: Path) -> None:
    make_collection(":memory:", "docs", "int-unnamed", n=5)
    res = runner.invoke(app, ["backup", "--source", ":memory:", "--snapshot", "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 2 and "no native snapshots" in res.output
    assert not (tmp_path / "bk").exists() or not any((tmp_path / "bk").iterdir())


def test_no_endpoint_and_bad_priority(tmp_path: Path) -> None:
    res = runner.invoke(app, ["snapshot", "list"])
    assert res.exit_code == 2 and "no endpoint given" in res.output
    res = runner.invoke(app, ["snapshot", "restore", "docs", "f.snapshot", "--url", "http://127.0.0.1:9", "--priority", "fastest"])
    assert res.exit_code == 2 and "priority" in res.output


def test_unreachable_server_exits_3(tmp_path: Path) -> None:
    res = runner.invoke(app, ["snapshot", "list", "--url", "http://127.0.0.1:9", "--collections", "docs"])
    assert res.exit_code == 3, res.output


def test_inspect_and_convert_commands(tmp_path: Path) -> None:
    make_collection(f"edge:{tmp_path}/src", "docs", "multi", n=30)
    close_all()
    res = runner.invoke(app, ["backup", "--source", f"edge:{tmp_path}/src", "--backup-path", str(tmp_path / "bk"), "--snapshot"])
    assert res.exit_code == 0, res.output
    snap = next((tmp_path / "bk").glob("*/docs/snapshot-edge-docs.tar"))
    res = runner.invoke(app, ["snapshot", "inspect", str(snap), "--report", str(tmp_path / "insp")])
    assert res.exit_code == 0, res.output
    assert "shard snapshot of 'docs'" in res.output and "30 points" in res.output
    assert (tmp_path / "insp.json").is_file()
    res = runner.invoke(app, ["snapshot", "convert", str(snap), "--to", str(tmp_path / "conv"), "--collection", "renamed"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["verify", str(tmp_path / "conv")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["snapshot", "inspect", str(tmp_path / "missing.snapshot")])
    assert res.exit_code == 2 and "not found" in res.output
