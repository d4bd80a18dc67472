"""An endpoint seen through a progress task: every page its scans return advances the task.

Lets a phase that reads a collection through code that knows nothing of progress (validation's
content check, a digest) show a line with a rate, without threading a task through that code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from qdrant_ops.progress import ProgressTask


class Observed:
    """``endpoint`` with ``scan`` counted into ``task``; everything else passed through."""

    def __init__(self, endpoint: Any, task: ProgressTask) -> None:
        self._endpoint = endpoint
        self._task = task

    def scan(self, name: str, **kw: Any) -> Iterator[Any]:
        for page in self._endpoint.scan(name, **kw):
            self._task.advance(len(page))
            yield page

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._endpoint, attr)
