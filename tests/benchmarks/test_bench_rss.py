"""The benchmark's attribution of a writer's memory to the engine (no timing assertions)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_lib import datasets, raw, targets  # noqa: E402
from bench_lib import rss as peak_rss  # noqa: E402


def test_engine_part_takes_the_engine_intervals_over_the_same_points() -> None:
    # the engine's curve: three write calls of 100 points, then optimize()
    curve = [[0, 100, 10], [100, 200, 50], [200, 300, 30], [300, 300, 40]]
    assert peak_rss.engine_part(curve, 0, 50) == 10
    assert peak_rss.engine_part(curve, 50, 150) == 50  # spans two of the engine's calls
    assert peak_rss.engine_part(curve, 150, 250) == 50
    assert peak_rss.engine_part(curve, 200, 300) == 30
    assert peak_rss.engine_part(curve, 300, 300) == 40  # after the last write: optimize's interval
    assert peak_rss.engine_part(curve, 100, 100) == 10  # no new points: the call that wrote point 100
    assert peak_rss.engine_part([], 0, 10) == 0


def test_peak_rss_marks_each_write_call_and_the_tail() -> None:
    with peak_rss.PeakRss() as rss:
        rss.mark(5)
        blob = bytearray(32 * 1024 * 1024)  # touched: 32 MiB resident
        blob[::4096] = b"x" * len(blob[::4096])
        rss.mark(7)
        del blob
    assert [iv[:2] for iv in rss.intervals] == [[0, 5], [5, 12], [12, 12]]
    base = rss.anon_baseline
    # the second call held the 32 MiB (the kernel's high-water mark sees it if sampling missed)
    assert rss.intervals[1][2] - base >= 30 * 1024
    assert rss.intervals[0][2] - base < 16 * 1024
    assert rss.anon_peak >= rss.intervals[1][2]


def test_rss_fields_subtracts_the_engine_at_the_same_points() -> None:
    rss = peak_rss.PeakRss()
    rss.anon_baseline = 1000
    rss.anon_peak = 1950
    rss.intervals = [[0, 100, 1200], [100, 200, 1700], [200, 200, 1950]]
    growth = {"engine_growth_kb": 400, "engine_curve": [[0, 100, 150], [100, 200, 850], [200, 200, 400]]}
    out = peak_rss.rss_fields(rss, growth)
    # 1200-1000-150 = 50; 1700-1000-850 < 0; after the writes the engine's last call and its tail
    # both count: 1950-1000-max(850, 400) = 100
    assert out["rss_peak_above_engine_mb"] * 1024 == 100
    assert out["rss_peak_above_engine_at_points"] == 200
    # above only the end state: 1950-1000-400
    assert out["rss_peak_above_engine_final_mb"] * 1024 == 550
    # no marks (migrate, the peer): the final growth
    plain = peak_rss.PeakRss()
    plain.anon_baseline, plain.anon_peak, plain.intervals = 1000, 1900, [[0, 0, 1900]]
    assert peak_rss.rss_fields(plain, growth)["rss_peak_above_engine_mb"] * 1024 == 500


def test_a_file_mapped_and_unmapped_within_a_call_is_not_anonymous(tmp_path: Path) -> None:
    import mmap
    import time

    size = 64 * 1024 * 1024
    path = tmp_path / "segment"
    with open(path, "wb") as fh:
        fh.truncate(size)
    with peak_rss.PeakRss() as rss:
        with open(path, "r+b") as fh, mmap.mmap(fh.fileno(), size) as mapped:
            for at in range(0, size, 4096):  # read: 64 MiB of file-backed pages resident
                mapped[at]
            time.sleep(0.1)  # long enough for the 5 ms sampling to see the mapping
        rss.mark(1)  # unmapped before the call returns, as Edge's optimize() leaves its files
    # the high-water mark held the file's pages; they are not counted as anonymous memory
    assert rss.intervals[0][2] - rss.anon_baseline < 16 * 1024
    assert rss.peak - rss.baseline >= 48 * 1024


def test_high_water_mark_is_split_only_where_file_pages_held_still(monkeypatch: pytest.MonkeyPatch) -> None:
    status = {"RssAnon": 1000, "VmHWM": 20000, "RssFile": 5000, "RssShmem": 0}
    monkeypatch.setattr(peak_rss, "status_kbs", lambda *fields: {f: status[f] for f in fields})
    monkeypatch.setattr(peak_rss, "reset_hwm", lambda: True)

    def close(mapped_least: int, mapped_most: int) -> int:
        rss = peak_rss.PeakRss()
        rss._hwm_reset = True
        rss._interval_peak = 1500  # the samples' most
        rss._interval_mapped_min, rss._interval_mapped = mapped_least, mapped_most
        return rss._close_interval()

    # file pages held still (within MAPPED_SLACK_KB): the mark less the most of them
    assert close(5000, 5000 + peak_rss.MAPPED_SLACK_KB - 1000) == 20000 - (5000 + peak_rss.MAPPED_SLACK_KB - 1000)
    # files mapped and unmapped within the call: the samples alone
    assert close(5000, 5000 + peak_rss.MAPPED_SLACK_KB + 1) == 1500
    assert close(100, 5000) == 1500


@pytest.mark.parametrize("engine", ["memory", "edge"])
def test_raw_scroll_stops_after_the_pages_asked_for(engine: str, tmp_path: Path) -> None:
    path = ":memory:" if engine == "memory" else str(tmp_path / "store")
    client = raw.raw_client(engine, path)
    raw.create_collection(engine, client, datasets.COLLECTION, 4)
    raw.raw_upsert(engine, client, datasets.COLLECTION, datasets.gen_dataset(10, 4), 5)
    assert raw.raw_scroll(engine, client, datasets.COLLECTION, 3, pages=1) == 3
    assert raw.raw_scroll(engine, client, datasets.COLLECTION, 3, pages=2) == 6
    assert raw.raw_scroll(engine, client, datasets.COLLECTION, 3) == 10


def test_a_ratio_that_rounds_onto_its_limit_shows_the_digit_that_decides() -> None:
    checks = targets.checks({"migrate_vs_ceiling_ratio": 0.8991, "backup_vs_raw_scroll_ratio": 0.72, "migrate_points": 10})
    shown = {c["field"]: (targets.fmt_ratio(c), c["verdict"]) for c in checks}
    assert shown["migrate_vs_ceiling_ratio"] == ("0.899", "FAIL")
    assert shown["backup_vs_raw_scroll_ratio"] == ("0.72", "FAIL")
    assert shown["restore_vs_raw_upsert_ratio"] == ("n/a", "N/A")


def test_each_repeated_run_gets_its_own_path(tmp_path: Path) -> None:
    from bench_lib.runner import per_run

    args_for = per_run({"op": "backup", "n": 10}, "backup_root", tmp_path / "backup-10")
    assert args_for(0) == {"op": "backup", "n": 10, "backup_root": str(tmp_path / "backup-10-0")}
    assert args_for(1)["backup_root"] == str(tmp_path / "backup-10-1")


def test_the_worker_refuses_an_unknown_operation() -> None:
    from bench_lib.worker import worker

    with pytest.raises(SystemExit, match="unknown op nope"):
        worker({"op": "nope"})
