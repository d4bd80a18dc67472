"""``--parallel N`` from another database: slices are disjoint, cover every row, and each resumes
at its own offset (every source that supports them); the others read one stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.pipeline.scope import slice_count

N = 53  # not a multiple of any slice count tried


def _chroma(tmp: Path) -> str:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=str(tmp / "chroma"), settings=Settings(anonymized_telemetry=False))
    col = client.create_collection("parts", metadata={"hnsw:space": "cosine"})
    col.add(ids=[f"doc-{i}" for i in range(N)], embeddings=np.random.default_rng(1).random((N, 4)).astype("float32"))
    return f"chroma:{tmp / 'chroma'}"


def _lancedb(tmp: Path) -> str:
    import lancedb

    db = lancedb.connect(str(tmp / "lance"))
    vecs = np.random.default_rng(2).random((N, 4)).astype("float32")
    db.create_table("t", data=[{"id": i * 3, "vector": vecs[i].tolist()} for i in range(N)])
    return f"lancedb:{tmp / 'lance'}"


def _faiss(tmp: Path) -> str:
    import faiss

    index = faiss.IndexFlatL2(4)
    index.add(np.random.default_rng(3).random((N, 4)).astype("float32"))
    faiss.write_index(index, str(tmp / "t.faiss"))
    return f"faiss:{tmp / 't.faiss'}"


@pytest.fixture
def pg_tables(pg_server: str) -> Iterator[str]:
    """Integer ids (negative ones too) and UUID ids: each kind of slice condition."""
    import psycopg

    with psycopg.connect(pg_server, autocommit=True) as c:
        c.execute("CREATE TABLE slice_ints (id bigint PRIMARY KEY, v vector(2))")
        c.execute("CREATE TABLE slice_uuids (id uuid PRIMARY KEY, v vector(2))")
        for i in range(N):
            c.execute("INSERT INTO slice_ints VALUES (%s, %s)", (i * 7 - 100, f"[{i},1]"))
            c.execute("INSERT INTO slice_uuids VALUES (%s, %s)", (str(uuid.UUID(int=i * 9973)), f"[{i},1]"))
    yield pg_server
    with psycopg.connect(pg_server, autocommit=True) as c:
        c.execute("DROP TABLE slice_ints, slice_uuids")


def _ids(ep: Any, name: str, slice_: tuple[int, int] | None, offset: Any = None, pages: int | None = None) -> tuple[list[Any], Any]:
    out: list[Any] = []
    nxt = None
    for k, page in enumerate(ep.scan(name, batch_size=5, slice_=slice_, offset=offset)):
        out.extend(page.columns.ids)
        nxt = page.next_offset
        if pages is not None and k + 1 == pages:
            break
    return out, nxt


def _check_slices(uri: str, name: str) -> None:
    ep = open_endpoint(uri)
    try:
        assert ep.info().supports_slice
        every, _ = _ids(ep, name, None)
        assert len(every) == len(set(every)) == N
        for total in (2, 3, 7, 60):  # 60: more slices than rows, some empty
            parts = [_ids(ep, name, (i, total))[0] for i in range(total)]
            flat = [x for p in parts for x in p]
            assert len(flat) == len(set(flat)), (total, "slices overlap")
            assert set(flat) == set(every), (total, "slices miss rows")
            # a slice resumed at the offset it saved after two pages gives the rest of it
            head, at = _ids(ep, name, (1, total), pages=2)
            if at is not None:
                rest, _ = _ids(ep, name, (1, total), offset=at)
                assert head + rest == parts[1], total
    finally:
        close_all()


@pytest.mark.parametrize("make", [_chroma, _lancedb, _faiss], ids=["chroma", "lancedb", "faiss"])
def test_positional_slices_are_disjoint_cover_and_resume(tmp_path: Path, make: Any) -> None:
    uri = make(tmp_path)
    name = open_endpoint(uri).list_collections()[0]
    close_all()
    _check_slices(uri, name)


@pytest.mark.parametrize("table", ["slice_ints", "slice_uuids"])
def test_pgvector_slices_are_disjoint_cover_and_resume(pg_tables: str, table: str) -> None:
    _check_slices(f"{pg_tables}&table={table}&distance=l2", table)


def test_parallel_notes_where_slices_gain_little(tmp_path: Path, pg_tables: str) -> None:
    notes: list[str] = []
    assert slice_count(open_endpoint(_faiss(tmp_path)), 2, notes) == 2
    assert "read inside this process" in notes[0]
    notes.clear()
    assert slice_count(open_endpoint(f"{pg_tables}&table=slice_ints&distance=l2"), 2, notes) == 2
    assert notes == []
    close_all()
