"""Reports: every verb returns a ``Report``; this module renders it as JSON, Markdown and HTML.

The JSON carries ``schema`` (``qdrant-ops/<verb>``) and ``schema_version`` so machines can parse
it; the Markdown is the same content for people, and the HTML (``html_report.py``) adds charts of
``phase_seconds`` and ``throughput``. Secrets are masked in all three.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from qdrant_ops import __version__
from qdrant_ops._fs import atomic_write_text
from qdrant_ops.secrets import redact_data

if TYPE_CHECKING:
    from qdrant_ops.progress import ProgressSink

SCHEMA_VERSION = 1

Status = Literal["ok", "failed", "partial", "dry-run", "running"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Check(BaseModel):
    """One check a verb made, with its figures."""

    name: str
    passed: bool
    detail: str = ""
    collection: str | None = None
    figures: dict[str, Any] = Field(default_factory=dict)
    inconclusive: bool = False  # could not run to a verdict: neither pass nor a failure


class Throughput(BaseModel):
    """One progress task's points done over time (the HTML report's throughput chart)."""

    name: str
    t_s: list[float] = Field(default_factory=list)  # seconds since the report started
    points: list[int] = Field(default_factory=list)  # points done by then, cumulative


class Report(BaseModel):
    """Base of every verb's report."""

    schema_version: int = SCHEMA_VERSION
    verb: str
    tool_version: str = __version__
    status: Status = "running"
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    duration_s: float = 0.0
    checks: list[Check] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # Seconds per phase (copy, optimize, verify, backup, validate ...), so a rate can count the
    # copy alone while the other phases are still accounted for.
    phase_seconds: dict[str, float] = Field(default_factory=dict)
    throughput: list[Throughput] = Field(default_factory=list)  # each progress task's points over time

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase ``name`` (added to what the phase took before)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.phase_seconds[name] = round(self.phase_seconds.get(name, 0.0) + time.monotonic() - started, 3)

    def track(self, progress: ProgressSink) -> ProgressSink:
        """``progress``, also recording each task's points over time into ``throughput``."""
        from qdrant_ops.throughput import TrackingProgress

        offset = (utcnow() - self.started_at).total_seconds()
        return TrackingProgress(progress, self.throughput, Throughput, offset=offset)

    def check(self, name: str, passed: bool, detail: str = "", **kw: Any) -> Check:
        c = Check(name=name, passed=passed, detail=detail, **kw)
        self.checks.append(c)
        return c

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed and not c.inconclusive]

    def finish(self, status: Status | None = None) -> None:
        self.finished_at = utcnow()
        self.duration_s = round((self.finished_at - self.started_at).total_seconds(), 3)
        if status is not None:
            self.status = status
        elif self.status == "running":
            self.status = "failed" if self.failed_checks else "ok"

    # -- rendering -------------------------------------------------------------------------

    def to_json_data(self) -> dict[str, Any]:
        data = json.loads(self.model_dump_json())
        data = {"schema": f"qdrant-ops/{self.verb}", **data}
        return redact_data(data)  # type: ignore[no-any-return]

    def summary_lines(self) -> list[str]:
        """A few lines for the terminal; verbs override to add their figures."""
        lines = [f"{self.verb}: {self.status} in {self.duration_s:.1f}s"]
        if self.phase_seconds:
            lines.append("  phases: " + " · ".join(f"{k} {v:.1f}s" for k, v in self.phase_seconds.items()))
        for c in self.failed_checks:
            where = f"[{c.collection}] " if c.collection else ""
            lines.append(f"  FAILED {where}{c.name}: {c.detail}")
        return lines

    def error_line(self) -> str | None:
        """The one line a run that ended partial leaves on stderr, as a raised error would; None
        for a verb whose partial end raises its own error."""
        return None

    def result_line(self) -> str | None:
        """The one thing a script wants from the run (``--quiet`` prints it): the backup
        directory a backup wrote, the id of a runbook run; None when a verb has no such thing."""
        for name in ("backup_dir", "run_id"):
            value = getattr(self, name, None)
            if isinstance(value, str) and value:
                return value
        return None

    def markdown_sections(self) -> list[str]:
        """Verb-specific Markdown sections; the base renders checks and notes."""
        return []

    def to_markdown(self) -> str:
        out = [f"# qdrant-ops {self.verb} report", ""]
        out.append(
            md_table(
                ["status", "started", "duration (s)", "tool"],
                [[self.status, self.started_at.isoformat(), f"{self.duration_s:.2f}", self.tool_version]],
            )
        )
        out.extend(self.markdown_sections())
        if self.phase_seconds:
            out += ["", "## Phases", ""]
            out.append(md_table(["phase", "seconds"], [[k, f"{v:.2f}"] for k, v in self.phase_seconds.items()]))
        if self.checks:
            out += ["", "## Checks", ""]
            out.append(
                md_table(
                    ["collection", "check", "result", "detail"],
                    [
                        [c.collection or "", c.name,
                         "inconclusive" if c.inconclusive else "pass" if c.passed else "**FAIL**", c.detail]
                        for c in self.checks
                    ],
                )
            )
        if self.notes:
            out += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        text = "\n".join(out) + "\n"
        return str(redact_data(text))


def human_bytes(n: float) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units, as disks and networks count)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns at TB


def bytes_cell(n: int) -> str:
    """The exact count and, past a kilobyte, its human size: ``12,345,678 (12.3 MB)``."""
    return f"{n:,}" if abs(n) < 1000 else f"{n:,} ({human_bytes(n)})"


def plain(value: Any) -> str:
    """A value as a person reads it: yes/no, ``k=v, ...`` and ``a, b``, never a Python repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(plain(v) for v in value)
    return str(value)


def md_escape(value: Any) -> str:
    return plain(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report_paths(path: str | Path) -> tuple[Path, Path, Path]:
    """``(json_path, markdown_path, html_path)`` for a ``--report`` argument."""
    p = Path(path)
    if p.suffix.lower() in (".json", ".md", ".html"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".json"), p.with_name(p.name + ".md"), p.with_name(p.name + ".html")


def write_report(report: Report, path: str | Path) -> tuple[Path, Path, Path]:
    """Write the report as JSON, Markdown and HTML beside each other; returns the three paths."""
    from qdrant_ops.html_report import render_html

    json_path, md_path, html_path = report_paths(path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json_path, json.dumps(report.to_json_data(), indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(md_path, report.to_markdown())
    atomic_write_text(html_path, render_html(report))
    return json_path, md_path, html_path
