"""A progress sink that also records each task's points over time, for the report's throughput chart.

It wraps the sink the caller gave (rich bars, or nothing) and forwards every call. Samples are
taken at most every ``interval`` seconds; past ``max_samples`` a series keeps every other sample
and doubles its interval, so an hour-long copy records a few hundred samples, not millions.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from qdrant_ops.progress import ProgressSink, ProgressTask


class Series(Protocol):
    name: str
    t_s: list[float]
    points: list[int]


class _TrackedTask:
    def __init__(self, owner: TrackingProgress, inner: ProgressTask, series: Series) -> None:
        self._owner = owner
        self._inner = inner
        self._series = series
        self._done = 0
        self._last = 0.0
        self._interval = owner.interval

    def advance(self, n: int = 1, *, nbytes: int = 0) -> None:
        self._inner.advance(n, nbytes=nbytes)
        with self._owner.lock:
            self._done += n
            now = self._owner.elapsed()
            if now - self._last >= self._interval:
                self._sample(now)

    def resume(self, n: int) -> None:
        # Points an earlier run already did: shown by the bar, not counted as this run's throughput.
        self._inner.resume(n)

    def done(self) -> None:
        self._inner.done()
        with self._owner.lock:
            self._sample(self._owner.elapsed())

    def _sample(self, now: float) -> None:
        s = self._series
        if s.points[-1] == self._done:
            # Nothing done since the last sample (the end of a task): a sample would only add
            # the task's tail as a rate of zero.
            return
        s.t_s.append(round(now, 3))
        s.points.append(self._done)
        self._last = now
        if len(s.t_s) > self._owner.max_samples:
            # Keep the first and the latest sample so the series still spans the whole task.
            s.t_s[:] = s.t_s[:-1:2] + s.t_s[-1:]
            s.points[:] = s.points[:-1:2] + s.points[-1:]
            self._interval *= 2


class TrackingProgress:
    """Forwards to ``inner`` and appends one ``series_type(name=...)`` to ``out`` per task."""

    def __init__(
        self,
        inner: ProgressSink,
        out: list[Any],
        series_type: Any,
        *,
        interval: float = 0.1,
        max_samples: int = 400,
        offset: float = 0.0,
    ) -> None:
        self.inner = inner
        self.out = out
        self.series_type = series_type
        self.interval = interval
        self.max_samples = max_samples
        self.lock = threading.Lock()
        self._t0 = time.monotonic() - offset  # offset: seconds already spent before the sink was made

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def task(self, description: str, total: int | None = None) -> ProgressTask:
        inner = self.inner.task(description, total)
        series = self.series_type(name=description, t_s=[round(self.elapsed(), 3)], points=[0])
        with self.lock:
            self.out.append(series)
        return _TrackedTask(self, inner, series)
