"""Local mode is scanned by an ids-only listing plus ``retrieve`` (``QdrantEndpoint._scan_by_ids``):
the same points, in the same order, with the same resume offsets as scrolling page by page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from qdrant_client import QdrantClient

import datagen
import qdrant_ops.endpoints.qdrant as qmod
from qdrant_ops.endpoints.qdrant import QdrantEndpoint


class CountingClient:
    """The real client, counting the calls a scan makes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*a: Any, **kw: Any) -> Any:
            self.calls[name] += 1
            return attr(*a, **kw)

        return call


def scrolled(client: Any, name: str, page: int, with_vectors: bool = True) -> list[Any]:
    """Every point by plain scroll pages: what a scan must return."""
    out: list[Any] = []
    offset = None
    while True:
        recs, offset = client.scroll(name, limit=page, offset=offset, with_payload=True, with_vectors=with_vectors)
        out.extend(recs)
        if offset is None:
            return out


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CountingClient, QdrantEndpoint]]:
    monkeypatch.setattr(qmod, "ID_CHUNK", 7)  # several listing calls on a small collection
    monkeypatch.setattr(qmod, "BY_IDS_MIN_PAGES", 0)  # listed whatever the collection's size
    inner = QdrantClient(location=":memory:")
    client = CountingClient(inner)
    ep = QdrantEndpoint(client, "counted", "memory")
    yield client, ep
    inner.close()


@pytest.mark.parametrize("shape", ["uuid-named", "sparse", "multi"])
@pytest.mark.parametrize("batch", [1, 3, 7, 10, 500])
def test_scan_returns_what_scroll_returns_in_order(store: tuple[CountingClient, QdrantEndpoint], shape: str, batch: int) -> None:
    client, ep = store
    _fill(client, shape, 40)
    pages = list(ep.scan("c", batch_size=batch))
    got = [p for page in pages for p in page.points]
    want = scrolled(client.inner, "c", 1000)
    assert [p.id for p in got] == [str(r.id) if shape == "uuid-named" else r.id for r in want]
    assert [p.payload for p in got] == [r.payload for r in want]
    assert [p.vectors for p in got] == [_vectors(r) for r in want]
    assert all(len(page) <= batch for page in pages)
    # Each page names the first id of the next one; the last names none.
    firsts = [page.points[0].id for page in pages[1:]]
    assert [page.next_offset for page in pages[:-1]] == firsts
    assert pages[-1].next_offset is None


def test_a_scan_resumed_at_any_offset_reads_the_rest(store: tuple[CountingClient, QdrantEndpoint]) -> None:
    client, ep = store
    _fill(client, "int-unnamed", 30)
    pages = list(ep.scan("c", batch_size=4))
    all_ids = [p.id for page in pages for p in page.points]
    assert all_ids == sorted(all_ids) and len(all_ids) == 30
    seen = 0
    for page in pages[:-1]:
        seen += len(page)
        rest = [p.id for q in ep.scan("c", batch_size=4, offset=page.next_offset) for p in q.points]
        assert rest == all_ids[seen:]


def test_listing_calls_grow_with_the_chunk_not_the_page(store: tuple[CountingClient, QdrantEndpoint]) -> None:
    """The point of the listing: scroll calls (each sorting every id in local mode) are one per
    ``ID_CHUNK`` ids, however small the pages."""
    client, ep = store
    _fill(client, "int-unnamed", 30)
    client.calls.clear()
    n = sum(len(page) for page in ep.scan("c", batch_size=2))
    assert n == 30
    # The first page scrolled; then 6 ids a call (three whole pages of 2): 6, 6, 6, 6, 4.
    assert client.calls["scroll"] == 6
    assert client.calls["retrieve"] == 14  # every page full


def test_one_page_read_lists_nothing(store: tuple[CountingClient, QdrantEndpoint]) -> None:
    """A caller that reads the first page only (migrate's sample) pays one scroll call."""
    client, ep = store
    _fill(client, "int-unnamed", 30)
    client.calls.clear()
    first = next(iter(ep.scan("c", batch_size=4)))
    assert len(first) == 4 and first.next_offset is not None
    assert client.calls == Counter({"count": 1, "scroll": 1})  # count: the size check


def test_without_vectors_and_empty(store: tuple[CountingClient, QdrantEndpoint]) -> None:
    client, ep = store
    _fill(client, "empty", 0)
    pages = list(ep.scan("c", batch_size=5))
    assert [(len(p), p.next_offset) for p in pages] == [(0, None)]
    _fill(client, "int-unnamed", 12, name="d")
    pts = [p for page in ep.scan("d", batch_size=5, with_vectors=False) for p in page.points]
    assert len(pts) == 12 and all(not p.vectors for p in pts)


def test_a_collection_of_few_pages_is_scrolled(store: tuple[CountingClient, QdrantEndpoint], monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing costs more than it saves below ``BY_IDS_MIN_PAGES`` pages: those scans scroll."""
    client, ep = store
    monkeypatch.setattr(qmod, "BY_IDS_MIN_PAGES", 8)
    _fill(client, "int-unnamed", 40)
    client.calls.clear()
    assert sum(len(page) for page in ep.scan("c", batch_size=5)) == 40  # 8 pages: scrolled
    assert client.calls["retrieve"] == 0 and client.calls["scroll"] == 8
    client.calls.clear()
    assert sum(len(page) for page in ep.scan("c", batch_size=3)) == 40  # 14 pages: listed
    # The first page scrolled, then 6 ids a call (7 // 3 = 2 whole pages) for the other 37:
    # 7 listing calls; 6 chunks of 2 pages, then 1.
    assert client.calls["retrieve"] == 13 and client.calls["scroll"] == 8


def test_a_slice_filter_still_scrolls(store: tuple[CountingClient, QdrantEndpoint]) -> None:
    """A sliced scan (a server's ``--parallel``) keeps scroll pages with the slice's filter."""
    client, ep = store
    _fill(client, "int-unnamed", 20)
    client.calls.clear()
    halves = [[p.id for page in ep.scan("c", batch_size=50, slice_=(i, 2)) for p in page.points] for i in (0, 1)]
    assert client.calls["retrieve"] == 0 and client.calls["scroll"] == 2
    everything = [r.id for r in scrolled(client.inner, "c", 1000)]
    assert sorted(halves[0] + halves[1]) == everything and halves[0] and halves[1]


def _fill(client: CountingClient, shape: str, n: int, name: str = "c") -> None:
    datagen._fill(client.inner, name, shape, n, 7)


def _vectors(rec: Any) -> dict[str, Any]:
    from qdrant_ops.endpoints.base import columns_from_records

    return columns_from_records([rec]).to_points()[0].vectors
