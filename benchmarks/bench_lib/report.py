"""The Markdown report printed at the end of a run."""

from __future__ import annotations

from typing import Any

from bench_lib.targets import fmt, fmt_ratio

LABELS = {
    "backup_1x": "backup",
    "backup_10x": "backup (10x)",
    "restore_1x": "restore",
    "restore_10x": "restore (10x)",
    "verify_backup": "verify BACKUP",
    "verify_against": "verify BACKUP --against",
    "migrate_p1": "migrate --parallel 1",
    "migrate_p2": "migrate --parallel 2",
    "peer_migrate_default": "qdrant_client.migrate() defaults",
    "peer_migrate_b1000": "qdrant_client.migrate(batch_size=1000)",
}


def render(res: dict[str, Any]) -> str:
    lines = _operations(res) + _targets(res) + _restore_memory(res) + _backup_memory(res) + _advised(res)
    lines.append(f"Total benchmark time: {res.get('total_seconds', 0):.0f} s.")
    return "\n".join(lines)


def _operations(res: dict[str, Any]) -> list[str]:
    """The heading, then every operation's rate and memory: the raw ceilings, then ours and the peer's."""
    m = res["machine"]
    ops = res["operations"]
    lines = [
        (
            f"## qdrant-ops benchmark — engine `{res['engine']}`, {res['points']:,} points (10x: {res['points_10x']:,}), "
            f"{res['dims']} dims"
        ),
        "",
        (
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GiB; Python {m['python']}, "
            f"qdrant-client {m['qdrant_client']}, pyarrow {m['pyarrow']}. Date: {res['date']}."
        ),
        f"Note: {res['note']}.",
        (
            f"Ceilings: the best page or batch size, each size the first pass in a fresh process; raw Parquet: the best of {res.get('repeat', 1)} runs. qdrant-ops' operations at {res['points']:,} points: the fastest of "
            f"{res.get('repeat', 1)} runs, each in a fresh process (memory figures: the first run); the 10x runs: one each."
        ),
        "",
        "| operation | points | points/s | peak anonymous RSS above engine (MiB) | peak total RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines.append(f"| raw scroll (best page {res['raw_scroll_best_page']}) | {res['points']:,} | {fmt(res['raw_scroll_pps'], 0)} | | |")
    if "raw_upsert_no_index_pps" in res:
        lines.append(f"| raw upsert, no index | {res['points']:,} | {fmt(res['raw_upsert_no_index_pps'], 0)} | | |")
        lines.append(f"| raw upsert + optimize() (best batch {res['raw_upsert_best_batch']}) | {res['points']:,} | {fmt(res['raw_upsert_pps'], 0)} | | |")
    else:
        lines.append(f"| raw upsert (best batch {res['raw_upsert_best_batch']}) | {res['points']:,} | {fmt(res['raw_upsert_pps'], 0)} | | |")
    lines.append(f"| raw scroll, second pass in the same process | {res['points']:,} | {fmt(res['raw_scroll_warm_pps'], 0)} | | |")
    lines.append(
        f"| raw scroll+upsert ceiling | {res['scroll_upsert_ceiling_points']:,} | {fmt(res['scroll_upsert_ceiling_pps'], 0)} | | |"
    )
    lines.append(f"| raw scroll, qdrant-ops' GC setting | {res['points']:,} | {fmt(res['raw_scroll_bulk_gc_pps'], 0)} | | |")
    lines.append(f"| raw upsert, qdrant-ops' GC setting | {res['points']:,} | {fmt(res['raw_upsert_bulk_gc_pps'], 0)} | | |")
    lines.append(f"| raw Parquet write (pyarrow) | {res['points']:,} | {fmt(res['raw_parquet_write_pps'], 0)} | | |")
    lines.append(f"| raw Parquet read + sha256 + xxh3 | {res['points']:,} | {fmt(res['raw_parquet_read_hash_pps'], 0)} | | |")
    for key, label in LABELS.items():
        o = ops.get(key)
        if o is None:
            lines.append(f"| {label} | | not available | | |")
            continue
        flag = "" if o.get("ok", True) else " (FAILED)"
        if key == "migrate_p2" and o.get("slices") == 1:
            flag += " (one stream on this engine)"
        lines.append(
            f"| {label}{flag} | {o['points']:,} | {fmt(o['pps'], 0)} | {fmt(o.get('rss_peak_above_engine_mb'), 1)} "
            f"| {fmt(o.get('rss_total_peak_mb'), 0)} |"
        )
    return lines


def _targets(res: dict[str, Any]) -> list[str]:
    """The targets' verdicts, then the ratios shown beside them (not targets)."""
    lines = ["", "| target | ratio | limit | verdict |", "|---|---:|---:|---|"]
    for c in res["checks"]:
        lines.append(f"| {c['target']} (`{c['field']}`) | {fmt_ratio(c)} | {c['limit']} | {c['verdict']} |")
    lines += [
        "",
        (
            "Against the same raw calls run with qdrant-ops' garbage-collector setting (what qdrant-ops "
            "adds per point, without the GC gain; shown, not a target):"
        ),
        "",
        "| ratio | value |",
        "|---|---:|",
    ]
    for key in ("backup_vs_raw_scroll_bulk_gc_ratio", "restore_vs_raw_upsert_bulk_gc_ratio", "migrate_vs_bulk_gc_ceiling_ratio"):
        lines.append(f"| `{key}` | {fmt(res.get(key))} |")
    lines += [
        "",
        (
            "Against the raw scroll's second pass in one process (the engine's caches warm; a backup is "
            "one pass in a fresh process; shown, not a target):"
        ),
        "",
        "| ratio | value |",
        "|---|---:|",
        f"| `backup_vs_raw_scroll_warm_ratio` | {fmt(res.get('backup_vs_raw_scroll_warm_ratio'))} |",
        "",
    ]
    return lines


def _restore_memory(res: dict[str, Any]) -> list[str]:
    """Restore's memory beside the engine's own."""
    ops = res["operations"]
    lines = [
        (
            "Restore's memory against the engine's own (raw upsert of the same points in the same "
            "batch, one raw batch taken off): what the engine held at the end, the most it held while it "
            "grew (numpy arrays doubled, Edge's optimizer), restore's peak above the engine at the same "
            "points (the target's figure) and above only its end state (shown, not a target):"
        ),
        "",
        "| operation | points | engine at the end (MiB) | engine's peak (MiB) | restore above the engine at the same points (MiB) | above the engine's end state (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in ("restore_1x", "restore_10x"):
        o = ops[key]
        sz = str(o["points"])
        lines.append(
            f"| {LABELS[key]} | {o['points']:,} | {fmt(res['engine_growth_mb'].get(sz), 1)} "
            f"| {fmt(res['engine_peak_growth_mb'].get(sz), 1)} | {fmt(o.get('rss_peak_above_engine_mb'), 1)} "
            f"| {fmt(o.get('rss_peak_above_engine_final_mb'), 1)} |"
        )
    lines += [
        "",
        (
            f"`restore_rss_10x_vs_1x_engine_final_ratio` (above the engine's end state): "
            f"{fmt(res.get('restore_rss_10x_vs_1x_engine_final_ratio'))}"
        ),
        "",
    ]
    return lines


def _backup_memory(res: dict[str, Any]) -> list[str]:
    """Backup's memory beside the engine's own."""
    ops = res["operations"]
    lines = [
        (
            "Backup's memory beside the engine's own (shown, not a target): the most the engine itself "
            "allocated for one scroll call of one point, whoever makes it (qdrant-client's local mode "
            "sorts every id of the collection on each call), and what the backup left alive in the "
            "process once it had returned (collected, the C heap's free memory handed back):"
        ),
        "",
        "| operation | points | backup's peak above the engine (MiB) | the engine's peak for a one-point scroll (MiB) | left alive after the backup (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in ("backup_1x", "backup_10x"):
        o = ops[key]
        lines.append(
            f"| {LABELS[key]} | {o['points']:,} | {fmt(o.get('rss_peak_above_engine_mb'), 1)} "
            f"| {fmt(res.get('engine_read_call_peak_mb', {}).get(str(o['points'])), 1)} "
            f"| {fmt(o.get('rss_left_after_mb'), 1)} |"
        )
    lines.append("")
    return lines


def _advised(res: dict[str, Any]) -> list[str]:
    """Edge: backup against the raw scroll after the same read-ahead advice."""
    if "raw_scroll_advised_pps" not in res:
        return []
    return [
        (
            "Against the raw scroll after the read-ahead advice a backup gives Qdrant Edge first (the "
            "engine's first pass with the same help; shown, not a target):"
        ),
        "",
        "| ratio | value |",
        "|---|---:|",
        f"| raw scroll after read-ahead advice (points/s) | {fmt(res['raw_scroll_advised_pps'], 0)} |",
        f"| `backup_vs_raw_scroll_advised_ratio` | {fmt(res.get('backup_vs_raw_scroll_advised_ratio'))} |",
        "",
    ]
