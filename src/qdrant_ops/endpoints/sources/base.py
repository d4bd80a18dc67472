"""What every read-only source endpoint shares: id mapping, the collection spec, paging, search.

A source (Chroma, LanceDB, FAISS, ...) implements four small methods over its own client
(``list_collections``, ``table``, ``rows``, ``native_search``); this class turns them into the
``Endpoint`` protocol, so every verb that reads (migrate, backup, verify, validate) takes it as it
takes a Qdrant endpoint. Mapping rules (docs/sources.md):

- ids: unsigned ints are kept; a UUID string in canonical form is kept; any other id (a string,
  a negative int) becomes ``uuid5(NAMESPACE_URL, str(id))`` and the original is kept in the
  payload under ``id_key`` (default ``_source_id``);
- one vector column becomes the unnamed vector; several become named vectors (the column names);
- distances: each engine's metric names map to Qdrant's (``Cosine``, ``Dot``, ``Euclid``);
- writing is refused: a source is read-only (exit 2).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from qdrant_ops.endpoints.base import (
    CollectionSpec,
    EndpointInfo,
    Offset,
    PageColumns,
    Point,
    PointId,
    ScanPage,
    SparseValue,
)
from qdrant_ops.errors import NotFoundError, UnsupportedError, UsageError

DEFAULT_ID_KEY = "_source_id"
# The one namespace every mapped id is derived in: ``uuid5(NAMESPACE_URL, str(source_id))``.
ID_NAMESPACE = uuid.NAMESPACE_URL
QDRANT_DISTANCES = ("Cosine", "Dot", "Euclid", "Manhattan")


@dataclass(frozen=True)
class SourceVector:
    """One vector column of a source and the Qdrant vector it becomes."""

    column: str
    name: str
    size: int
    distance: str
    datatype: str = "float32"
    kind: str = "dense"  # or "sparse": always a named vector in Qdrant

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"size": self.size, "distance": self.distance}
        if self.datatype != "float32":
            out["datatype"] = self.datatype
        return out


@dataclass
class SourceTable:
    """A source collection as Qdrant will see it, with the rules that made it so."""

    name: str
    count: int
    vectors: list[SourceVector]
    order: str  # how pages are ordered, and so whether a resume can trust its offset
    resumable: bool
    rules: list[str] = field(default_factory=list)


@dataclass
class SourceRow:
    """One record as the source gives it: its own id, vectors by column, payload."""

    id: Any
    vectors: dict[str, Any]
    payload: dict[str, Any]


def map_id(native: Any) -> tuple[PointId, bool]:
    """The Qdrant id of a source id, and whether it was mapped (the original then goes in the payload)."""
    if isinstance(native, bool):
        native = str(native)
    if hasattr(native, "item") and not isinstance(native, (str, bytes)):
        native = native.item()  # numpy integer
    if isinstance(native, int) and native >= 0:
        return native, False
    text = native.decode() if isinstance(native, bytes) else str(native)
    try:
        if str(uuid.UUID(text)) == text:
            return text, False
    except ValueError:
        pass
    return str(uuid.uuid5(ID_NAMESPACE, text)), True


def parse_distance(value: str | None, allowed: dict[str, str], where: str) -> str | None:
    """A user's ``distance=`` override as Qdrant's name (None when not given)."""
    if not value:
        return None
    key = value.strip().lower()
    names = {**allowed, **{d.lower(): d for d in QDRANT_DISTANCES}}
    if key not in names:
        raise UsageError(f"{where}: unknown distance {value!r} (use one of {', '.join(sorted(names))})")
    return names[key]


class SourceEndpoint:
    """Base of the read-only source endpoints; see the module docstring."""

    engine = "source"
    extra = ""  # the pip extra that installs the engine's client

    def __init__(self, display: str, *, id_key: str = DEFAULT_ID_KEY, version: str | None = None) -> None:
        if not id_key:
            raise UsageError(f"{display}: id_key must not be empty")
        self.display = display
        self.id_key = id_key
        self.version = version
        self._tables: dict[str, SourceTable] = {}
        self._matrices: dict[tuple[str, str], tuple[list[PointId], Any]] = {}

    # -- what a source implements -------------------------------------------------------------

    def list_collections(self) -> list[str]:
        raise NotImplementedError

    def describe(self, name: str) -> SourceTable:
        raise NotImplementedError

    def rows(self, name: str, offset: int, limit: int, with_vectors: bool) -> list[SourceRow]:
        """Up to ``limit`` rows from position ``offset`` in the source's scan order."""
        raise NotImplementedError

    def page(self, name: str, offset: Offset, limit: int, with_vectors: bool) -> tuple[list[SourceRow], Offset]:
        """One page from ``offset`` (None: the start) and where the next starts (None: the end).
        Positional by default; a source with a keyset (pgvector) pages on its id instead."""
        pos = int(offset or 0)
        rows = self.rows(name, pos, limit, with_vectors)
        pos += len(rows)
        more = len(rows) == limit and pos < self.table(name).count
        return rows, pos if more else None

    # Whether ``slice_page`` splits the rows into disjoint parts that cover them all and each
    # resume on its own (``--parallel N``); a source whose order is not stable leaves it off.
    sliceable = False
    # Read inside this process (no server): its slices share this process's CPU with the copy.
    in_process = True

    def slice_page(
        self, name: str, slice_: tuple[int, int], offset: Offset, limit: int, with_vectors: bool
    ) -> tuple[list[SourceRow], Offset]:
        """One page of slice ``i`` of ``n`` from ``offset`` (None: the slice's start). Positional
        by default: slice ``i`` holds positions ``[i*count//n, (i+1)*count//n)`` of the scan order,
        so the slices are disjoint and cover every row while the store is unchanged (the same
        condition a positional resume has)."""
        index, total = slice_
        count = self.table(name).count
        end = (index + 1) * count // total
        pos = index * count // total if offset is None else int(offset)
        want = min(limit, end - pos)
        if want <= 0:
            return [], None
        rows = self.rows(name, pos, want, with_vectors)
        pos += len(rows)
        return rows, pos if len(rows) == want and pos < end else None

    def native_search(self, name: str, column: str, vector: list[float], k: int) -> list[tuple[Any, float]] | None:
        """The engine's own ANN answer as ``(source id, Qdrant-style score)``; None if it has none."""
        return None

    # -- the Endpoint protocol ------------------------------------------------------------------

    def info(self) -> EndpointInfo:
        return EndpointInfo(kind=self.engine, display=self.display, server_version=self.version, supports_slice=self.sliceable)

    def table(self, name: str) -> SourceTable:
        if name not in self._tables:
            if name not in self.list_collections():
                raise NotFoundError(f"collection {name!r} does not exist at {self.display}")
            self._tables[name] = self.describe(name)
        return self._tables[name]

    def collection_exists(self, name: str) -> bool:
        return name in self.list_collections()

    def get_spec(self, name: str) -> CollectionSpec:
        t = self.table(name)
        dense = [v for v in t.vectors if v.kind == "dense"]
        if len(dense) == 1 and dense[0].name == "":
            vectors: dict[str, Any] = dense[0].params()
        else:
            vectors = {v.name: v.params() for v in dense}
        params: dict[str, Any] = {"vectors": vectors}
        sparse: dict[str, Any] = {v.name: {} for v in t.vectors if v.kind == "sparse"}
        if sparse:
            params["sparse_vectors"] = sparse
        config = {"params": params, "metadata": {"source_engine": self.engine}}
        return CollectionSpec(name=name, config=config, points_count=self.count(name))

    def count(self, name: str) -> int:
        return self.table(name).count

    def describe_mapping(self, name: str) -> list[str]:
        """The mapping rules for ``name``, one line each: shown in the plan and the report."""
        t = self.table(name)
        lines = [f"{name}: source {self.engine} {self.display}, {t.count} records"]
        for v in t.vectors:
            label = v.name or "(unnamed)"
            if v.kind == "sparse":
                lines.append(f"{name}: column {v.column!r} -> sparse vector {label}")
            else:
                lines.append(f"{name}: column {v.column!r} -> vector {label}: {v.size}-d {v.datatype}, {v.distance}")
        lines.append(
            f"{name}: ids: unsigned ints and UUIDs kept; other ids -> uuid5(NAMESPACE_URL, id), "
            f"the original kept in payload[{self.id_key!r}]"
        )
        lines.extend(f"{name}: {r}" for r in t.rules)
        resume = "a rerun resumes where it stopped" if t.resumable else "a rerun starts over"
        lines.append(f"{name}: read order: {t.order}; {resume}")
        return lines

    def scan(
        self,
        name: str,
        *,
        batch_size: int,
        slice_: tuple[int, int] | None = None,
        offset: Offset = None,
        with_vectors: bool = True,
    ) -> Iterator[ScanPage]:
        t = self.table(name)
        part = slice_ if slice_ is not None and slice_[1] > 1 else None
        if part is not None and not self.sliceable:
            raise UnsupportedError(f"{self.display} cannot scan in slices")
        current: Offset = offset if t.resumable else None
        while True:
            if part is not None:
                rows, nxt = self.slice_page(name, part, current, batch_size, with_vectors)
            else:
                rows, nxt = self.page(name, current, batch_size, with_vectors)
            if not rows:
                return
            yield ScanPage(columns=self._columns(t, rows), next_offset=nxt)
            if nxt is None:
                return
            current = nxt

    def _columns(self, t: SourceTable, rows: Sequence[SourceRow]) -> PageColumns:
        ids: list[PointId] = []
        payloads: list[dict[str, Any] | None] = []
        for r in rows:
            pid, mapped = map_id(r.id)
            ids.append(pid)
            payload = r.payload
            if mapped:
                if self.id_key in payload:
                    raise UnsupportedError(
                        f"{self.display} {t.name}: record {r.id!r} already has a payload key {self.id_key!r}; "
                        "choose another with ?id_key=NAME"
                    )
                payload = {**payload, self.id_key: r.id.item() if hasattr(r.id, "item") else r.id}
            payloads.append(payload)
        vectors = {
            v.name: [(_sparse if v.kind == "sparse" else _dense)(r.vectors.get(v.column)) for r in rows]
            for v in t.vectors
            if any(v.column in r.vectors for r in rows)
        }
        return PageColumns(ids, vectors, payloads)

    def retrieve(self, name: str, ids: Sequence[PointId]) -> list[Point]:
        # Mapped ids cannot be turned back into the source's: a scan finds them (a source is
        # read for comparison, where the other side is retrieved, so this is rarely used).
        wanted = {str(i) for i in ids}
        out: list[Point] = []
        for page in self.scan(name, batch_size=1000):
            out.extend(p for p in page.points if str(p.id) in wanted)
        return out

    def query(
        self, name: str, vector: Any, *, using: str = "", limit: int = 10, exact: bool = False
    ) -> list[tuple[PointId, float]]:
        """Nearest neighbours: the engine's own search, or (``exact``) brute force over every
        vector of the source, scored as Qdrant scores them."""
        t = self.table(name)
        v = next((x for x in t.vectors if x.name == using and x.kind == "dense"), None)
        if v is None:
            raise NotFoundError(f"{self.display} {name}: no vector {using or '(unnamed)'}")
        q = vector.tolist() if hasattr(vector, "tolist") else list(vector)
        if not exact:
            hits = self.native_search(name, v.column, q, limit)
            if hits is not None:
                return [(map_id(i)[0], s) for i, s in hits]
        return self._brute_force(name, v, q, limit)

    def _brute_force(self, name: str, v: SourceVector, q: list[float], k: int) -> list[tuple[PointId, float]]:
        import numpy as np

        key = (name, v.name)
        if key not in self._matrices:
            ids: list[PointId] = []
            rows: list[Any] = []
            for page in self.scan(name, batch_size=2048):
                col = page.columns.vectors.get(v.name) or []
                for pid, vec in zip(page.columns.ids, col, strict=False):
                    if vec is not None:
                        ids.append(pid)
                        rows.append(vec)
            self._matrices[key] = (ids, np.asarray(rows, dtype=np.float32).reshape(len(rows), v.size))
        ids, m = self._matrices[key]
        x = np.asarray(q, dtype=np.float32)
        if v.distance == "Cosine":
            norms = np.linalg.norm(m, axis=1) * (np.linalg.norm(x) or 1.0)
            scores = (m @ x) / np.where(norms == 0, 1.0, norms)
            order = np.argsort(-scores)
        elif v.distance == "Dot":
            scores = m @ x
            order = np.argsort(-scores)
        elif v.distance == "Manhattan":
            scores = np.abs(m - x).sum(axis=1)
            order = np.argsort(scores)
        else:
            scores = np.sqrt(((m - x) ** 2).sum(axis=1))
            order = np.argsort(scores)
        return [(ids[i], float(scores[i])) for i in order[:k]]

    def _refuse(self, what: str) -> UnsupportedError:
        return UnsupportedError(f"{self.display} is a read-only {self.engine} source: cannot {what}")

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        raise self._refuse(f"create collection {name!r}")

    def delete_collection(self, name: str) -> None:
        raise self._refuse(f"delete collection {name!r}")

    def write(self, name: str, points: Sequence[Point]) -> None:
        raise self._refuse(f"write to {name!r}")

    def set_alias(self, alias: str, collection: str) -> None:
        raise self._refuse(f"set alias {alias!r}")

    def refusals(self, spec: CollectionSpec) -> list[str]:
        return [f"{self.display} is a read-only {self.engine} source"]

    def aliases(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        self._matrices.clear()


def _dense(v: Any) -> Any:
    if v is None:
        return None
    return v.tolist() if hasattr(v, "tolist") else list(v)


def _sparse(v: Any) -> Any:
    if v is None or isinstance(v, SparseValue):
        return v
    if isinstance(v, dict):  # {index: value}
        items = sorted((int(k), float(x)) for k, x in v.items())
        return SparseValue([i for i, _ in items], [x for _, x in items])
    return SparseValue([int(i) for i in v.indices], [float(x) for x in v.values])
