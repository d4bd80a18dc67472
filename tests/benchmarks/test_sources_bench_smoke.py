"""The sources benchmark runs end to end at tiny sizes and writes its ratios (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Builds five stores and migrates each in fresh processes: run by `make test-slow` and `make test-all`.
pytestmark = pytest.mark.slow


def test_sources_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "sources.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sources.py"), "--points", "200", "--scale", "2", "--dims", "8",
         "--repeat", "1", "--quiet", "--workdir", str(tmp_path / "work"), "--json", str(out)],
        check=False, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["sources"]) == {"chroma", "pgvector", "milvus", "lancedb", "faiss"}
    assert data["points"] == 200 and data["points_10x"] == 400 and data["dims"] == 8
    for name, s in data["sources"].items():
        assert s["migrate"]["ok"] and s["migrate_10x"]["ok"], name
        assert s["migrate"]["written"] == 200 and s["migrate_10x"]["written"] == 400, name
        # the ceiling is the serial one of the best raw read and the best raw upsert
        assert s["raw_read_rate"] == max(s["raw_read_rates"].values()), name
        assert s["ceiling_rate"] == pytest.approx(1 / (1 / s["raw_read_rate"] + 1 / s["raw_upsert_rate"]), rel=1e-3)
        assert s["migrate_vs_ceiling_ratio"] > 0 and s["migrate_rss_10x_vs_1x_ratio"] is not None, name
        assert {c["field"] for c in s["checks"]} == {"migrate_vs_ceiling_ratio", "migrate_rss_10x_vs_1x_ratio"}
        assert all(c["verdict"] in ("PASS", "FAIL") for c in s["checks"]), name
        assert set(s["raw_read_rss_mb"]) == {"200", "400"}, name
        assert name in proc.stdout
    # pgvector, a server, is read in two slices at --parallel 2; the others are not asked to
    pg = data["sources"]["pgvector"]
    assert pg["migrate_parallel2"]["slices"] == 2 and pg["migrate_parallel2"]["ok"]
    assert pg["parallel2_vs_1_ratio"] > 0
    assert "| source |" in proc.stdout and "Machine:" in proc.stdout
