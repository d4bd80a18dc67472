"""Milvus as a read-only source, through pymilvus's ``MilvusClient``: ``milvus:FILE.db`` (Milvus
Lite) or ``milvus+http://host:19530`` / ``milvus+https://...`` (a Milvus server: ``?database=``,
``?partitions=``, credentials from the URI's ``user:password@`` or ``MILVUS_TOKEN``).

Each Milvus collection is one collection. ``FLOAT_VECTOR`` fields are dense vectors (one ->
unnamed, several -> named after the fields), ``SPARSE_FLOAT_VECTOR`` fields sparse vectors named
after theirs; other vector kinds (binary, float16, bfloat16, int8) are refused, naming the field
and its type. The distance is each field's index metric: ``COSINE`` -> Cosine, ``IP`` -> Dot,
``L2`` -> Euclid. Ids are the primary key (ints kept, VARCHAR keys mapped to UUIDv5); every scalar
field and every dynamic field goes into the payload (JSON fields as is). Every partition is read
(or those ``?partitions=`` names); a collection with partitions of its own keeps each record's
partition name in ``payload["_partition"]`` (Qdrant has none). Pages are a keyset on the primary
key (``pk > last``; Milvus returns query results in primary-key order): a rerun resumes exactly.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
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
DEFAULT_PORT = 19530


@dataclass(frozen=True)
class MilvusServer:
    """Where a Milvus server is and how to sign in; ``token`` is ``user:password`` or an API key."""

    url: str  # http(s)://host:port, as pymilvus takes it
    display: str  # milvus+http(s)://host:port[?database=D]: never holds credentials
    token: str = ""
    database: str = ""
    partitions: list[str] = field(default_factory=list)
    timeout: float = 10.0  # seconds to connect
    load: bool = False  # may a released collection be loaded for the read (and released after)
    ca: str = ""  # a PEM file of the certificate (or its CA) a TLS server must present


class MilvusSource(SourceEndpoint):
    engine = "milvus"

    def __init__(
        self, path: str, *, id_key: str = DEFAULT_ID_KEY, distance: str | None = None,
        server: MilvusServer | None = None,
    ) -> None:
        pymilvus = require("pymilvus", "milvus")
        version = str(getattr(pymilvus, "__version__", ""))
        self.types = pymilvus.DataType
        self.errors = pymilvus.exceptions
        self.server = server
        self.partitions_wanted = list(server.partitions) if server else []
        self._loaded: list[str] = []  # collections this endpoint loaded on a server, released on close
        if server is None:
            require("milvus_lite", "milvus")
            if not os.path.exists(path):  # a file, or (Milvus Lite 3) a directory
                raise NotFoundError(f"milvus:{path}: no Milvus Lite database there (a read never creates one)")
            super().__init__(f"milvus:{path}", id_key=id_key, version=version)
            try:
                self.client = pymilvus.MilvusClient(os.path.abspath(path))
            except pymilvus.exceptions.MilvusException as exc:
                raise EndpointError(
                    f"cannot open {self.display}: {getattr(exc, 'message', exc)} (is another process using it?)"
                ) from None
        else:
            super().__init__(server.display, id_key=id_key, version=version)
            self.client = self._connect(pymilvus, server)
        self.distance = parse_distance(distance, METRICS, self.display)
        self._pk: dict[str, tuple[str, bool]] = {}
        self._partitions: dict[str, list[str]] = {}

    def _connect(self, pymilvus: Any, server: MilvusServer) -> Any:
        try:
            tls = {"server_pem_path": server.ca} if server.ca else {}
            # dedicated: pymilvus shares one connection per address and token, whatever its TLS
            # settings; this endpoint's own is checked here and closed with it.
            client = pymilvus.MilvusClient(
                uri=server.url, token=server.token, db_name=server.database, timeout=server.timeout,
                dedicated=True, **tls,
            )
            client.list_collections()  # a database that does not exist is refused here
            return client
        except pymilvus.exceptions.MilvusException as exc:
            message = str(getattr(exc, "message", exc))
            if "does not exist" in message or "not found" in message:
                raise NotFoundError(f"{server.display}: {message}") from None
            # pymilvus reports refused credentials as a failed connection too.
            hint = "" if server.token else " (a server that checks credentials: user:password@ in the URI or MILVUS_TOKEN)"
            raise EndpointError(f"cannot reach {server.display}: {message}{hint}") from None

    def list_collections(self) -> list[str]:
        return sorted(str(n) for n in self.client.list_collections())

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except self.errors.MilvusException as exc:
            raise EndpointError(f"{self.display}: {what} failed: {getattr(exc, 'message', exc)}") from None

    def describe(self, name: str) -> SourceTable:
        desc = self._call("describe", lambda: self.client.describe_collection(name))
        self._ensure_loaded(name)
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
            elif "VECTOR" in (kind := getattr(f["type"], "name", str(f["type"]))):  # str() of it is a number
                raise UnsupportedError(
                    f"{self.display} {name}: vector field {f['name']!r} is {kind} "
                    f"(metric {self._metric(name, f['name'])}): not mapped to Qdrant yet "
                    "(FLOAT_VECTOR and SPARSE_FLOAT_VECTOR are)"
                )
        if not vectors:
            raise UnsupportedError(f"{self.display} {name}: no vector field")
        rules.append(f"ids from the primary key {pk['name']!r}; scalar and dynamic fields -> payload keys")
        if name in self._loaded:
            rules.append("the collection was released on the server: loaded for this read, released after (?load=true)")
        parts = [str(p) for p in self._call("list partitions", lambda: self.client.list_partitions(name))]
        missing = [p for p in self.partitions_wanted if p not in parts]
        if missing:
            raise NotFoundError(
                f"{self.display} {name}: no partition {', '.join(missing)} (it has {', '.join(sorted(parts))})"
            )
        own = sorted(p for p in parts if p != DEFAULT_PARTITION)
        self._partitions[name] = own
        if own:
            rules.append(f"partitions {', '.join(own)} (and {DEFAULT_PARTITION}) -> payload[{PARTITION_KEY!r}]")
        if self.partitions_wanted:
            rules.append(f"only partitions {', '.join(self.partitions_wanted)} are read (?partitions=)")
        # Milvus Lite counts a whole collection when the filter is empty, whatever the partitions.
        every = self._every(name) if self.partitions_wanted else ""
        got = self._call("count", lambda: self.client.query(
            name, filter=every, output_fields=["count(*)"], partition_names=self._read_partitions()))
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
        flt = self._every(name) if offset is None else f"{pk} > {offset if numeric else json.dumps(str(offset))}"
        got = self._call("query", lambda: self.client.query(
            name, filter=flt, limit=limit, output_fields=["*"], partition_names=self._read_partitions()))
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

    def _ensure_loaded(self, name: str) -> None:
        if self.server is None:
            # A reopened Milvus Lite store holds its collections released: reads need them loaded
            # (in this process's memory; nothing on disk changes).
            self._call("load", lambda: self.client.load_collection(name))
            return
        got = self._call("load state", lambda: self.client.get_load_state(name))
        state = got.get("state") if isinstance(got, dict) else got
        if getattr(state, "name", str(state)) == "Loaded":
            return
        # Loading a collection on a server takes the cluster's memory: only when asked, and undone.
        if not self.server.load:
            raise UnsupportedError(
                f"{self.display} {name}: the collection is not loaded on the server "
                f"({getattr(state, 'name', state)}); load it, or add ?load=true to let qdrant-ops "
                "load it for the read and release it after"
            )
        self._call("load", lambda: self.client.load_collection(name))
        self._loaded.append(name)

    def _every(self, name: str) -> str:
        """A filter every record passes (a query with a limit needs one)."""
        pk, numeric = self._pk[name]
        return f"{pk} >= {-(2**63)}" if numeric else f'{pk} >= ""'

    def _read_partitions(self) -> list[str] | None:
        return self.partitions_wanted or None

    def _partition_of(self, name: str, pk: str, numeric: bool, ids: list[Any]) -> dict[Any, str] | None:
        """Each id's partition (absent: the default one); None when the collection has none of its own."""
        own = self._partitions.get(name) or []
        if not own or not ids:
            return None if not own else {}
        listed = ", ".join(str(i) if numeric else json.dumps(str(i)) for i in ids)
        out: dict[Any, str] = {}
        for part in (p for p in own if not self.partitions_wanted or p in self.partitions_wanted):
            got = self._call("query", functools.partial(
                self.client.query, name, filter=f"{pk} in [{listed}]", partition_names=[part], output_fields=[pk]))
            out.update((r[pk], part) for r in got)
        return out

    def native_search(self, name: str, column: str, vector: list[float], k: int) -> list[tuple[Any, float]] | None:
        t = self.table(name)
        v = next(x for x in t.vectors if x.column == column)
        pk, _ = self._pk[name]
        res = self._call("search", lambda: self.client.search(
            name, data=[vector], anns_field=column, limit=k, output_fields=[pk],
            partition_names=self._read_partitions()))
        # Milvus returns similarity for COSINE and IP, squared distance for L2.
        return [
            (hit["entity"][pk] if pk in hit.get("entity", {}) else hit["id"],
             math.sqrt(max(float(hit["distance"]), 0.0)) if v.distance == "Euclid" else float(hit["distance"]))
            for hit in res[0]
        ]

    def close(self) -> None:
        super().close()
        try:
            for name in self._loaded:  # leave the server as it was found
                self._call("release", functools.partial(self.client.release_collection, name))
        finally:
            self._loaded.clear()
            self.client.close()
