"""The HTML form of a report: one self-contained page a person opens in a browser.

Built from the report's JSON data (secrets already masked), so every verb's report renders
without code of its own: a summary, the checks of each collection as a green/red table, the
charts (``html_charts.py``), then every other field as a table with headers, in human units.
Everything inlined (styles, plotly.js) and a Content-Security-Policy that forbids any fetch: the
page reads the same offline, archived, or mailed. Every text is escaped; no Python repr reaches it.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from qdrant_ops.reports import Report

_SKIP = {"schema", "schema_version", "verb", "checks", "prerequisites", "notes", "phase_seconds", "throughput"}
_GOOD = {"ok", "dry-run", "rolled-back", "pass", "passed"}
_BAD = {"failed", "partial", "rollback-failed", "fail"}
_DRY_RUN_ONLY = ("estimated_", "free_disk_")  # a dry run's estimates: zeros, not news, after a real run
_ISO = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(\+00:00|Z)?$")
# 'unsafe-inline' only: plotly.js and the charts are inline scripts; nothing may be fetched.
_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:"

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1180px;
padding:0 16px;color:#202124}
h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dadce0}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}
th,td{border:1px solid #dadce0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4;font-weight:600}th[scope=row],summary{white-space:nowrap}
td.num{text-align:right;white-space:nowrap}
tr.good td{background:#e6f4ea}tr.bad td{background:#fce8e6}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600;font-size:13px}
.badge.good{background:#1e8e3e}.badge.bad{background:#d93025}.badge.other{background:#5f6368}
.verdict{font-weight:600;padding:6px 10px;border-radius:4px}.verdict.good{background:#e6f4ea}
.verdict.bad{background:#fce8e6;color:#a50e0e}
.wide{overflow-x:auto}
.chart{border:1px solid #dadce0;border-radius:6px;padding:6px;margin:8px 0 16px}
summary{cursor:pointer;color:#1a73e8}
pre{background:#f8f9fa;border:1px solid #dadce0;padding:8px;overflow-x:auto}
code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
"""


def render_html(report: Report) -> str:
    """The report as a complete HTML page (charts only where the report has their figures)."""
    from qdrant_ops.html_charts import build_charts, plotly_js

    data = report.to_json_data()
    verb = str(data.get("verb", ""))
    status = str(data.get("status", ""))
    charts = build_charts(data)
    body = [f"<h1>qdrant-ops {_e(verb)} report {_badge(status)}</h1>"]
    dry = bool(data.get("dry_run"))
    body.append(_summary([(k, v) for k, v in data.items() if k not in _SKIP and _scalar(v) and v not in ("", None)
                          and not _multiline(v) and (dry or not k.startswith(_DRY_RUN_ONLY))]))
    body.append(_verdict([*(data.get("prerequisites") or []), *(data.get("checks") or [])]))
    # Charts first for the picture, then the green/red tables; the verdict above names any failure.
    if charts:
        body.append('<h2 id="charts">Charts</h2>')
        for title, chart in charts:
            body.append(f'<div class="chart"><h3>{_e(title)}</h3>{chart}</div>')
    for title, key in (("Prerequisites", "prerequisites"), ("Checks", "checks")):
        if data.get(key):
            body.append(f'<h2 id="{key}">{title}</h2>')
            body.extend(_checks(data[key]))
    for key, value in data.items():
        if key in _SKIP or _empty(value) or (_scalar(value) and not _multiline(value)):
            continue
        body.append(f"<h2>{_e(_label(key).capitalize())}</h2>")
        # A text of many lines (the plan's diff) keeps its lines.
        body.extend([f"<pre>{_e(value.rstrip())}</pre>"] if _multiline(value) else _block(key, value))
    if data.get("notes"):
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in data["notes"]) + "</ul>")
    script = f"<script>{plotly_js()}</script>" if charts else ""
    title = f"qdrant-ops {verb} report: {status}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style>{script}</head>\n<body>\n"
        + "\n".join(body) + "\n</body></html>\n"
    )


# -- blocks -------------------------------------------------------------------------------------


def _verdict(checks: Sequence[Mapping[str, Any]]) -> str:
    if not checks:
        return ""
    failed = [c for c in checks if not c.get("passed")]
    if not failed:
        what = "The check passed" if len(checks) == 1 else f"All {len(checks)} checks passed"
        return f'<p class="verdict good">{what}.</p>'
    names = "; ".join(f"{c.get('collection')}: {c.get('name')}" if c.get("collection") else str(c.get("name"))
                      for c in failed)
    return f'<p class="verdict bad">{len(failed)} of {len(checks)} checks failed: {_e(names)}.</p>'


