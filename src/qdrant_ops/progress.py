"""Progress reporting: library code reports to a sink; the CLI plugs in rich progress bars."""

from __future__ import annotations

import threading
from typing import Protocol


class ProgressTask(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def done(self) -> None: ...


class ProgressSink(Protocol):
    def task(self, description: str, total: int | None = None) -> ProgressTask: ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        return None

    def done(self) -> None:
        return None


class NullProgress:
    """Reports nothing (``--quiet``, tests, library use)."""

    def task(self, description: str, total: int | None = None) -> ProgressTask:
        return _NullTask()


class _RichTask:
    def __init__(self, owner: RichProgress, task_id: int) -> None:
        self._owner = owner
        self._id = task_id

    def advance(self, n: int = 1) -> None:
        self._owner.progress.advance(self._id, n)  # type: ignore[arg-type]

    def done(self) -> None:
        self._owner.finish(self._id)


class RichProgress:
    """rich progress bars on stderr; one bar per task, removed from the screen as each ends."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._lock = threading.Lock()
        self._open = 0

    def task(self, description: str, total: int | None = None) -> ProgressTask:
        with self._lock:
            if self._open == 0:
                self.progress.start()
            self._open += 1
            task_id = self.progress.add_task(description, total=total)
        return _RichTask(self, int(task_id))

    def finish(self, task_id: int) -> None:
        with self._lock:
            self.progress.remove_task(task_id)  # type: ignore[arg-type]
            self._open -= 1
            if self._open == 0:
                self.progress.stop()
