"""Issue 26 item 8: reports a person reads (no reprs, units, yes/no, nothing dropped); --tar keeps one copy."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops.cli import app
from qdrant_ops.reports import bytes_cell, human_bytes, md_table, plain
from qdrant_ops.runbook.report import RunReport, StepRow

runner = CliRunner()
REPR = re.compile(r"\{'|\bTrue\b|\bFalse\b|\bNone\b")


def test_plain_values_and_units() -> None:
    assert plain({"passed": 1, "failed": 0}) == "passed=1, failed=0"
    assert plain(True) == "yes" and plain(False) == "no" and plain(None) == ""
    assert human_bytes(999) == "999 B" and human_bytes(12_345_678) == "12.3 MB" and human_bytes(3_200_000_000) == "3.2 GB"
    assert bytes_cell(12_345_678) == "12,345,678 (12.3 MB)" and bytes_cell(12) == "12"
    assert "True" not in md_table(["a"], [[True]])


def test_run_report_has_no_reprs_and_keeps_every_collection() -> None:
    r = RunReport(run_id="r1", phases=["1"], tests_before={"passed": 1, "failed": 0}, tests_after={"passed": 2, "failed": 0},
                  validation=[{"collection": "a", "check": "count", "passed": True, "expected": 3}])
    r.steps.append(StepRow(
        phase="1", id="b", kind="backup", status="ok",
        summary=["backup: ok in 1.0s", "  one: 1 points", "  two: 2 points", "  three: 3 points", "backup: /x"]))
    r.finish("ok")
    md = r.to_markdown()
    text = md + "\n".join(r.summary_lines())
    assert not REPR.search(text), text
    steps_row = next(line for line in md.splitlines() if line.startswith("| 1 | b |"))
    assert all(n in steps_row for n in ("one", "two", "three"))
    assert "dry-run: no" in md


def test_backup_report_shows_human_sizes_and_tar_keeps_one_copy(tmp_path: Path) -> None:
    make_collection(":memory:", "docs", "int-unnamed", n=300)
    res = runner.invoke(app, ["backup", "--source", ":memory:", "--backup-path", str(tmp_path / "bk"), "--tar",
                              "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "rep.md").read_text()
    assert re.search(r"\| docs \| 300 \| 0 \| [\d,]+ \(\d+\.\d kB\) \|", md), md  # points, resumed from, bytes
    assert "resumed: no" in md and not REPR.search(md.replace("\n", " "))
    entries = sorted(p.name for p in (tmp_path / "bk").iterdir() if not p.name.startswith(".qdrant-ops.lock"))
    assert len(entries) == 1 and entries[0].endswith(".tar"), entries  # no extracted .tar.d beside it
    res = runner.invoke(app, ["verify", str(tmp_path / "bk")])
    assert res.exit_code == 0, res.output
    after = sorted(p.name for p in (tmp_path / "bk").iterdir() if not p.name.startswith(".qdrant-ops.lock"))
    assert after == entries  # reading the tar left nothing behind
    data = json.loads((tmp_path / "rep.json").read_text())
    assert data["backup_dir"].endswith(".tar")


def test_restore_from_a_tar_leaves_the_tar_the_one_copy(tmp_path: Path) -> None:
    make_collection(":memory:", "docs", "int-unnamed", n=50)
    res = runner.invoke(app, ["backup", "--source", ":memory:", "--backup-path", str(tmp_path / "bk"), "--tar"])
    assert res.exit_code == 0, res.output
    target = str(tmp_path / "restored")
    for _ in range(2):  # the rerun is recognised as done, and extracts nothing that stays
        res = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--target", target])
        assert res.exit_code == 0, res.output
        names = sorted(p.name for p in (tmp_path / "bk").iterdir() if not p.name.startswith("."))
        assert len(names) == 1 and names[0].endswith(".tar"), names
    assert "already restored" in res.output
