"""The benchmark runs end to end at tiny sizes and writes every figure (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RATIOS = [
    "backup_vs_raw_scroll_ratio",
    "restore_vs_raw_upsert_ratio",
    "verify_vs_raw_read_ratio",
    "migrate_vs_ceiling_ratio",
    "migrate_vs_qdrant_client_ratio",
    "backup_rss_10x_vs_1x_ratio",
    "restore_rss_10x_vs_1x_ratio",
]


# Runs the benchmark script end to end: run by `make test-slow` and `make test-all`.
pytestmark = pytest.mark.slow


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench.py"),
            "--engine", "memory",
            "--points", "200",
            "--scale", "2",
            "--dims", "8",
            "--repeat", "2",
            "--migrate-points", "300",
            "--quiet",
            "--workdir", str(tmp_path / "work"),
            "--json", str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    for key in RATIOS:
        assert key in data, key
    assert data["engine"] == "memory" and data["points"] == 200 and data["dims"] == 8
    assert {c["field"] for c in data["checks"]} == set(RATIOS)
    assert all(c["verdict"].split()[0] in ("PASS", "FAIL", "N/A") for c in data["checks"])
    for line in ("engine `memory`", "Machine:", "Date:", "| target |", "backup"):
        assert line in proc.stdout
    assert data["operations"]["backup_1x"]["ok"] and data["operations"]["restore_1x"]["ok"]
    # each timed operation at N ran twice, in fresh processes; the fastest run counts
    for key in ("backup_1x", "restore_1x", "verify_backup", "migrate_p1", "peer_migrate_default"):
        op = data["operations"][key]
        assert len(op["seconds_runs"]) == 2 and op["seconds"] == min(op["seconds_runs"]), key
    assert len(data["operations"]["backup_10x"]["seconds_runs"]) == 1
    assert "fastest of 2 runs" in proc.stdout
    # the raw Parquet ceiling runs as often as ours, its best run counting
    assert len(data["raw_parquet_read_hash_rates"]) == len(data["raw_parquet_write_rates"]) == 2
    assert data["raw_parquet_read_hash_pps"] == max(data["raw_parquet_read_hash_rates"])
    # every ceiling size measured in its own process (first pass), the warm pass kept beside it
    assert set(data["raw_scroll_rates"]) == set(data["raw_scroll_warm_rates"]) == set(data["raw_scroll_bulk_gc_rates"])
    assert data["backup_vs_raw_scroll_warm_ratio"] is not None
    # migrate at its own size is compared with ceilings measured at that size
    assert data["migrate_points"] == data["scroll_upsert_ceiling_points"] == 300
    assert data["migrate_ceiling_raw_scroll_rates"] and data["migrate_ceiling_raw_upsert_rates"]
    assert data["migrate_vs_bulk_gc_ceiling_ratio"] is None
    # --parallel 2 on local mode runs one stream, and the table says so
    assert data["operations"]["migrate_p1"]["slices"] == data["operations"]["migrate_p2"]["slices"] == 1
    assert "migrate --parallel 2 (one stream on this engine)" in proc.stdout
    # restore's memory is taken above the engine's own curve, at the points where its peak was;
    # the engine's end state and its peak while it grew are reported for both sizes
    assert set(data["engine_growth_mb"]) == set(data["engine_peak_growth_mb"]) == {"200", "400"}
    for key, size in (("restore_1x", 200), ("restore_10x", 400)):
        op = data["operations"][key]
        assert 0 < op["rss_peak_above_engine_at_points"] <= size, key
        assert op["rss_peak_above_engine_final_mb"] >= 0, key
    assert "restore_rss_10x_vs_1x_engine_final_ratio" in data
    assert "engine's peak (MiB)" in proc.stdout
    # backup's memory is shown beside the engine's own for a one-point scroll, at both sizes, and
    # with what each backup left alive once it had returned
    assert set(data["engine_read_call_peak_mb"]) == {"200", "400"}
    assert all(v >= 0 for v in data["engine_read_call_peak_mb"].values())
    for key in ("backup_1x", "backup_10x"):
        assert isinstance(data["operations"][key]["rss_left_after_mb"], float), key
    assert "the engine's peak for a one-point scroll (MiB)" in proc.stdout
