"""The one protocol every place points live behind, and the data types it speaks.

A point is an id (unsigned int or UUID string, kept as it was), vectors keyed by name (``""`` is the
unnamed default vector; values are dense ``list[float]``, ``SparseValue`` or multi-vectors
``list[list[float]]``) and a JSON payload. A ``CollectionSpec`` is everything needed to recreate a
collection: its config as Qdrant reports it, payload indexes, aliases and metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

PointId = int | str
Offset = int | str | None


@dataclass(frozen=True, slots=True)
class SparseValue:
    indices: list[int]
    values: list[float]


# dense list[float] (or a numpy row), SparseValue, or a multi-vector list[list[float]]
VectorValue = Any


@dataclass(slots=True)
class Point:
    id: PointId
    vectors: dict[str, VectorValue]
    payload: dict[str, Any] | None


VectorKind = Literal["dense", "multi", "sparse"]


@dataclass(frozen=True)
class VectorField:
    """One vector of a collection: its name (``""`` unnamed), kind, size, distance and the
    datatype its values are stored in (``float32``, ``float16``, ``uint8``; comparisons allow for
    what a compact one loses, ``format.compare``)."""

    name: str
    kind: VectorKind
    size: int = 0
    distance: str = ""
    datatype: str = "float32"

    @property
    def column(self) -> str:
        prefix = "sparse" if self.kind == "sparse" else "vector"
        return prefix if self.name == "" else f"{prefix}.{self.name}"


@dataclass
class CollectionSpec:
    """A collection's full description, as plain JSON-compatible data."""

    name: str
    config: dict[str, Any]
    payload_schema: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    points_count: int = 0

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.config.get("params") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.config.get("metadata") or {})

    def vector_fields(self) -> list[VectorField]:
        """Dense, multi and sparse vectors, in a stable order (unnamed first, then by name)."""
        out: list[VectorField] = []
        vectors = self.params.get("vectors")
        if isinstance(vectors, dict) and is_vector_params(vectors):
            out.append(_dense_field("", vectors))
        elif isinstance(vectors, dict):
            for name in sorted(vectors):
                out.append(_dense_field(name, vectors[name]))
        for name in sorted(self.params.get("sparse_vectors") or {}):
            out.append(VectorField(name=name, kind="sparse"))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": self.config,
            "payload_schema": self.payload_schema,
            "aliases": self.aliases,
            "points_count": self.points_count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionSpec:
        return cls(
            name=str(data["name"]),
            config=dict(data.get("config") or {}),
            payload_schema=dict(data.get("payload_schema") or {}),
            aliases=list(data.get("aliases") or []),
            points_count=int(data.get("points_count") or 0),
        )


def is_vector_params(d: dict[str, Any]) -> bool:
    """True for one VectorParams object; False for a mapping of names to VectorParams."""
    return isinstance(d.get("size"), int) and "distance" in d and not isinstance(d["distance"], dict)


def _dense_field(name: str, params: dict[str, Any]) -> VectorField:
    kind: VectorKind = "multi" if params.get("multivector_config") else "dense"
    return VectorField(
        name=name,
        kind=kind,
        size=int(params.get("size") or 0),
        distance=str(params.get("distance")),
        datatype=str(params.get("datatype") or "float32").lower(),
    )


@dataclass
class EndpointInfo:
    kind: str
    display: str
    server_version: str | None
    supports_slice: bool


@dataclass
class PageColumns:
    """A page of points as columns: ids, each vector name's values by row (None where a point
    lacks that vector) and payloads. Endpoints build it straight from the client's records, so
    a backup or a digest reads a page without making a ``Point`` per record."""

    ids: list[PointId]
    vectors: dict[str, list[VectorValue]]
    payloads: list[dict[str, Any] | None]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_points(cls, points: Sequence[Point]) -> PageColumns:
        names: dict[str, None] = {}
        for p in points:
            for name in p.vectors:
                names.setdefault(name, None)
        return cls(
            ids=[p.id for p in points],
            vectors={name: [p.vectors.get(name) for p in points] for name in names},
            payloads=[p.payload for p in points],
        )

    def to_points(self) -> list[Point]:
        cols = list(self.vectors.items())
        return [
            Point(
                id=pid,
                vectors={name: vals[i] for name, vals in cols if vals[i] is not None},
                payload=self.payloads[i],
            )
            for i, pid in enumerate(self.ids)
        ]


def payloads_are_json(kind: str) -> bool:
    """Whether an endpoint of ``kind`` (``EndpointInfo.kind``) returns payloads parsed from JSON
    values: a server's and Qdrant Edge's are (serde_json), so hold no NaN or Infinity; only
    qdrant-client's local mode keeps Python floats that can (see ``codec.encode_payload``)."""
    return kind in ("remote", "edge")


def vector_value(v: Any) -> VectorValue:
    """A client's vector as a point holds it: sparse vectors (anything with ``indices`` and
    ``values``) as ``SparseValue``, dense and multi-vectors unchanged."""
    if hasattr(v, "indices") and hasattr(v, "values"):
        return SparseValue(list(v.indices), list(v.values))
    return v


