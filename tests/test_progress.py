"""The progress line: this run's rate (resumed points left out), MB/s, ETA; the display cleared
before an error line; per-phase seconds in the reports."""

from __future__ import annotations

import io
import time

import pytest

from qdrant_ops.progress import RichProgress, rate_text, stop_all
from qdrant_ops.reports import Report


def test_rate_text() -> None:
    assert rate_text(0, 0, 1.0) == ""
    assert rate_text(5000, 2_500_000, 2.0) == "2,500 points/s · 1.2 MB/s"


def _rendered(progress: RichProgress) -> str:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(progress.progress.make_tasks_table(progress.progress.tasks))
    return buf.getvalue()


def test_resumed_points_fill_the_bar_but_not_the_rate() -> None:
    p = RichProgress()
    p.progress.disable = True  # nothing drawn on the test's terminal
    task = p.task("backup docs", total=200_000)
    task.resume(150_000)
    time.sleep(0.2)
    task.advance(1000, nbytes=4_000_000)
    line = _rendered(p)
    assert "151000/200000" in line and "resumed from 150,000" in line
    rate = float(line.split(" points/s")[0].split()[-1].replace(",", ""))
    assert rate < 20_000  # ~1000 points over ~0.2 s; counting the resumed ones gives ~750,000
    assert "MB/s" in line and "ETA" in line
    stop_all()


def test_stop_all_clears_the_display_before_the_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    from qdrant_ops.cli.app import handle_errors
    from qdrant_ops.errors import EndpointError

    p = RichProgress()
    p.task("backup docs", total=10).advance(3)
    assert p.progress.live.is_started

    @handle_errors
    def fails() -> None:
        raise EndpointError("cannot reach it")

    with pytest.raises(Exception):  # typer.Exit
        fails()
    assert not p.progress.live.is_started
    assert capsys.readouterr().err.rstrip().endswith("error: cannot reach it")


def test_phase_seconds_in_summary_and_markdown() -> None:
    r = Report(verb="backup")
    with r.phase("copy"):
        time.sleep(0.01)
    with r.phase("verify"):
        pass
    r.finish()
    assert r.phase_seconds["copy"] >= 0.01 and set(r.phase_seconds) == {"copy", "verify"}
    assert "phases: copy" in "\n".join(r.summary_lines())
    assert "## Phases" in r.to_markdown() and "| verify |" in r.to_markdown()
    assert r.to_json_data()["phase_seconds"]["copy"] >= 0.01
