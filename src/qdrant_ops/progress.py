"""Progress reporting: library code reports to a sink; the CLI plugs in rich progress bars.

A task counts points (``advance``) and, where the verb knows them, bytes (``nbytes``). Points a
resumed run finds already done are given to ``resume``: they fill the bar but not the rate, so
the rate and the ETA count only what this run copies. A phase with no count of its own (Qdrant
Edge's ``optimize()``) is a task without a total: the line shows what runs and for how long.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from typing import Any, Protocol


class ProgressTask(Protocol):
    def advance(self, n: int = 1, *, nbytes: int = 0) -> None: ...

    def resume(self, n: int) -> None: ...

    def done(self) -> None: ...


class ProgressSink(Protocol):
    def task(self, description: str, total: int | None = None) -> ProgressTask: ...


class _NullTask:
    def advance(self, n: int = 1, *, nbytes: int = 0) -> None:
        return None

    def resume(self, n: int) -> None:
        return None

    def done(self) -> None:
        return None


class NullProgress:
    """Reports nothing (``--quiet``, tests, library use)."""

    def task(self, description: str, total: int | None = None) -> ProgressTask:
        return _NullTask()


def rate_text(points: int, nbytes: int, seconds: float) -> str:
    """``12,345 points/s · 4.2 MB/s`` over ``seconds``; empty before anything was counted."""
    if seconds <= 0 or points <= 0:
        return ""
    text = f"{points / seconds:,.0f} points/s"
    if nbytes > 0:
        from qdrant_ops.reports import human_bytes

        text += f" · {human_bytes(nbytes / seconds)}/s"
    return text


class _RichTask:
    def __init__(self, owner: RichProgress, task_id: int) -> None:
        self._owner = owner
        self._id = task_id
        self._lock = threading.Lock()  # slices advance one task from several threads
        self._copied = 0
        self._bytes = 0
        self._resumed = 0

    def advance(self, n: int = 1, *, nbytes: int = 0) -> None:
        with self._lock:
            self._copied += n
            self._bytes += nbytes
            with contextlib.suppress(KeyError):  # the display was stopped (an error, Ctrl-C)
                self._owner.progress.update(
                    self._id, advance=n, copied=self._copied, bytes=self._bytes  # type: ignore[arg-type]
                )

    def resume(self, n: int) -> None:
        if n:
            with self._lock:
                self._resumed += n
                with contextlib.suppress(KeyError):
                    self._owner.progress.update(self._id, advance=n, resumed=self._resumed)  # type: ignore[arg-type]

    def done(self) -> None:
        self._owner.finish(self._id)


def _columns() -> list[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Points/s and MB/s of what this run copied (resumed points left out)."""

        def render(self, task: Any) -> Text:
            f = task.fields
            return Text(rate_text(int(f.get("copied", 0)), int(f.get("bytes", 0)), task.elapsed or 0.0))

    class EtaColumn(ProgressColumn):
        """Time left at this run's own rate; blank for a phase with no count."""

        def render(self, task: Any) -> Text:
            copied, elapsed = int(task.fields.get("copied", 0)), task.elapsed or 0.0
            if task.total is None or not copied or elapsed <= 0:
                return Text("")
            left = max(0.0, (task.total - task.completed) * elapsed / copied)
            return Text(f"ETA {time.strftime('%H:%M:%S', time.gmtime(left))}")

    class CountColumn(MofNCompleteColumn):
        """``done/total`` points; nothing for a phase with no count."""

        def render(self, task: Any) -> Text:
            return super().render(task) if task.total is not None else Text("")

    class ResumedColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            n = int(task.fields.get("resumed", 0))
            return Text(f"(resumed from {n:,})" if n else "")

    return [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        CountColumn(),
        ResumedColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        EtaColumn(),
    ]


# Every rich display started and not yet stopped, so the CLI can clear them before it prints an
# error line (one left running would draw its last bar again below the message).
_LIVE: weakref.WeakSet[RichProgress] = weakref.WeakSet()


def stop_all() -> None:
    """Stop every running progress display, leaving the terminal as it was."""
    for p in list(_LIVE):
        p.stop()


class RichProgress:
    """rich progress bars on stderr; one bar per task, removed from the screen as each ends."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self.progress = Progress(*_columns(), console=Console(stderr=True), transient=True)
        self._lock = threading.Lock()
        self._open = 0

    def task(self, description: str, total: int | None = None) -> ProgressTask:
        with self._lock:
            if self._open == 0:
                self.progress.start()
                _LIVE.add(self)
            self._open += 1
            task_id = self.progress.add_task(description, total=total, copied=0, bytes=0, resumed=0)
        return _RichTask(self, int(task_id))

    def finish(self, task_id: int) -> None:
        with self._lock:
            if task_id not in {int(t.id) for t in self.progress.tasks}:
                return  # already stopped (``stop``) or finished
            self.progress.remove_task(task_id)  # type: ignore[arg-type]
            self._open -= 1
            if self._open == 0:
                self.progress.stop()
                _LIVE.discard(self)

    def stop(self) -> None:
        """Remove every bar and stop drawing (an error or Ctrl-C ends the command)."""
        with self._lock:
            for t in list(self.progress.tasks):
                self.progress.remove_task(t.id)
            self._open = 0
            self.progress.stop()
            _LIVE.discard(self)
