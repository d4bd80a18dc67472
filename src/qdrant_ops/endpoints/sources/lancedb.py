"""LanceDB as a read-only source: ``lancedb:PATH`` (a local database directory).

Each table is one collection. Every fixed-size-list column of floats is a vector column: one
becomes the unnamed vector, several become named vectors (the column names). The column named
``id`` (``?id=COL``) gives the point ids, else the row position does; every other column goes
into the payload as is (structs as objects, lists as arrays). LanceDB keeps no distance with a
table, only with a vector index: an index's metric is used, else ``?distance=`` (default l2).
Pages come in the table's row order (offset paging): stable while the table is unchanged.
"""

from __future__ import annotations

import math
import os
from typing import Any

from qdrant_ops.endpoints.sources.base import (
    DEFAULT_ID_KEY,
    SourceEndpoint,
    SourceRow,
    SourceTable,
    SourceVector,
    parse_distance,
)
from qdrant_ops.endpoints.sources.extras import require
from qdrant_ops.errors import NotFoundError, UnsupportedError

METRICS = {"l2": "Euclid", "cosine": "Cosine", "dot": "Dot"}
_DATATYPES = {"float": "float32", "float32": "float32", "halffloat": "float16", "float16": "float16",
              "double": "float32", "float64": "float32", "uint8": "uint8"}


class LanceDBSource(SourceEndpoint):
    engine = "lancedb"
    sliceable = True  # positional slices over a stable order

    def __init__(
        self, path: str, *, id_key: str = DEFAULT_ID_KEY, id_column: str = "id", distance: str | None = None
    ) -> None:
        lancedb = require("lancedb", "lancedb")
        if not os.path.isdir(path):
            raise NotFoundError(f"lancedb:{path}: no LanceDB database there (a read never creates one)")
        super().__init__(f"lancedb:{path}", id_key=id_key, version=str(getattr(lancedb, "__version__", "")))
        self.id_column = id_column
        self.distance = parse_distance(distance, METRICS, self.display)
        self.db = lancedb.connect(path)

    def list_collections(self) -> list[str]:
        listed = self.db.list_tables()
        names = getattr(listed, "tables", listed)
        return sorted(str(n) for n in names)

    def _vector_columns(self, schema: Any) -> list[tuple[str, int, str]]:
        import pyarrow as pa

        out = []
        for f in schema:
            t = f.type
            if pa.types.is_fixed_size_list(t) and (pa.types.is_floating(t.value_type) or pa.types.is_uint8(t.value_type)):
                out.append((f.name, t.list_size, _DATATYPES.get(str(t.value_type), "float32")))
        return out

    def describe(self, name: str) -> SourceTable:
        tbl = self.db.open_table(name)
        cols = self._vector_columns(tbl.schema)
        if not cols:
            raise UnsupportedError(f"{self.display} {name}: no vector column (a fixed-size list of floats)")
        metrics = {}
        for idx in tbl.list_indices():
            metric = getattr(idx, "distance_type", None) or getattr(idx, "metric", None)
            for c in getattr(idx, "columns", []) or []:
                if metric:
                    metrics[c] = str(metric).lower()
        single = len(cols) == 1
        vectors, rules = [], []
        for col, size, dtype in cols:
            metric = metrics.get(col)
            distance = self.distance or METRICS.get(metric or "l2", "Euclid")
            why = "?distance=" if self.distance else (f"its index's metric {metric}" if metric else "no index: l2")
            vectors.append(SourceVector(col, "" if single else col, size, distance, dtype))
            rules.append(f"column {col!r}: distance {distance} ({why})")
        has_id = self.id_column in tbl.schema.names
        rules.append(
            f"ids from column {self.id_column!r}" if has_id else f"no column {self.id_column!r}: ids are row positions"
        )
        rules.append("other columns -> payload keys (structs as objects, lists as arrays)")
        return SourceTable(
            name=name, count=tbl.count_rows(), vectors=vectors,
            order="the table's row order (offset paging): stable while the table is unchanged",
            resumable=True, rules=rules,
        )

    def rows(self, name: str, offset: int, limit: int, with_vectors: bool) -> list[SourceRow]:
        t = self.table(name)
        tbl = self.db.open_table(name)
        vcols = {v.column for v in t.vectors}
        cols = [c for c in tbl.schema.names if with_vectors or c not in vcols]
        batch = tbl.search().select(cols).limit(limit).offset(offset).to_arrow().to_pylist()
        has_id = self.id_column in tbl.schema.names
        out = []
        for i, rec in enumerate(batch):
            rid = rec.pop(self.id_column) if has_id else offset + i
            vectors = {c: rec.pop(c) for c in vcols if c in rec}
            out.append(SourceRow(rid, {c: v for c, v in vectors.items() if v is not None}, rec))
        return out

    def native_search(self, name: str, column: str, vector: list[float], k: int) -> list[tuple[Any, float]] | None:
        t = self.table(name)
        v = next(x for x in t.vectors if x.column == column)
        metric = {"Euclid": "l2", "Cosine": "cosine", "Dot": "dot"}.get(v.distance)
        if metric is None:
            return None
        tbl = self.db.open_table(name)
        has_id = self.id_column in tbl.schema.names
        q = tbl.search(vector, vector_column_name=column).distance_type(metric).limit(k)
        res = q.with_row_id(True).to_arrow().to_pylist()
        out = []
        for rec in res:
            d = float(rec["_distance"])
            # LanceDB returns distances: squared l2, 1 - cos, 1 - dot; Qdrant returns scores.
            score = math.sqrt(max(d, 0.0)) if metric == "l2" else 1.0 - d
            out.append((rec[self.id_column] if has_id else rec["_rowid"], score))
        return out
