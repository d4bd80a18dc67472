"""FAISS as a read-only source: ``faiss:INDEX_FILE`` with an optional sidecar of ids and payloads.

One index file is one collection, named after the file (without its extension). Indexes that
give back their vectors exactly are read: Flat (L2/IP), HNSWFlat, IVFFlat, and any of them inside
an IDMap/IDMap2. Lossy ones (PQ, scalar quantizers, ...) are refused: they cannot return the
vectors they were given. ``METRIC_L2`` -> Euclid, ``METRIC_INNER_PRODUCT`` -> Dot (``?distance=
cosine`` for vectors normalized before indexing).

The sidecar (``?sidecar=FILE``, else ``INDEX.parquet`` or ``INDEX.jsonl`` beside the index) holds
one row per vector, in the index's order: its ``id`` column (``?id=COL``), if any, gives the point
id, every other column goes into the payload. Without one, ids are the IDMap's ids or the
positions. Reads are in index order: fully stable, so a rerun resumes at its offset.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
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
from qdrant_ops.errors import NotFoundError, UnsupportedError, UsageError

READABLE = ("IndexFlat", "IndexFlatL2", "IndexFlatIP", "IndexHNSWFlat", "IndexIVFFlat")


class FaissSource(SourceEndpoint):
    engine = "faiss"
    sliceable = True  # positional slices over a stable order

    def __init__(
        self, path: str, *, id_key: str = DEFAULT_ID_KEY, sidecar: str | None = None, id_column: str = "id",
        distance: str | None = None,
    ) -> None:
        faiss = require("faiss", "faiss")
        if not os.path.isfile(path):
            raise NotFoundError(f"faiss:{path}: no index file there")
        super().__init__(f"faiss:{path}", id_key=id_key, version=str(getattr(faiss, "__version__", "")))
        self.faiss = faiss
        self.name = Path(path).stem
        try:
            index = faiss.read_index(path)
        except RuntimeError as exc:
            raise UsageError(f"{self.display}: not a FAISS index: {str(exc).splitlines()[0]}") from None
        self.ids: Any = None
        inner = index
        if type(index).__name__ in ("IndexIDMap", "IndexIDMap2"):
            self.ids = faiss.vector_to_array(index.id_map)
            inner = faiss.downcast_index(index.index)
        kind = type(inner).__name__
        if kind not in READABLE:
            raise UnsupportedError(
                f"{self.display}: a {kind} cannot give back the vectors it was given (lossy or not "
                f"supported); readable: {', '.join(READABLE)}, optionally inside IndexIDMap"
            )
        if kind == "IndexIVFFlat":
            inner.make_direct_map()  # IVF lists hold the vectors; the map lets reconstruct find them
        self.index, self.inner, self.kind = index, inner, kind
        metric = "Dot" if index.metric_type == faiss.METRIC_INNER_PRODUCT else "Euclid"
        self.metric = metric
        self.distance = parse_distance(distance, {"l2": "Euclid", "ip": "Dot"}, self.display) or metric
        self.id_column = id_column
        self.sidecar = _Sidecar.find(path, sidecar, index.ntotal, self.display)

    def list_collections(self) -> list[str]:
        return [self.name]

    def describe(self, name: str) -> SourceTable:
        rules = [
            f"{self.kind}{' in an IDMap' if self.ids is not None else ''}, metric {self.metric} -> {self.distance}",
        ]
        if self.sidecar is None:
            rules.append("no sidecar: ids are the IDMap's ids" if self.ids is not None else "no sidecar: ids are positions")
        else:
            has_id = self.id_column in self.sidecar.columns
            rules.append(
                f"sidecar {self.sidecar.path}: " + (f"ids from column {self.id_column!r}, " if has_id else "")
                + "other columns -> payload keys"
            )
        return SourceTable(
            name=name, count=int(self.index.ntotal),
            vectors=[SourceVector("vector", "", int(self.index.d), self.distance)],
            order="the index's own order: stable", resumable=True, rules=rules,
        )

    def rows(self, name: str, offset: int, limit: int, with_vectors: bool) -> list[SourceRow]:
        n = max(0, min(limit, int(self.index.ntotal) - offset))
        if n == 0:
            return []
        vecs = self.inner.reconstruct_n(offset, n) if with_vectors else None
        meta = self.sidecar.read(offset, n) if self.sidecar is not None else [{} for _ in range(n)]
        out = []
        for i in range(n):
            payload = dict(meta[i])
            if self.id_column in payload and self.sidecar is not None:
                rid = payload.pop(self.id_column)
            elif self.ids is not None:
                rid = int(self.ids[offset + i])
            else:
                rid = offset + i
            out.append(SourceRow(rid, {"vector": vecs[i]} if vecs is not None else {}, payload))
        return out

    def _source_id(self, label: int) -> Any:
        if self.sidecar is not None and self.id_column in self.sidecar.columns:
            pos = int(label) if self.ids is None else int(self._positions()[int(label)])
            return self.sidecar.read(pos, 1)[0][self.id_column]
        return int(label)

    def _positions(self) -> dict[int, int]:
        if not hasattr(self, "_pos"):
            self._pos = {int(x): i for i, x in enumerate(self.ids)}
        return self._pos

    def native_search(self, name: str, column: str, vector: list[float], k: int) -> list[tuple[Any, float]] | None:
        import numpy as np

        x = np.asarray([vector], dtype=np.float32)
        if self.distance == "Cosine" and self.metric == "Dot":
            x = x / (np.linalg.norm(x) or 1.0)
        elif self.distance != self.metric:
            return None  # the index answers in another metric than the target's
        dist, labels = self.index.search(x, k)
        out = []
        for d, label in zip(dist[0], labels[0], strict=True):
            if label < 0:
                continue
            # FAISS L2 gives squared distances; Qdrant's Euclid score is the distance itself.
            score = math.sqrt(max(float(d), 0.0)) if self.metric == "Euclid" else float(d)
            out.append((self._source_id(int(label)), score))
        return out


class _Sidecar:
    """Row ``i`` of a Parquet or JSONL file belongs to vector ``i`` of the index."""

    def __init__(self, path: Path, rows: int) -> None:
        self.path = path
        self.rows = rows
        self.columns: list[str] = []
        self._lines: list[int] = []
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            self._pf = pq.ParquetFile(path)
            self.columns = list(self._pf.schema_arrow.names)
            self._starts = [0]
            for rg in range(self._pf.num_row_groups):
                self._starts.append(self._starts[-1] + self._pf.metadata.row_group(rg).num_rows)
            count = self._starts[-1]
        else:
            pos = 0
            with open(path, "rb") as fh:  # byte offsets of each line: a page seeks to its first
                for line in fh:
                    if line.strip():
                        self._lines.append(pos)
                    pos += len(line)
            count = len(self._lines)
            if count:
                self.columns = list(self.read(0, 1)[0])
        if count != rows:
            raise UsageError(f"{path}: {count} rows, but the index holds {rows} vectors")

    @classmethod
    def find(cls, index: str, given: str | None, rows: int, display: str) -> _Sidecar | None:
        if given:
            p = Path(given)
            if not p.is_file():
                raise NotFoundError(f"{display}: sidecar {given} not found")
            if p.suffix not in (".parquet", ".jsonl"):
                raise UsageError(f"{display}: a sidecar is a .parquet or .jsonl file, not {p.name}")
            return cls(p, rows)
        for suffix in (".parquet", ".jsonl"):
            for p in (Path(index).with_suffix(suffix), Path(index + suffix)):
                if p.is_file():
                    return cls(p, rows)
        return None

    def read(self, offset: int, n: int) -> list[dict[str, Any]]:
        if self.path.suffix == ".parquet":
            import bisect

            first = bisect.bisect_right(self._starts, offset) - 1
            last = bisect.bisect_right(self._starts, offset + n - 1) - 1
            table = self._pf.read_row_groups(list(range(first, last + 1)))
            return list(table.slice(offset - self._starts[first], n).to_pylist())
        out: list[dict[str, Any]] = []
        with open(self.path, "rb") as fh:
            fh.seek(self._lines[offset])
            while len(out) < n:
                line = fh.readline()
                if not line:
                    break
                if line.strip():
                    try:
                        obj = json.loads(line)
                    except ValueError as exc:
                        raise UsageError(f"{self.path}: line {offset + len(out) + 1} is not JSON: {exc}") from None
                    if not isinstance(obj, dict):
                        raise UsageError(f"{self.path}: line {offset + len(out) + 1} is not a JSON object")
                    out.append(obj)
        return out
