"""Slices on threads stop within a page on Ctrl-C or on another slice's error."""

from __future__ import annotations

import _thread
import threading
import time
from typing import Any

import pytest

from qdrant_ops.pipeline.stopping import Stopped, check, run_all


def _worker(stop: threading.Event, left: list[int]) -> Any:
    def work(i: int) -> None:
        while True:  # a slice scanning page after page
            check(stop)
            time.sleep(0.01)

    def done(i: int) -> None:
        try:
            work(i)
        finally:
            left.append(i)

    return done


def test_ctrl_c_stops_every_worker_within_a_page() -> None:
    stop, left = threading.Event(), []  # type: ignore[var-annotated]
    threading.Timer(0.3, _thread.interrupt_main).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_all(_worker(stop, left), range(4), workers=4, name="t", stop=stop)
    assert time.monotonic() - started < 2
    assert stop.is_set() and sorted(left) == [0, 1, 2, 3]  # every worker left before the raise


def test_a_worker_error_stops_the_others() -> None:
    stop, left = threading.Event(), []  # type: ignore[var-annotated]
    loop = _worker(stop, left)

    def fn(i: int) -> None:
        if i == 2:
            time.sleep(0.1)
            raise ValueError("slice 2 failed")
        loop(i)

    with pytest.raises(ValueError, match="slice 2"):
        run_all(fn, range(4), workers=4, name="t", stop=stop)
    assert sorted(left) == [0, 1, 3]


def test_one_worker_runs_inline_and_honours_stop() -> None:
    stop = threading.Event()
    seen: list[int] = []
    run_all(seen.append, [1, 2], workers=1, name="t", stop=stop)
    stop.set()
    with pytest.raises(Stopped):
        run_all(seen.append, [3], workers=1, name="t", stop=stop)
    assert seen == [1, 2]
