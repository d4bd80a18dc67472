"""Ctrl-C (SIGINT) ends every verb within about a second, exit 130, and the rerun resumes exactly.

The real command in a subprocess, an Edge store big enough to take seconds, the signal sent at a
random moment of the run (seeded per test); the bound on the exit is generous (5 s) against a
loaded machine, where it takes well under one. Then the rerun finishes and ``verify`` compares
the result point for point.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

import sigint_trials as it

EXIT_BOUND_S = 5.0
BIG = 200_000  # ~3-8 s to back up with --parallel 4 here: a signal in its first second lands mid-scan
N = 60_000
OPT_N = 20_000


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    return it.make_edge_store(tmp_path_factory.mktemp("big") / "store", n=BIG, dims=32, indexing_threshold=0)


@pytest.fixture(scope="module")
def edge_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    # Never indexed: a restore or migration into Edge spends no minute on an HNSW build.
    return it.make_edge_store(tmp_path_factory.mktemp("src") / "store", n=N, dims=32, indexing_threshold=0)


def _db_rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _small_files(tmp_path: Path) -> Path:
    # Many files, so an interrupted run leaves some recorded and the rerun really resumes.
    cfg = tmp_path / "backup.json"
    cfg.write_text(json.dumps({"rows_per_file": 4000}))
    return cfg


def _wait_for(pred: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def _sigint_at_random(args: list[str], started: object, seed: int, span: tuple[float, float]) -> tuple[int, float, str]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=it.env())
    _wait_for(lambda: started() or proc.poll() is not None)  # type: ignore[operator]
    time.sleep(random.Random(seed).uniform(*span))
    assert proc.poll() is None, "the run ended before the signal: make the data bigger"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return proc.returncode, time.monotonic() - sent, err


def _check_interrupted(rc: int, took: float, err: str) -> None:
    assert rc == 130, err
    assert took < EXIT_BOUND_S, f"exit took {took:.1f}s after SIGINT"
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("error: interrupted"), err
    assert "Traceback" not in err


@pytest.mark.slow
def test_backup_parallel_ctrl_c_then_resume(big_source: str, tmp_path: Path) -> None:
    seed = 1
    root = tmp_path / "b"
    args = it.command("backup", "--source", big_source, "--backup-path", str(root), "--parallel", "4",
                      "--config", str(_small_files(tmp_path)))
    # From the first file of the scan on: the signal lands while the slices run.
    rc, took, err = _sigint_at_random(args, lambda: any(root.glob(".partial-*/*/part-*.parquet")), seed, (0.1, 0.8))
    _check_interrupted(rc, took, err)
    assert not [d for d in root.iterdir() if not d.name.startswith(".")], "an interrupted backup looks complete"
    # The slices stopped where they were: they did not scan on to the end after the signal.
    state = next(root.glob(".partial-*/state.sqlite"))
    done = _db_rows(state, "SELECT count(*), coalesce(sum(rows), 0) FROM slices WHERE done=1")[0]
    assert done[0] < 4, f"all slices ran to the end after Ctrl-C ({done[1]} rows)"

    rerun = it.run([*args, "--report", str(tmp_path / "rep")])
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed from" in rerun.stdout
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["resumed"] and rep["collections"][0]["points"] == BIG
    c = rep["collections"][0]
    # The rate counts only the points this run copied.
    assert c["points_per_s"] == pytest.approx((BIG - c["resumed_points"]) / c["duration_s"], rel=0.01)
    assert {"copy", "verify"} <= set(rep["phase_seconds"])
    check = it.run(it.command("verify", rep["backup_dir"], "--against", big_source))
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"exact ({BIG}/{BIG} points)" in check.stdout


def _units_done(backup: Path) -> int:
    """Row groups a restore has written (0 before its checkpoint exists)."""
    import sqlite3

    for state in backup.glob(".restore-*.sqlite"):
        try:
            return int(_db_rows(state, "SELECT count(*) FROM done_units")[0][0])  # type: ignore[call-overload]
        except sqlite3.Error:
            return 0
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.fixture(scope="module")
def backup_dir(edge_source: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("full")
    cfg = root / "c.json"
    cfg.write_text(json.dumps({"rows_per_file": 2000, "batch_size": 1000}))
    res = it.run(it.command("backup", "--source", edge_source, "--backup-path", str(root / "b"), "--config", str(cfg),
                            "--no-verify"))
    assert res.returncode == 0, res.stderr
    return next(str(d) for d in (root / "b").iterdir() if not d.name.startswith("."))


@pytest.mark.slow
def test_restore_parallel_ctrl_c_in_copy_then_resume(backup_dir: str, edge_source: str, tmp_path: Path) -> None:
    target = f"edge:{tmp_path / 'dst'}"
    args = it.command("restore", backup_dir, "--target", target, "--parallel", "4")
    rc, took, err = _sigint_at_random(args, lambda: _units_done(Path(backup_dir)) > 0, 3, (0.1, 0.6))
    _check_interrupted(rc, took, err)
    state = next(Path(backup_dir).glob(".restore-*.sqlite"))
    done = _db_rows(state, "SELECT count(*) FROM done_units")[0][0]
    assert done < N // 1000, "every row group was written after Ctrl-C"
    rerun = it.run(args)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed from" in rerun.stdout and "optimize()" in rerun.stdout
    check = it.run(it.command("verify", backup_dir, "--against", target, "--full"))
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_restore_ctrl_c_during_edge_optimize(tmp_path: Path) -> None:
    # Indexed from 1 MB of vectors: the restore's optimize builds HNSW (~15 s here), in a child.
    src = it.make_edge_store(tmp_path / "src", n=OPT_N, dims=32, indexing_threshold=1000)
    made = it.run(it.command("backup", "--source", src, "--backup-path", str(tmp_path / "b"), "--no-verify"))
    assert made.returncode == 0, made.stderr
    backup_dir = made.stdout.rsplit("backup: ", 1)[1].strip()
    target = f"edge:{tmp_path / 'dst'}"
    args = it.command("restore", backup_dir, "--target", target, "--parallel", "2")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=it.env())
    # Edge's optimize runs in a child process (it holds the GIL): its start marks the phase.
    _wait_for(lambda: bool(_children(proc.pid)) or proc.poll() is not None)
    child = _children(proc.pid)
    assert child and proc.poll() is None, "no optimize phase seen"
    time.sleep(random.Random(4).uniform(0.2, 1.0))
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    _check_interrupted(proc.returncode, time.monotonic() - sent, err)
    assert not Path(f"/proc/{child[0]}").exists() or "zombie" in Path(f"/proc/{child[0]}/status").read_text()

    rerun = it.run(args)
    assert rerun.returncode == 0, rerun.stderr
    # Every row group was written before the interrupt: the rerun only runs the optimize again.
    assert f"0/{OPT_N} points (resumed from {OPT_N})" in rerun.stdout, rerun.stdout
    assert "Qdrant Edge optimize() optimized" in rerun.stdout, rerun.stdout
    check = it.run(it.command("verify", backup_dir, "--against", target, "--full"))
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_migrate_parallel_ctrl_c_then_resume(edge_source: str, tmp_path: Path) -> None:
    target = f"edge:{tmp_path / 'dst'}"
    bpath = tmp_path / "mb"
    args = it.command("migrate", "--source", edge_source, "--target", target, "--parallel", "4",
                      "--backup-path", str(bpath), "--no-validate")
    rc, took, err = _sigint_at_random(args, lambda: (bpath / ".qdrant-ops-migrate.sqlite").exists(), 5, (0.2, 2.0))
    _check_interrupted(rc, took, err)
    rerun = it.run(args)
    assert rerun.returncode == 0, rerun.stderr
    assert "resumed from" in rerun.stdout
    check = it.run(it.command("verify", "--source", edge_source, "--target", target, "--full"))
    assert check.returncode == 0, check.stdout + check.stderr
    assert os.path.isdir(tmp_path / "dst")
