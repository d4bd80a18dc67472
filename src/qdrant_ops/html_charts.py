"""The HTML report's charts, drawn with plotly from a report's JSON data.

Plotly because its Python package ships plotly.js, so a page carries the library inline and works
with no network; its charts are SVG, which a test can find in the DOM once the scripts ran. Each
chart is made only where the report holds its figures:

- time per phase: ``phase_seconds`` (or the run's steps, or each collection's duration);
- throughput over time: ``throughput``, points/s between successive samples of each task;
- recall@k per query sample, score drift and search latency: the ``per_query`` figures of the
  parity checks (``validate``, and ``migrate`` with its validation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Chart = tuple[str, str]  # (title, the chart's HTML: a div and the script that draws it)

_CONFIG = {"displaylogo": False, "responsive": True}
_GREEN, _RED = "#1e8e3e", "#d93025"


def build_charts(data: Mapping[str, Any]) -> list[Chart]:
    """Every chart the report's data allows, in reading order."""
    import plotly.graph_objects as go

    figures: list[tuple[str, Any]] = []
    phases = time_per_phase(data)
    if phases:
        names = list(phases)
        fig = go.Figure(go.Bar(
            x=[phases[n] for n in names], y=names, orientation="h", marker_color="#4c78a8",
            text=[_seconds(phases[n]) for n in names], textposition="auto",
            hovertemplate="%{y}: %{x:.2f} s<extra></extra>",
        ))
        fig.update_layout(xaxis_title="seconds", yaxis={"autorange": "reversed", "automargin": True})
        figures.append(("Time per phase", _sized(fig, max(220, 60 + 28 * len(names)))))
    series = throughput_series(data)
    if series:
        fig = go.Figure([
            go.Scatter(x=t, y=r, mode="lines+markers", name=name, line_shape="vh",
                       hovertemplate="%{x:.1f} s: %{y:,.0f} points/s<extra>" + "%{fullData.name}</extra>")
            for name, t, r in series
        ])
        fig.update_layout(xaxis_title="seconds since the start", yaxis_title="points/s")
        figures.append(("Throughput over time", _sized(fig, 340)))
    samples = parity_samples(data)
    recall = [(label, pq["recall"], s) for label, pq, s in samples if pq.get("recall")]
    if recall:
        fig = go.Figure([
            go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="markers", name=label,
                       hovertemplate="query %{x}: recall %{y:.3f}<extra>" + "%{fullData.name}</extra>")
            for label, values, _ in recall
        ])
        for limit in sorted({float(s["min_recall"]) for _, _, s in recall if s.get("min_recall") is not None}):
            fig.add_hline(y=limit, line_dash="dash", line_color=_RED, annotation_text=f"min {limit:g}",
                          annotation_position="bottom left")
        k = ", ".join(sorted({str(s.get("k")) for _, _, s in recall}))
        fig.update_layout(xaxis_title="query sample", yaxis_title=f"recall@{k}", yaxis_range=[-0.02, 1.05])
        truths = sorted({str(s.get("truth")) for _, _, s in recall if s.get("truth")})
        title = f"Recall@{k} per query sample" + (f" (against {', '.join(truths)})" if truths else "")
        figures.append((title, _sized(fig, 340)))
    drift = [(label, pq["score_drift"]) for label, pq, _ in samples if pq.get("score_drift")]
    if drift:
        fig = go.Figure([go.Box(y=values, name=label, boxpoints="all", jitter=0.4) for label, values in drift])
        fig.update_layout(yaxis_title="largest |score difference|", yaxis_exponentformat="e", showlegend=False)
        figures.append(("Score drift per query", _sized(fig, 320)))
    latency: list[Any] = []
    for label, pq, _ in samples:
        for side, color in (("target", "#4c78a8"), ("source", "#f58518")):
            values = pq.get(f"{side}_latency_ms")
            if values:
                latency.append(go.Box(y=values, name=f"{label} · {side}", marker_color=color, boxpoints="outliers"))
    if latency:
        fig = go.Figure(latency)
        fig.update_layout(yaxis_title="ms per search", showlegend=False)
        figures.append(("Search latency per query", _sized(fig, 320)))
    return [(title, _to_html(fig, n)) for n, (title, fig) in enumerate(figures)]


def time_per_phase(data: Mapping[str, Any]) -> dict[str, float]:
    timings = data.get("phase_seconds")
    if isinstance(timings, dict) and timings:
        return {str(k): float(v) for k, v in timings.items() if isinstance(v, (int, float))}
    steps = data.get("steps")
    if isinstance(steps, list) and any(isinstance(s, dict) and s.get("duration_s") for s in steps):
        return {f"{s.get('phase', '')} {s.get('id', '')}".strip(): float(s.get("duration_s") or 0.0)
                for s in steps if isinstance(s, dict)}
    rows = data.get("collections")
    if isinstance(rows, list) and any(isinstance(c, dict) and c.get("duration_s") for c in rows):
        return {str(c.get("name")): float(c.get("duration_s") or 0.0) for c in rows if isinstance(c, dict)}
    return {}


def throughput_series(data: Mapping[str, Any]) -> list[tuple[str, list[float], list[float]]]:
    """Per task: sample times and the points/s over the interval each one ends.

    The first interval's rate is also given at its start, so a ``vh`` line draws every interval
    as a flat step at its own rate.
    """
    out = []
    for s in data.get("throughput") or []:
        t, p = s.get("t_s") or [], s.get("points") or []
        xs: list[float] = []
        ys: list[float] = []
        for i in range(1, min(len(t), len(p))):
            dt = t[i] - t[i - 1]
            if dt > 0:
                rate = round((p[i] - p[i - 1]) / dt, 1)
                if not xs:
                    xs.append(round(t[i - 1], 3))
                    ys.append(rate)
                xs.append(round(t[i], 3))
                ys.append(rate)
        if xs:
            out.append((str(s.get("name", "")), xs, ys))
    return out


def parity_samples(data: Mapping[str, Any]) -> list[tuple[str, dict[str, Sequence[float]], dict[str, Any]]]:
    """``(label, per_query, figures)`` of each parity check that kept its per-query figures."""
    out = []
    for c in data.get("checks") or []:
        figs = c.get("figures") or {}
        pq = figs.get("per_query")
        if isinstance(pq, dict) and pq:
            vector = figs.get("vector") or "(unnamed)"
            label = f"{c.get('collection') or ''} · {vector}".strip(" ·")
            out.append((label, pq, figs))
    return out


def _seconds(v: float) -> str:
    return f"{v:.2f} s" if v < 120 else f"{int(v // 60)} min {v % 60:.0f} s"


def _sized(fig: Any, height: int) -> Any:
    fig.update_layout(template="plotly_white", height=height, margin={"l": 10, "r": 10, "t": 30, "b": 40},
                      legend={"orientation": "h", "y": -0.25}, font={"size": 12})
    return fig


def _to_html(fig: Any, n: int) -> str:
    import plotly.io as pio

    # A fixed div id keeps the page the same for the same report (plotly's default is random).
    return str(pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=f"chart-{n}",
                           config=_CONFIG, default_width="100%", default_height=f"{fig.layout.height}px"))


def plotly_js() -> str:
    """plotly.js itself, as shipped by the plotly package, to inline once per page."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())
