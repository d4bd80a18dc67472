"""The HTML report: written beside the JSON and Markdown, self-contained, escaped, in human units,
with charts that a real browser (headless Chromium) draws."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from datagen import make_collection
from qdrant_ops.data.backup_report import BackupReport, CollectionBackup
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.run import migrate
from qdrant_ops.reports import Report, Throughput, report_paths, write_report
from qdrant_ops.runbook.report import RunReport, StepRow
from qdrant_ops.throughput import TrackingProgress

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed here (.ci/run installs it for CI)"
)


class _Page(HTMLParser):
    """What a person reads (text outside scripts and styles), and every table's shape."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tables: list[dict[str, int]] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "table":
            self.tables.append({"thead": 0, "th": 0})
        if tag in ("thead", "th") and self.tables:
            self.tables[-1][tag] += 1
        if a.get("href"):
            self.hrefs.append(str(a["href"]))
        if a.get("src"):
            self.srcs.append(str(a["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _hostile_report() -> BackupReport:
    r = BackupReport(source="<img src=x onerror=alert(1)>", backup_dir="/b/</script><script>alert(2)</script>")
    r.collections.append(CollectionBackup(name="docs & <b>more</b>", points=1234567, bytes=5_432_100_000,
                                          files=3, duration_s=185.5, points_per_s=6655.4, digest="ab" * 16))
    r.check("count", True, "1234567 points", collection="docs & <b>more</b>",
            figures={"nested": {"a": 1, "ok": True}, "list": [1, 2], "none": None})
    r.check("sha256", False, "part-00000.parquet: <mismatch>", collection="docs & <b>more</b>")
    r.notes.append("a note with </script> and 'quotes'")
    r.phase_seconds = {"copy": 185.5, "verify": 12.25}
    r.finish()
    return r


def test_write_report_writes_json_markdown_and_html(tmp_path: Path) -> None:
    paths = write_report(_hostile_report(), tmp_path / "r" / "backup")
    assert [p.name for p in paths] == ["backup.json", "backup.md", "backup.html"]
    assert all(p.is_file() for p in paths)
    assert report_paths(tmp_path / "x.json") == report_paths(tmp_path / "x.html") == report_paths(tmp_path / "x")


def test_html_is_escaped_in_human_units_with_headed_tables_and_no_reprs(tmp_path: Path) -> None:
    html = write_report(_hostile_report(), tmp_path / "backup")[2].read_text(encoding="utf-8")
    for raw in ("<img src=x", "<script>alert(2)", "<b>more</b>", "</script> and"):
        assert raw not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "docs &amp; &lt;b&gt;more&lt;/b&gt;" in html
    page = _parse(html)
    text = " ".join(page.text)
    assert page.tables and all(t["thead"] == 1 and t["th"] >= 2 for t in page.tables)
    assert "5.4 GB (5,432,100,000 bytes)" in text and "3 min 6 s" in text and "6,655/s" in text
    assert "1,234,567" in text and "FAIL" in text
    assert "1 of 2 checks failed: docs & <b>more</b>: sha256." in text  # named above the charts
    # Python reprs of dicts, lists, booleans and None never reach the page.
    for repr_ in (r"\{'", r"\['", r"\bTrue\b", r"\bFalse\b", r"\bNone\b"):
        assert not re.search(repr_, text), repr_
    assert 'class="bad"' in html and 'class="good"' in html


def test_html_needs_no_network(tmp_path: Path) -> None:
    html = write_report(_hostile_report(), tmp_path / "backup")[2].read_text(encoding="utf-8")
    page = _parse(html)
    assert page.srcs == [] and not any(h.startswith(("http:", "https:", "//")) for h in page.hrefs)
    assert "<link" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # plotly.js itself is inline, once.
    assert html.count("<script>") >= 2 and len(html) > 1_000_000


def test_a_report_without_figures_to_chart_carries_no_chart_library(tmp_path: Path) -> None:
    r = Report(verb="check-legacy")
    r.check("references", True, "0 left")
    r.finish()
    html = write_report(r, tmp_path / "c")[2].read_text(encoding="utf-8")
    assert "Plotly" not in html and len(html) < 20_000


def test_run_report_links_each_step_page(tmp_path: Path) -> None:
    r = RunReport(run_id="20260101T000000Z-abcd", phases=["7.1"])
    r.steps = [StepRow(phase="7.1", id="backup", kind="backup", status="ok", duration_s=1.5,
                       report="steps/01-backup", summary=["backup: ok"]),
               StepRow(phase="7.1", id="migrate", kind="migrate", status="failed", duration_s=2.0,
                       report="steps/02-migrate")]
    r.plan_diff = "--- PLAN.md\n+++ PLAN.md\n-- [ ] backup\n+- [x] backup\n"
    r.finish()
    html = write_report(r, tmp_path / "report")[2].read_text(encoding="utf-8")
    assert {"steps/01-backup.html", "steps/02-migrate.html"} <= set(_parse(html).hrefs)
    assert "<pre>--- PLAN.md\n+++ PLAN.md\n-- [ ] backup\n+- [x] backup</pre>" in html  # lines kept
    assert "Time per phase" in html  # the steps' durations are charted


class _Sink:
    def __init__(self) -> None:
        self.advanced = 0

    def task(self, description: str, total: int | None = None) -> _Sink:
        return self

    def advance(self, n: int = 1, *, nbytes: int = 0) -> None:
        self.advanced += n

    def resume(self, n: int) -> None:
        self.resumed = n

    def done(self) -> None:
        return None


def test_tracking_progress_forwards_and_keeps_a_bounded_series() -> None:
    inner = _Sink()
    out: list[Any] = []
    tracker = TrackingProgress(inner, out, Throughput, interval=0.0, max_samples=50)
    task = tracker.task("copy c", total=1000)
    task.resume(500)  # done by an earlier run: not this run's throughput
    for _ in range(1000):
        task.advance(1, nbytes=10)
    task.done()
    (series,) = out
    assert inner.advanced == 1000 and inner.resumed == 500 and series.name == "copy c"
    assert len(series.t_s) == len(series.points) <= 51
    assert series.points[0] == 0 and series.points[-1] == 1000
    assert series.points == sorted(series.points) and series.t_s == sorted(series.t_s)


def _migrated(tmp_path: Path) -> Report:
    make_collection(":memory:", "c", "int-unnamed", 300)
    make_collection(":memory:", "u", "uuid-named", 120)
    cfg = MigrateConfig.model_validate({
        "source_qdrant": {"url": ":memory:"}, "target_qdrant": {"url": ":memory:"}, "format_version": "v2",
        "backup_path": str(tmp_path / "b"), "validation": {"samples": 20, "k": 5},
    })
    report = migrate(cfg)
    assert report.status == "ok", report.summary_lines()
    return report


def test_migrate_keeps_phases_throughput_and_per_query_figures(tmp_path: Path) -> None:
    report = _migrated(tmp_path)
    assert {"backup", "copy", "validate"} <= set(report.phase_seconds)
    series = {t.name: t for t in report.throughput}
    assert {"migrate c -> c_v2", "migrate u -> u_v2"} <= set(series)
    assert series["migrate c -> c_v2"].points[-1] == 300
    parity = [c for c in report.checks if c.name == "parity recall@5"]
    assert len(parity) >= 2  # one per dense vector
    for c in parity:
        pq = c.figures["per_query"]
        n = int(c.figures["queries"])  # the sample points that have this vector
        assert 0 < n <= 20 and len(pq["recall"]) == len(pq["target_latency_ms"]) == len(pq["source_latency_ms"]) == n
        assert all(0.0 <= x <= 1.0 for x in pq["recall"])
    page = " ".join(_parse(write_report(report, tmp_path / "m")[2].read_text(encoding="utf-8")).text)
    assert "estimated" not in page  # a real run shows no dry run's zero estimates
    # The Markdown stays a summary: no per-query lists in it.
    assert "per_query" not in report.to_markdown() and "## Phases" in report.to_markdown()


def _browser_dom(page: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={profile}",
           "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def charts_drawn(html_file: Path, profile: Path) -> dict[str, list[str]]:
    """Each chart div of the page, with the plotly trace kinds Chromium drew in it."""
    dom = _browser_dom(html_file, profile)
    ids = re.findall(r'id="(chart-\d+)"', html_file.read_text(encoding="utf-8"))
    out = {}
    for n, chart in enumerate(ids):
        start = dom.index(f'id="{chart}"')
        end = dom.find(f'id="{ids[n + 1]}"', start) if n + 1 < len(ids) else len(dom)
        part = dom[start:end]
        out[chart] = re.findall(r'class="trace (\w+)', part) if 'class="main-svg"' in part else []
    return out


@needs_chromium
def test_charts_render_in_headless_chromium(tmp_path: Path) -> None:
    html_file = write_report(_migrated(tmp_path), tmp_path / "migrate")[2]
    drawn = charts_drawn(html_file, tmp_path / "profile")
    # time per phase, throughput, recall per query, score drift, latency: every one drawn.
    assert len(drawn) == 5 and all(drawn.values()), drawn
    kinds = {k for v in drawn.values() for k in v}
    assert {"bars", "scatter", "boxes"} <= kinds


@needs_chromium
@pytest.mark.slow
def test_make_demo_html_reports_open_with_their_charts_drawn(tmp_path: Path) -> None:
    """The Done-when of issue 26: every HTML page ``make demo`` writes opens in Chromium, charts drawn."""
    from demo.run import main

    assert main(["--dir", str(tmp_path / "demo"), "--points", "150"]) == 0
    pages = sorted((tmp_path / "demo").rglob("*.html"))
    names = {p.relative_to(tmp_path / "demo").as_posix().split("/")[-1] for p in pages}
    assert {"backup.html", "restore.html", "report.html", "02-migrate.html", "03-validate.html"} <= names
    charted = 0
    for page in pages:
        drawn = charts_drawn(page, tmp_path / "profile")
        assert all(drawn.values()), (page, drawn)
        charted += bool(drawn)
        parsed = _parse(page.read_text(encoding="utf-8"))
        assert all(t["thead"] == 1 for t in parsed.tables), page
        text = " ".join(parsed.text)
        for repr_ in (r"\{'", r"\['", r"\bTrue\b", r"\bFalse\b", r"\bNone\b"):
            assert not re.search(repr_, text), (page, repr_)
    assert charted >= 5
    run_report = next(p for p in pages if p.name == "report.html")
    links = _parse(run_report.read_text(encoding="utf-8")).hrefs
    assert links and all((run_report.parent / h).is_file() for h in links)


def test_a_task_tail_with_no_points_adds_no_zero_rate() -> None:
    out: list[Any] = []
    task = TrackingProgress(_Sink(), out, Throughput, interval=0.0).task("copy c")
    task.advance(10)
    task.done()  # nothing advanced since: no sample of rate 0 at the end
    assert out[0].points == [0, 10]


def test_html_masks_registered_secrets(tmp_path: Path) -> None:
    from qdrant_ops.secrets import MASK, register_secret

    register_secret("html-secret-4711")
    r = BackupReport(source="http://db:6333/?api_key=html-secret-4711")
    r.check("reach", False, "refused with key html-secret-4711", collection="c")
    r.finish()
    html = write_report(r, tmp_path / "r")[2].read_text(encoding="utf-8")
    assert "html-secret-4711" not in html and MASK in html


def test_backup_verify_and_restore_record_phases_and_throughput(tmp_path: Path) -> None:
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig, RestoreConfig
    from qdrant_ops.data.restore import restore
    from qdrant_ops.data.verify import verify_backup
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    make_collection(":memory:", "c", "int-unnamed", 250)
    bk = backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b")))
    assert {"copy", "verify"} <= set(bk.phase_seconds)
    series = {t.name: t for t in bk.throughput}
    assert series["backup c"].points[-1] == 250 and series["verify c"].points[-1] == 250
    vb = verify_backup(bk.backup_dir)
    assert [t.name for t in vb.throughput] == ["verify c"] and vb.throughput[0].points[-1] == 250
    rs = restore(RestoreConfig(backup=bk.backup_dir, target=endpoint_from_uri(":memory:"), suffix="_r"))
    assert "copy" in rs.phase_seconds and rs.throughput[0].points[-1] == 250