def _checks(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    """One green/red table per collection (checks of no collection first)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for c in checks:
        groups.setdefault(str(c.get("collection") or ""), []).append(c)
    out = []
    for name, rows in groups.items():
        failed = sum(1 for c in rows if not c.get("passed"))
        verdict = f"{failed} of {len(rows)} failed" if failed else f"all {len(rows)} passed"
        if len(groups) > 1 or name:
            out.append(f"<h3>{_e(name or 'Whole run')} · {_e(verdict)}</h3>")
        body = []
        for c in rows:
            ok = bool(c.get("passed"))
            figures = {k: v for k, v in (c.get("figures") or {}).items() if k != "per_query"}
            body.append(
                f'<tr class="{"good" if ok else "bad"}"><td>{_e(c.get("name"))}</td>'
                f"<td>{'pass' if ok else '<strong>FAIL</strong>'}</td><td>{_e(c.get('detail'))}</td>"
                f"<td>{_details(figures)}</td></tr>"
            )
        out.append(_table(["check", "result", "detail", "figures"], body))
    return out


def _block(key: str, value: Any) -> list[str]:
    if isinstance(value, Mapping):
        # A dict named for its unit (``step_durations_s``) gives its values that unit.
        unit = key if key.endswith(("_s", "_ms", "bytes", "_per_s")) else None
        scalars = [(k, v) for k, v in value.items() if _scalar(v)]
        out = [_kv_table(scalars, headers=_pair_headers(key), unit_key=unit)] if scalars else []
        for k, v in value.items():
            if not _scalar(v) and not _empty(v):
                out.append(f"<h3>{_e(_label(str(k)).capitalize())}</h3>")
                out.extend(_block(str(k), v))
        return out
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return _rows_table(key, value)
    return ["<ul>" + "".join(f"<li>{_e(_fmt(key, v)) if _scalar(v) else _inline(v)}</li>" for v in value) + "</ul>"]


def _rows_table(key: str, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """A list of objects as one table; nested lists of objects go below it, one table per row."""
    if all(isinstance(r.get("passed"), bool) and "check" in r for r in rows):
        # Check results with figures of their own (the run report's validation): like the checks.
        return _checks([{"collection": r.get("collection"), "name": r.get("check"), "passed": r["passed"],
                         "detail": r.get("detail", ""),
                         "figures": {k: v for k, v in r.items() if k not in ("collection", "check", "passed", "detail")}}
                        for r in rows])
    columns: list[str] = []
    nested: list[str] = []
    for row in rows:
        for k, v in row.items():
            if k in columns or k in nested:
                continue
            if isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
                nested.append(k)
            else:
                columns.append(k)
    for k in [k for k in columns if any(isinstance(r.get(k), list | Mapping) for r in rows)]:
        if any(isinstance(r.get(k), list) and r.get(k) and all(isinstance(x, Mapping) for x in r[k]) for r in rows):
            columns.remove(k)
            nested.append(k)
    columns = [k for k in columns if not all(_empty(r.get(k)) or (k.startswith(_DRY_RUN_ONLY) and r.get(k) == 0)
                                             for r in rows)]
    body = []
    for row in rows:
        cells = "".join(_cell(key, k, row.get(k)) for k in columns)
        body.append(f"<tr{_row_class(row)}>{cells}</tr>")
    out = [_table([_label(k) for k in columns], body)]
    for row in rows:
        name = row.get("name") or row.get("id") or ""
        for k in nested:
            sub = row.get(k)
            if isinstance(sub, list) and sub and all(isinstance(x, Mapping) for x in sub):
                out.append(f"<h3>{_e(_label(k).capitalize())}: {_e(name)}</h3>")
                out.extend(_rows_table(k, sub))
    return out


def _cell(parent: str, key: str, value: Any) -> str:
    if key == "report" and parent == "steps" and isinstance(value, str) and value:
        # The run directory holds each step's report beside the run's own: link its page.
        href = quote(value + ".html")
        return f'<td><a href="{_e(href)}">{_e(value)}</a> (also .json, .md)</td>'
    if key == "passed" and isinstance(value, bool):
        return f"<td>{'pass' if value else '<strong>FAIL</strong>'}</td>"
    if not _scalar(value):
        return f"<td>{_inline(value)}</td>"
    num = isinstance(value, int | float) and not isinstance(value, bool)
    return f'<td class="num">{_e(_fmt(key, value))}</td>' if num else f"<td>{_e(_fmt(key, value))}</td>"


def _row_class(row: Mapping[str, Any]) -> str:
    passed = row.get("passed")
    if isinstance(passed, bool):
        return ' class="good"' if passed else ' class="bad"'
    status = row.get("status")
    if status in _GOOD:
        return ' class="good"'
    if status in _BAD:
        return ' class="bad"'
    return ""


def _kv_table(
    items: Sequence[tuple[Any, Any]], headers: tuple[str, str] = ("field", "value"), unit_key: str | None = None
) -> str:
    body = [f"<tr><th scope=\"row\">{_e(_label(str(k)) if unit_key is None else k)}</th>"
            f"<td>{_e(_fmt(unit_key or str(k), v)) if _scalar(v) else _inline(v)}</td></tr>"
            for k, v in items]
    return _table(list(headers), body)


def _summary(items: Sequence[tuple[str, Any]]) -> str:
    """The report's own fields, two to a row so the page opens on the checks and charts."""
    body = []
    for i in range(0, len(items), 2):
        cells = "".join(f'<th scope="row">{_e(_label(k))}</th><td>{_e(_fmt(k, v))}</td>' for k, v in items[i : i + 2])
        body.append(f"<tr>{cells}</tr>")
    return _table(["field", "value", "field", "value"], body)


def _pair_headers(key: str) -> tuple[str, str]:
    return {"collections": ("collection", "target"), "statistics": ("figure", "value")}.get(key, ("name", "value"))


def _table(headers: Sequence[str], body: Sequence[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    # A wide table scrolls inside its own box instead of widening the page.
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _details(figures: Mapping[str, Any]) -> str:
    """A check's figures, folded: the detail beside them already says what matters."""
    if not figures:
        return ""
    n = len(figures)
    return f"<details><summary>{n} figure{'s' if n > 1 else ''}</summary>{_inline(figures)}</details>"


def _inline(value: Any) -> str:
    """A nested value inside a cell: ``key: value`` pairs, or JSON (never a Python repr)."""
    if isinstance(value, Mapping) and all(_scalar(v) for v in value.values()):
        return "<br>".join(f"{_e(_label(str(k)))}: {_e(_fmt(str(k), v))}" for k, v in value.items())
    if isinstance(value, list) and all(_scalar(v) for v in value):
        return _e(", ".join(_fmt("", v) for v in value))
    if isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values()):
        return "<br>".join(f"<strong>{_e(k)}</strong>: {_inline(v)}" for k, v in value.items())
    return f"<code>{_e(json.dumps(value, ensure_ascii=False, sort_keys=True))}</code>"


# -- values -------------------------------------------------------------------------------------


def _badge(status: str) -> str:
    cls = "good" if status in _GOOD else "bad" if status in _BAD else "other"
    return f'<span class="badge {cls}">{_e(status)}</span>'


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _multiline(v: Any) -> bool:
    return isinstance(v, str) and "\n" in v.strip()


def _empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, list | dict) and not v)


def _label(key: str) -> str:
    """``points_per_s`` -> ``points/s``, ``duration_s`` -> ``duration``: the unit goes with the value."""
    if key.endswith("_per_s"):
        return key[: -len("_per_s")].replace("_", " ") + "/s"
    for suffix in ("_s", "_ms"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    return key.replace("_", " ")


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def _fmt(key: str, v: Any) -> str:
    """A value in human units, chosen by its field name; the exact figure kept beside a rounded one."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float) and key.endswith("bytes"):
        return human_bytes(v) if abs(v) < 1000 else f"{human_bytes(v)} ({int(v):,} bytes)"
    if isinstance(v, int | float) and key.endswith("_per_s"):
        return f"{v:,.0f}/s"
    if isinstance(v, int | float) and (key.endswith("_s") or key == "seconds"):
        return f"{v:,.2f} s" if v < 120 else f"{int(v // 60)} min {v % 60:.0f} s ({v:,.1f} s)"
    if isinstance(v, int | float) and key.endswith("_ms"):
        return f"{v:,.2f} ms"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    text = str(v)
    m = _ISO.match(text)
    if m:
        return f"{m.group(1)} {m.group(2)}" + (" UTC" if m.group(4) else "")
    return text


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)
