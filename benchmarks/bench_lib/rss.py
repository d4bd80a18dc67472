"""Peak RSS of a block, read from ``/proc/self/status``, and the engine's share of a writer's peak."""

from __future__ import annotations

import gc
import threading
from typing import Any, Self

from qdrant_ops.pipeline.heap import release_free_heap

# Memory is counted as anonymous RSS (the heap, Python objects, Arrow buffers): file-backed pages
# are the engine's files mapped into the process, counted apart as ``rss_total_*``.
ANON = "RssAnon"
# How far the file-backed pages may move within a write call for the high-water mark to still be
# split into them and anonymous memory.
MAPPED_SLACK_KB = 4 * 1024


def status_kbs(*fields: str) -> dict[str, int]:
    """The kB figures of ``fields`` in ``/proc/self/status``, read in one go (0 where absent)."""
    out = dict.fromkeys(fields, 0)
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key = line.split(":", 1)[0]
            if key in out:
                out[key] = int(line.split()[1])
    return out


def status_kb(field: str) -> int:
    return status_kbs(field)[field]


def reset_hwm() -> bool:
    """Reset the kernel's RSS high-water mark (``VmHWM``); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


class PeakRss:
    """Peak RSS during a block: anonymous memory sampled every 5 ms, and the total (the kernel's
    high-water mark, reset first, or the samples).

    ``mark(written)``, called as each write call returns, closes that call's interval:
    ``intervals`` holds ``[points before, points after, peak anonymous kB]`` per write call (the
    first also covers what ran before it), then ``[points, points, peak]`` for what ran after
    the last one (on Edge, ``optimize()``). See ``engine_part``."""

    def __init__(self) -> None:
        self.baseline = 0
        self.peak = 0
        self.anon_baseline = 0
        self.anon_peak = 0
        self.intervals: list[list[int]] = []
        self._points = 0
        self._interval_peak = 0
        self._interval_mapped = 0  # the most file-backed kB sampled in the interval
        self._interval_mapped_min = 0  # and the least
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampled = 0
        self._thread: threading.Thread | None = None
        self._hwm_reset = False

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            now = status_kbs("VmRSS", ANON, "RssFile", "RssShmem")
            self._sampled = max(self._sampled, now["VmRSS"])
            anon = now[ANON]
            with self._lock:
                self.anon_peak = max(self.anon_peak, anon)
                self._interval_peak = max(self._interval_peak, anon)
                mapped = now["RssFile"] + now["RssShmem"]
                self._interval_mapped = max(self._interval_mapped, mapped)
                self._interval_mapped_min = min(self._interval_mapped_min, mapped)

    def mark(self, written: int) -> None:
        """A write call of ``written`` points has returned."""
        with self._lock:
            anon = self._close_interval()
            self.intervals.append([self._points, self._points + written, anon])
            self._points += written

    def _close_interval(self) -> int:
        """The interval's peak anonymous kB; the kernel's high-water mark is read and reset too, so
        a peak shorter than the sampling period (the engine copying an array) is not missed: the
        total's mark less the file-backed pages, where those stayed within ``MAPPED_SLACK_KB``
        through the interval (sampled, and now).

        Where files were mapped and unmapped again within the interval (Qdrant Edge's
        ``optimize()`` maps its new segments), the mark's anonymous part is not known, and the
        samples alone count."""
        now = status_kbs(ANON, "VmHWM", "RssFile", "RssShmem")  # one read: this runs per write call
        anon = now[ANON]
        mapped_now = now["RssFile"] + now["RssShmem"]
        peak = max(self._interval_peak, anon)
        if self._hwm_reset:
            self.peak = max(self.peak, now["VmHWM"])
            most = max(self._interval_mapped, mapped_now)
            if most - min(self._interval_mapped_min, mapped_now) <= MAPPED_SLACK_KB:
                peak = max(peak, now["VmHWM"] - most)
            reset_hwm()
        self.anon_peak = max(self.anon_peak, peak)
        self._interval_peak = anon
        self._interval_mapped = self._interval_mapped_min = mapped_now
        return peak

    def __enter__(self) -> Self:
        gc.collect()
        # The baseline is what is alive: free memory the C heap still holds from before is handed
        # back first, so an operation that reuses it, or hands it back itself, is measured alike.
        release_free_heap()
        start = status_kbs("VmRSS", ANON, "RssFile", "RssShmem")
        self.baseline = start["VmRSS"]
        self.anon_baseline = self.anon_peak = self._interval_peak = start[ANON]
        self._interval_mapped = self._interval_mapped_min = start["RssFile"] + start["RssShmem"]
        self._hwm_reset = reset_hwm()
        self._sampled = self.baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self.intervals.append([self._points, self._points, self._close_interval()])
        self.peak = max(self.peak, self._sampled, status_kb("VmRSS"))


def after_kb() -> int:
    """Anonymous kB alive: collected, and the C heap's free memory handed back (as ``PeakRss``
    takes its baseline)."""
    gc.collect()
    release_free_heap()
    return status_kb(ANON)


def engine_part(curve: list[list[int]], start: int, end: int) -> int:
    """The engine's anonymous kB (above the empty engine) while a writer's call took points
    ``(start, end]`` (``start == end``: after its last call), from the engine's own ``curve``
    (``ops.engine_growth_kb``): the most it held in any of its intervals that overlap those points."""
    if start == end:
        hits = [kb for a, b, kb in curve if (a < end <= b) or (a == b == end)]
    else:
        hits = [kb for a, b, kb in curve if a < end and b > start]
    return max(hits, default=0)


def rss_fields(rss: PeakRss, growth: dict[str, Any] | None = None) -> dict[str, float]:
    """Peak anonymous memory above the opened engine; for writes, the engine's own part is
    excluded (``growth``: see ``ops.engine_growth_kb``): point by point along the engine's curve
    where the writer's calls were marked (restore), else the engine's final growth. The total RSS
    (file-backed pages included) is kept too, not subtracted."""
    final_kb = max((growth or {}).get("engine_growth_kb", 0), 0)
    curve = (growth or {}).get("engine_curve")
    at: int | None
    if curve and rss.intervals[:-1]:
        # the writer's most above the engine at the same points, and where that was
        parts = [engine_part(curve, a, b) for a, b, _ in rss.intervals]
        above, at = max((kb - rss.anon_baseline - part, b) for (_, b, kb), part in zip(rss.intervals, parts))
        engine_kb = rss.anon_baseline + max(parts)
    else:
        above, at = rss.anon_peak - rss.anon_baseline - final_kb, None
        engine_kb = rss.anon_baseline + final_kb
    out = {
        "rss_engine_mb": engine_kb / 1024,
        "rss_peak_mb": rss.anon_peak / 1024,
        "rss_peak_above_engine_mb": max(above, 0) / 1024,
        "rss_total_engine_mb": rss.baseline / 1024,
        "rss_total_peak_mb": rss.peak / 1024,
    }
    if growth is not None:
        # the same peak above only what the engine holds once written (shown, not a target)
        out["rss_peak_above_engine_final_mb"] = max(rss.anon_peak - rss.anon_baseline - final_kb, 0) / 1024
        if at is not None:
            out["rss_peak_above_engine_at_points"] = at
    return out
