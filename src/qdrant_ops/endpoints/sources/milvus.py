"""Milvus Lite as a read-only source: ``milvus:FILE.db`` (through pymilvus's ``MilvusClient``).

Each Milvus collection is one collection. ``FLOAT_VECTOR`` fields are dense vectors (one ->
unnamed, several -> named after the fields), ``SPARSE_FLOAT_VECTOR`` fields sparse vectors named
after theirs; other vector kinds (binary, float16, bfloat16, int8) are refused for now. The
distance is each field's index metric: ``COSINE`` -> Cosine, ``IP`` -> Dot, ``L2`` -> Euclid.
Ids are the primary key (ints kept, VARCHAR keys mapped to UUIDv5); every scalar field and every
dynamic field goes into the payload (JSON fields as is). Every partition is read; a collection
with partitions of its own keeps each record's partition name in ``payload["_partition"]`` (Qdrant
has none). Pages are a keyset on the primary key (``pk > last``; Milvus returns query results in
primary-key order): a rerun resumes exactly.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

from qdrant_ops.endpoints.base import Offset
from qdrant_ops.endpoints.sources.base import (
    DEFAULT_ID_KEY,
    SourceEndpoint,
    SourceRow,
    SourceTable,
    SourceVector,
    parse_distance,
)
from qdrant_ops.endpoints.sources.extras import require
from qdrant_ops.errors import EndpointError, NotFoundError, UnsupportedError

T = TypeVar("T")
METRICS = {"cosine": "Cosine", "ip": "Dot", "l2": "Euclid"}
PARTITION_KEY = "_partition"
DEFAULT_PARTITION = "_default"


class MilvusSource(SourceEndpoint):
    engine = "milvus"

    def __init__(self, path: str, *, id_key: str = DEFAULT_ID_KEY, distance: str | None = None) -> None:
        pymilvus = require("pymilvus", "milvus")
        require("milvus_lite", "milvus")
        if not os.path.exists(path):  # a file, or (Milvus Lite 3) a directory
            raise NotFoundError(f"milvus:{path}: no Milvus Lite database there (a read never creates one)")
        super().__init__(f"milvus:{path}", id_key=id_key, version=str(getattr(pymilvus, "__version__", "")))
        self.distance = parse_distance(distance, METRICS, self.display)
        self.types = pymilvus.DataType
        self.errors = pymilvus.exceptions
        try:
            self.client = pymilvus.MilvusClient(os.path.abspath(path))
        except pymilvus.exceptions.MilvusException as exc:
            raise EndpointError(
                f"cannot open {self.display}: {getattr(exc, 'message', exc)} (is another process using it?)"
            ) from None
        self._pk: dict[str, tuple[str, bool]] = {}
        self._partitions: dict[str, list[str]] = {}

    def list_collections(self) -> list[str]:
        return sorted(str(n) for n in self.client.list_collections())

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except self.errors.MilvusException as exc:
            raise EndpointError(f"{self.display}: {what} failed: {getattr(exc, 'message', exc)}") from None

    def describe(self, name: str) -> SourceTable:
        desc = self._call("describe", lambda: self.client.describe_collection(name))
        # A reopened Milvus Lite store holds its collections released: reads need them loaded
        # (in memory; nothing on disk changes).
        self._call("load", lambda: self.client.load_collection(name))
        dt = self.types
        fields = desc["fields"]
        pk = next(f for f in fields if f.get("is_primary"))
        self._pk[name] = (str(pk["name"]), pk["type"] in (dt.INT64, dt.INT32, dt.INT16, dt.INT8))
        dense = [f for f in fields if f["type"] == dt.FLOAT_VECTOR]
        vectors, rules = [], []
        for f in fields:
            if f["type"] == dt.FLOAT_VECTOR:
                metric = self._metric(name, f["name"])
                distance = self.distance or METRICS.get(metric.lower(), "")
                if not distance:
                    raise UnsupportedError(f"{self.display} {name}: metric {metric!r} of {f['name']!r} has no Qdrant equivalent")
                size = int(f["params"]["dim"])
                vectors.append(SourceVector(f["name"], "" if len(dense) == 1 else f["name"], size, distance))
                rules.append(f"field {f['name']!r}: metric {metric or '(no index)'} -> {distance}")
            elif f["type"] == dt.SPARSE_FLOAT_VECTOR:
                vectors.append(SourceVector(f["name"], f["name"], 0, "Dot", kind="sparse"))
            elif "VECTOR" in str(f["type"]):
                raise UnsupportedError(f"{self.display} {name}: vector field {f['name']!r} is {f['type'].name}, not read yet")
        if not vectors:
            raise UnsupportedError(f"{self.display} {name}: no vector field")
        rules.append(f"ids from the primary key {pk['name']!r}; scalar and dynamic fields -> payload keys")
        parts = self._call("list partitions", lambda: self.client.list_partitions(name))
        own = sorted(str(p) for p in parts if p != DEFAULT_PARTITION)
        self._partitions[name] = own
        if own:
            rules.append(f"partitions {', '.join(own)} (and {DEFAULT_PARTITION}) -> payload[{PARTITION_KEY!r}]")
        got = self._call("count", lambda: self.client.query(name, filter="", output_fields=["count(*)"]))
        count = int(got[0]["count(*)"])
        return SourceTable(
            name=name, count=count, vectors=vectors,
            order=f"keyset on the primary key {pk['name']} (pk > last): stable", resumable=True, rules=rules,
        )

    def _metric(self, name: str, field: str) -> str:
        for index in self.client.list_indexes(name, field_name=field):
            metric = self.client.describe_index(name, index).get("metric_type")
            if metric:
                return str(metric)
        return "L2"

    def page(self, name: str, offset: Offset, limit: int, with_vectors: bool) -> tuple[list[SourceRow], Offset]:
        t = self.table(name)
        pk, numeric = self._pk[name]
        vcols = {v.column for v in t.vectors}
        flt = "" if offset is None else f"{pk} > {offset if numeric else json.dumps(str(offset))}"
        if not flt:
            flt = f"{pk} >= {-(2**63)}" if numeric else f'{pk} >= ""'
        got = self._call("query", lambda: self.client.query(name, filter=flt, limit=limit, output_fields=["*"]))
        recs = sorted((dict(r) for r in got), key=lambda r: r[pk])
        where = self._partition_of(name, pk, numeric, [r[pk] for r in recs])
        out = []
        for rec in recs:
            rid = rec.pop(pk)
            if where is not None:
                if PARTITION_KEY in rec:
                    raise UnsupportedError(
                        f"{self.display} {name}: record {rid!r} already has a field {PARTITION_KEY!r}, "
                        "where its partition would go"
                    )
                rec[PARTITION_KEY] = where.get(rid, DEFAULT_PARTITION)
            vectors = {c: rec.pop(c) for c in vcols if c in rec}
            if not with_vectors:
                vectors = {}
            payload = {k: v for k, v in rec.items() if not k.startswith("$")}
            out.append(SourceRow(rid, {c: v for c, v in vectors.items() if v is not None}, payload))
        return out, (out[-1].id if len(out) == limit else None)

    def _partition_of(self, name: str, pk: str, numeric: bool, ids: list[Any]) -> dict[Any, str] | None:
        """Each id's partition (absent: the default one); None when the collection has none of its own."""
        own = self._partitions.get(name) or []
        if not own or not ids:
            return None if not own else {}
        listed = ", ".join(str(i) if numeric else json.dumps(str(i)) for i in ids)
        out: dict[Any, str] = {}
        for part in own:
            got = self._call("query", functools.partial(
                self.client.query, name, filter=f"{pk} in [{listed}]", partition_names=[part], output_fields=[pk]))
            out.update((r[pk], part) for r in got)
        return out

    def native_search(self, name: str, column: str, vector: list[float], k: int) -> list[tuple[Any, float]] | None:
        t = self.table(name)
        v = next(x for x in t.vectors if x.column == column)
        pk, _ = self._pk[name]
        res = self._call("search", lambda: self.client.search(
            name, data=[vector], anns_field=column, limit=k, output_fields=[pk]))
        # Milvus returns similarity for COSINE and IP, squared distance for L2.
        return [
            (hit["entity"][pk] if pk in hit.get("entity", {}) else hit["id"],
             math.sqrt(max(float(hit["distance"]), 0.0)) if v.distance == "Euclid" else float(hit["distance"]))
            for hit in res[0]
        ]

    def close(self) -> None:
        super().close()
        self.client.close()
