"""A scan does not hold the page it handed over while it reads the next one: the caller decides
how long a page lives, so a backup has one page's objects alive at a time, not two."""

from __future__ import annotations

import gc
import types
from pathlib import Path
from typing import Any

import pytest

import datagen
import qdrant_ops.endpoints.qdrant as qmod
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.pipeline.retry import retrying_scan


def scan_frames(gen: Any) -> list[Any]:
    """The suspended frames of a generator and of those it delegates to (``yield from``)."""
    frames = []
    while isinstance(gen, types.GeneratorType) and gen.gi_frame is not None:
        frames.append(gen.gi_frame)
        gen = gen.gi_yieldfrom
    return frames


def reachable(roots: list[Any], target: Any, depth: int = 4) -> bool:
    """Whether ``target`` is reachable from ``roots`` in at most ``depth`` references."""
    seen: set[int] = set()
    level = list(roots)
    for _ in range(depth + 1):
        nxt = []
        for obj in level:
            if obj is target:
                return True
            # functions lead to their module's globals, which hold everything
            if id(obj) in seen or isinstance(obj, (types.ModuleType, type, types.FunctionType)):
                continue
            seen.add(id(obj))
            nxt.extend(gc.get_referents(obj))
        level = nxt
    return False


def a_record_of(page: Any) -> Any:
    """An object made for the page and held by nothing else: a record (Edge), a vector's list of
    floats (local mode, which keeps its vectors in numpy; its payloads are its own)."""
    records = getattr(page, "_records", None)
    if records:
        return records[0]
    return next(iter(page.columns.vectors.values()))[0]


def pages_held(ep: Any, pages: Any) -> list[bool]:
    """For each page: while the scan read the next one (at each engine call it made), did it
    still hold the page, or what the page was made of, once the caller had dropped it?"""
    dropped: list[Any] = []  # what the caller has let go of, newest last
    seen: list[bool] = []
    call = ep._call

    def checking(*a: Any, **kw: Any) -> Any:
        if dropped:
            seen.append(reachable([f.f_locals for f in scan_frames(pages)], dropped[-1]))
        return call(*a, **kw)

    ep._call = checking
    try:
        page = next(pages, None)
        while page is not None and len(page):
            dropped[:] = [a_record_of(page)]
            del page
            page = next(pages, None)
    finally:
        del ep._call
    return seen


@pytest.mark.parametrize("by_ids", [False, True])
def test_local_mode_scan_holds_no_page(monkeypatch: pytest.MonkeyPatch, by_ids: bool) -> None:
    monkeypatch.setattr(qmod, "ID_CHUNK", 20)
    monkeypatch.setattr(qmod, "BY_IDS_MIN_PAGES", 0 if by_ids else 10**9)
    ep = open_endpoint(":memory:")
    datagen.make_collection(":memory:", "held", "int-unnamed", n=60)
    held = pages_held(ep, iter(ep.scan("held", batch_size=7)))
    assert len(held) >= 8 and not any(held)
    held = pages_held(ep, retrying_scan(ep, "held", batch_size=7))
    assert len(held) >= 8 and not any(held)
    ep.delete_collection("held")


def test_edge_scan_holds_no_page(tmp_path: Path) -> None:
    uri = f"edge:{tmp_path / 'shards'}"
    datagen.make_collection(uri, "held", "int-unnamed", n=60)
    ep = open_endpoint(uri)
    held = pages_held(ep, iter(ep.scan("held", batch_size=7)))
    assert len(held) >= 8 and not any(held)
    ep.close()


_YIELDED: list[Any] = []  # module-level: no frame's locals refer to it


@pytest.mark.parametrize("by_ids", [False, True])
def test_backup_drops_each_page_before_reading_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, by_ids: bool
) -> None:
    import sys

    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    monkeypatch.setattr(qmod, "ID_CHUNK", 20)
    monkeypatch.setattr(qmod, "BY_IDS_MIN_PAGES", 0 if by_ids else 10**9)
    ep = open_endpoint(":memory:")
    datagen.make_collection(":memory:", "held", "int-unnamed", n=60)
    scan, call = ep.scan, ep._call
    held: list[bool] = []

    def recording_scan(*a: Any, **kw: Any) -> Any:
        pages = scan(*a, **kw)
        while True:
            page = next(pages, None)
            if page is None:
                return
            if len(page):
                _YIELDED[:] = [a_record_of(page)]
            yield page
            del page

    def checking(*a: Any, **kw: Any) -> Any:
        if _YIELDED:  # the page handed over last: backup has written it and let it go
            frame = sys._getframe(1)
            frames = []
            while frame is not None:
                frames.append(frame.f_locals)
                frame = frame.f_back
            held.append(reachable(frames, _YIELDED[0], depth=6))
        return call(*a, **kw)

    monkeypatch.setattr(ep, "scan", recording_scan)
    monkeypatch.setattr(ep, "_call", checking)
    cfg = BackupConfig(
        source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "b"), collections=["held"], batch_size=7
    )
    try:
        assert backup(cfg).status == "ok"
    finally:
        _YIELDED.clear()
        monkeypatch.undo()
        ep.delete_collection("held")
    assert len(held) >= 8 and not any(held)