def record_ids(records: Sequence[Any], id_out: Callable[[Any], PointId] | None = None) -> list[PointId]:
    """The records' ids, those that are not ints mapped by ``id_out``."""
    ids: list[PointId] = [r.id for r in records]
    if id_out is not None and not all(type(i) is int for i in ids):
        ids = [i if type(i) is int else id_out(i) for i in ids]
    return ids


def columns_from_records(
    records: Sequence[Any], id_out: Callable[[Any], PointId] | None = None
) -> PageColumns:
    """``PageColumns`` of a client's records (anything with ``id``, ``vector`` and ``payload``:
    qdrant-client's ``Record``, Qdrant Edge's ``Record``). ``id_out`` maps ids that are not ints.

    The common page (every point holds one unnamed dense vector as a list) is three list
    comprehensions; anything else (named, sparse, missing vectors) is sorted out row by row.
    """
    n = len(records)
    ids = record_ids(records, id_out)
    vecs = [r.vector for r in records]
    payloads = [r.payload for r in records]
    vectors: dict[str, list[VectorValue]] = {}
    if n and all(type(v) is list for v in vecs):
        vectors[""] = vecs
        return PageColumns(ids, vectors, payloads)
    for i, v in enumerate(vecs):
        if v is None:
            continue
        if isinstance(v, dict):
            for name, value in v.items():
                if value is None:
                    continue
                col = vectors.get(name)
                if col is None:
                    col = vectors[name] = [None] * n
                col[i] = vector_value(value)
        else:
            col = vectors.get("")
            if col is None:
                col = vectors[""] = [None] * n
            col[i] = vector_value(v)
    return PageColumns(ids, vectors, payloads)


class ScanPage:
    """One page of a scan and where the next starts: as points, as columns, or both.

    An endpoint gives either form, or the client's records (``columns_from_records``), from which
    the columns are built on first use; the other form is built on first use and kept."""

    __slots__ = ("_columns", "_points", "_records", "_id_out", "next_offset")

    def __init__(
        self,
        points: list[Point] | None = None,
        next_offset: Offset = None,
        *,
        columns: PageColumns | None = None,
        records: Sequence[Any] | None = None,
        id_out: Callable[[Any], PointId] | None = None,
    ) -> None:
        if points is None and columns is None and records is None:
            points = []
        self._points = points
        self._columns = columns
        self._records = records
        self._id_out = id_out
        self.next_offset = next_offset

    @property
    def points(self) -> list[Point]:
        if self._points is None:
            self._points = self.columns.to_points()
        return self._points

    @property
    def columns(self) -> PageColumns:
        if self._columns is None:
            if self._records is not None:
                self._columns = columns_from_records(self._records, self._id_out)
                self._records = None
            else:
                self._columns = PageColumns.from_points(self.points)
        return self._columns

    def columns_with_matrix(self, f: VectorField) -> tuple[PageColumns, Any]:
        """``(columns, matrix)`` for encoding a page whose one vector field is ``f``: while the
        page still holds the client's records and ``f`` is the unnamed dense vector, its float32
        matrix read straight from them (``codec.float_matrix_from_records``: the float lists are
        never kept) and columns of ids and payloads only; otherwise ``(self.columns, None)``."""
        records = self._records
        if records is not None and self._columns is None and f.kind == "dense" and f.name == "":
            from qdrant_ops.format.vectors import float_matrix_from_records

            matrix = float_matrix_from_records(records, f.size)
            if matrix is not None:
                return PageColumns(record_ids(records, self._id_out), {}, [r.payload for r in records]), matrix
        return self.columns, None

    def __len__(self) -> int:
        if self._points is not None:
            return len(self._points)
        if self._columns is None and self._records is not None:
            return len(self._records)
        return len(self.columns)

    def __repr__(self) -> str:
        return f"ScanPage({len(self)} points, next_offset={self.next_offset!r})"


@runtime_checkable
class Endpoint(Protocol):
    """Where points live: a server, an embedded store, or a backup archive."""

    def info(self) -> EndpointInfo: ...

    def list_collections(self) -> list[str]: ...

    def collection_exists(self, name: str) -> bool: ...

    def get_spec(self, name: str) -> CollectionSpec: ...

    def create_collection(self, name: str, spec: CollectionSpec) -> None: ...

    def delete_collection(self, name: str) -> None: ...

    def count(self, name: str) -> int: ...

    def scan(
        self,
        name: str,
        *,
        batch_size: int,
        slice_: tuple[int, int] | None = None,
        offset: Offset = None,
        with_vectors: bool = True,
    ) -> Iterator[ScanPage]: ...

    def retrieve(self, name: str, ids: Sequence[PointId]) -> list[Point]: ...

    def write(self, name: str, points: Sequence[Point]) -> None: ...

    def set_alias(self, alias: str, collection: str) -> None: ...

    def aliases(self) -> dict[str, str]: ...

    def close(self) -> None: ...
