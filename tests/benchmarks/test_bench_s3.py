"""The backup-to-S3 benchmark runs end to end at a tiny size and writes its ratios (no timing
assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Starts moto's server and six worker processes: run by `make test-slow` and `make test-all`.
pytestmark = pytest.mark.slow


def test_bench_s3_smoke(tmp_path: Path) -> None:
    out = tmp_path / "s3.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "s3.py"), "--points", "300", "--scale", "2", "--dims", "8",
         "--repeat", "2", "--quiet", "--workdir", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=ROOT, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["points"] == 300 and data["points_10x"] == 600 and data["engine"] == "edge"
    assert data["backup_s3_vs_raw_upload_ratio"] > 0 and data["backup_s3_rss_10x_vs_1x_ratio"] > 0
    assert {c["field"] for c in data["checks"]} == {"backup_s3_vs_raw_upload_ratio", "backup_s3_rss_10x_vs_1x_ratio"}
    assert all(c["verdict"] in ("PASS", "FAIL") for c in data["checks"])
    ops = data["operations"]
    assert ops["backup_s3_1x"]["ok"] and ops["backup_s3_10x"]["ok"] and ops["backup_local_1x"]["ok"]
    assert data["backup_local_vs_s3_ratio"] > 0  # the same scan without the store, shown beside
    # each side ran twice in fresh processes, the fastest counting; the raw upload sent the very
    # files the backup wrote
    for key in ("backup_s3_1x", "raw_upload", "backup_local_1x"):
        assert len(ops[key]["seconds_runs"]) == 2 and ops[key]["seconds"] == min(ops[key]["seconds_runs"]), key
    assert ops["raw_upload"]["files"] == data["data_files"] >= 1 and ops["raw_upload"]["bytes"] > 0
    for line in ("backups to S3", "Machine:", "Commit:", "| target |", "raw upload"):
        assert line in proc.stdout
