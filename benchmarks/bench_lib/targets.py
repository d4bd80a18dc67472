"""The targets (issue 9), their PASS/FAIL verdicts and the way a ratio is shown."""

from __future__ import annotations

from typing import Any

TARGETS: list[tuple[str, str, float, str]] = [
    ("backup_vs_raw_scroll_ratio", ">=", 0.9, "backup >= 0.9x raw scroll"),
    ("restore_vs_raw_upsert_ratio", ">=", 0.9, "restore >= 0.9x raw upsert"),
    ("verify_vs_raw_read_ratio", ">=", 0.8, "verify BACKUP >= 0.8x raw read+hash"),
    ("migrate_vs_ceiling_ratio", ">=", 0.9, "migrate >= 0.9x scroll+upsert ceiling"),
    ("migrate_vs_qdrant_client_ratio", ">=", 1.5, "migrate >= 1.5x qdrant_client.migrate() (defaults; target at >= 100k points)"),
    ("backup_rss_10x_vs_1x_ratio", "<=", 1.2, "backup peak RSS above engine, 10xN <= 1.2x N"),
    ("restore_rss_10x_vs_1x_ratio", "<=", 1.2, "restore peak RSS above engine, 10xN <= 1.2x N"),
]


def checks(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, op, limit, what in TARGETS:
        value = res.get(key)
        if value is None:
            verdict = "N/A"
        else:
            ok = value >= limit if op == ">=" else value <= limit
            verdict = "PASS" if ok else "FAIL"
        if key == "migrate_vs_qdrant_client_ratio" and res["migrate_points"] < 100_000 and verdict == "FAIL":
            verdict = "FAIL (below 100k points)"
        out.append({"target": what, "field": key, "value": value, "limit": f"{op} {limit}", "verdict": verdict})
    return out


def fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}"


def fmt_ratio(check: dict[str, Any]) -> str:
    """A check's ratio to two decimals, or three where two would round it onto its limit (0.899
    against ``>= 0.9`` fails, which "0.90" would not show)."""
    text = fmt(check["value"])
    limit = next(lim for key, _, lim, _ in TARGETS if key == check["field"])
    if check["value"] is not None and text == fmt(limit):
        return fmt(check["value"], 3)
    return text
