"""PostgreSQL with pgvector as a read-only source: ``postgresql://user@host/db?table=T&vector=COL&id=COL``.

Each table with a ``vector``, ``halfvec`` or ``sparsevec`` column is one collection (``table=``
names one; several comma-separated). ``vector=`` picks the vector columns (default: all of them);
one dense column becomes the unnamed vector, several become named vectors, and a ``sparsevec``
column a sparse vector of its name. ``vector`` is float32, ``halfvec`` float16. The distance is
that of the column's pgvector index (``vector_cosine_ops`` -> Cosine, ``vector_ip_ops`` -> Dot,
``vector_l2_ops`` -> Euclid, ``vector_l1_ops`` -> Manhattan), else ``?distance=`` (one metric for
every column, or ``COL:metric,...``), else the table is refused: a guessed metric would migrate
silently wrong scores. A ``distance=`` that contradicts a column's index is refused too.

Ids come from ``id=`` (default: the single-column primary key, else ``id``), and pages are a
keyset on it (``WHERE id > last ORDER BY id``): a rerun resumes exactly where it stopped, even
while rows are added. Every other column goes into the payload: JSON/JSONB as is, numbers, text
and booleans as they are, numerics as int or float, dates and times as ISO 8601 text, UUIDs as
text, bytea as hex. The session is read-only (``default_transaction_read_only``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from qdrant_ops.endpoints.base import Offset, SparseValue
from qdrant_ops.endpoints.sources.base import (
    DEFAULT_ID_KEY,
    SourceEndpoint,
    SourceRow,
    SourceTable,
    SourceVector,
    parse_distance,
)
from qdrant_ops.endpoints.sources.extras import require
from qdrant_ops.endpoints.uri import redact_url
from qdrant_ops.errors import EndpointError, UnsupportedError, UsageError

OUR_OPTIONS = {"table", "vector", "id", "id_key", "distance"}
OPCLASSES = {"cosine": "Cosine", "ip": "Dot", "l2": "Euclid", "l1": "Manhattan"}
OPERATORS = {"Cosine": "<=>", "Dot": "<#>", "Euclid": "<->", "Manhattan": "<+>"}
_DATATYPES = {"vector": "float32", "halfvec": "float16"}
_ID_TYPES = {"smallint", "integer", "bigint", "text", "character varying", "uuid"}
# Column types psycopg and pgvector load from the binary format as they load them from text.
_BINARY_TYPES = frozenset({
    "vector", "halfvec", "sparsevec", "smallint", "integer", "bigint", "real", "double precision", "numeric",
    "text", "character varying", "character", "boolean", "json", "jsonb", "uuid", "bytea", "date",
    "timestamp without time zone", "timestamp with time zone", "time without time zone", "time with time zone",
})


def split_options(uri: str) -> tuple[str, dict[str, str]]:
    """The connection URI without our options, and our options."""
    parts = urlsplit(uri)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    ours: dict[str, str] = {}
    for k, v in pairs:
        if k in OUR_OPTIONS:
            # ``vector=a&vector=b`` is ``vector=a,b`` (so for table=); a repeated single value is refused
            if k in ours and k not in ("vector", "table"):
                raise UsageError(f"{redact_url(uri)}: {k}= given twice")
            ours[k] = f"{ours[k]},{v}" if k in ours else v
    rest = [(k, v) for k, v in pairs if k not in OUR_OPTIONS]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), "")), ours


class PgvectorSource(SourceEndpoint):
    engine = "pgvector"

    def __init__(self, uri: str) -> None:
        psycopg = require("psycopg", "pgvector")
        require("pgvector.psycopg", "pgvector")
        conninfo, o = split_options(uri)
        display = redact_url(uri)
        if o.get("table"):
            display += f"?table={o['table']}"
        super().__init__(display, id_key=o.get("id_key", DEFAULT_ID_KEY))
        self._id_cols: dict[str, str] = {}
        self._id_types: dict[str, str] = {}
        self.tables_wanted = [t for t in (o.get("table") or "").split(",") if t]
        self.vector_wanted = [c for c in (o.get("vector") or "").split(",") if c]
        self.id_wanted = o.get("id") or None
        self.distance, self.col_distance = _parse_distances(o.get("distance"), display)
        try:
            self.conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise EndpointError(f"cannot reach {display}: {str(exc).strip().splitlines()[0]}") from None
        self.conn.execute("SET default_transaction_read_only = on")
        from pgvector.psycopg import register_vector

        try:
            register_vector(self.conn)
        except psycopg.ProgrammingError:
            raise UsageError(f"{display}: the pgvector extension is not installed in this database") from None
        self.version = str(self.conn.execute("SHOW server_version").fetchone()[0])

    def _columns_of(self, table: str) -> list[tuple[str, str, int]]:
        return [
            (str(n), str(t), int(m))
            for n, t, m in self.conn.execute(
                "SELECT attname, format_type(atttypid, NULL), atttypmod FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (table,),
            ).fetchall()
        ]

    def list_collections(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname = ANY(current_schemas(false)) "
            "AND format_type(a.atttypid, NULL) IN ('vector', 'halfvec', 'sparsevec') AND NOT a.attisdropped"
        ).fetchall()
        found = sorted(str(r[0]) for r in rows)
        return [t for t in self.tables_wanted if t in found] if self.tables_wanted else found

    def _id_column(self, name: str, cols: dict[str, str]) -> str:
        if self.id_wanted:
            if self.id_wanted not in cols:
                raise UsageError(f"{self.display} {name}: no column {self.id_wanted!r} (id=)")
            col = self.id_wanted
        else:
            pk = self.conn.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary",
                (name,),
            ).fetchall()
            col = str(pk[0][0]) if len(pk) == 1 else "id"
            if col not in cols:
                raise UsageError(f"{self.display} {name}: no primary key or 'id' column: name the id column with id=COL")
        if cols[col] not in _ID_TYPES:
            raise UnsupportedError(f"{self.display} {name}: id column {col!r} is {cols[col]}; ids are ints, text or UUIDs")
        return col

    def _index_metrics(self, name: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for (ddl,) in self.conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", (name,)).fetchall():
            text = str(ddl)
            for key, distance in OPCLASSES.items():
                for kind in ("vector", "halfvec", "sparsevec"):
                    marker = f"{kind}_{key}_ops"
                    if marker in text:
                        col = text[: text.index(marker)].rsplit("(", 1)[-1].strip().strip('"')
                        out[col] = distance
        return out

    def describe(self, name: str) -> SourceTable:
        cols = self._columns_of(name)
        types = {n: t for n, t, _ in cols}
        vcols = [(n, t, m) for n, t, m in cols if t in ("vector", "halfvec", "sparsevec")]
        if self.vector_wanted:
            missing = [c for c in self.vector_wanted if c not in {n for n, _, _ in vcols}]
            if missing:
                raise UsageError(f"{self.display} {name}: no vector column(s) {', '.join(missing)}")
            vcols = [v for v in vcols if v[0] in self.vector_wanted]
        unknown = sorted(set(self.col_distance) - {c for c, t, _ in vcols if t != "sparsevec"})
        if unknown:
            raise UsageError(f"{self.display} {name}: distance= names no dense vector column {', '.join(unknown)}")
        id_col = self._id_column(name, types)
        metrics = self._index_metrics(name)
        dense = [v for v in vcols if v[1] != "sparsevec"]
        vectors, rules = [], []
        for col, typ, mod in vcols:
            if typ == "sparsevec":
                vectors.append(SourceVector(col, col, 0, "Dot", kind="sparse"))
                continue
            if mod <= 0:
                raise UnsupportedError(f"{self.display} {name}: column {col!r} has no fixed dimension ({typ} without (n))")
            distance, why = self._distance_of(name, col, metrics.get(col))
            vectors.append(SourceVector(col, "" if len(dense) == 1 else col, mod, distance, _DATATYPES[typ]))
            rules.append(f"column {col!r} ({typ}): distance {distance} ({why})")
        if not vectors:
            raise UnsupportedError(f"{self.display} {name}: no vector column")
        rules.append(f"ids from column {id_col!r} ({types[id_col]})")
        rules.append("other columns -> payload keys (json/jsonb as is; numeric as int/float; dates as ISO text)")
        count = int(self.conn.execute(f"SELECT count(*) FROM {_q(name)}").fetchone()[0])
        self._id_cols[name] = id_col
        self._id_types[name] = types[id_col]
        return SourceTable(
            name=name, count=count, vectors=vectors,
            order=f"keyset on {id_col} (WHERE {id_col} > last ORDER BY {id_col}): stable", resumable=True, rules=rules,
        )

    def _distance_of(self, name: str, col: str, indexed: str | None) -> tuple[str, str]:
        """A column's distance and why: its index, else ``distance=``, else a refusal."""
        given = self.col_distance.get(col) or self.distance
        if indexed:
            if given and given != indexed:
                raise UsageError(
                    f"{self.display} {name}: column {col!r} has a {indexed} index but distance= says {given}; "
                    "drop distance= or name the unindexed columns (distance=COL:metric)"
                )
            return indexed, "its index's operator class"
        if given:
            return given, "distance="
        raise UsageError(
            f"{self.display} {name}: column {col!r} has no pgvector index to take its distance from: "
            "give one with ?distance=cosine|ip|l2|l1 (or distance=COL:metric)"
        )

    sliceable = True
    in_process = False

    def page(self, name: str, offset: Offset, limit: int, with_vectors: bool) -> tuple[list[SourceRow], Offset]:
        return self._keyset_page(name, offset, limit, with_vectors, None)

    def slice_page(
        self, name: str, slice_: tuple[int, int], offset: Offset, limit: int, with_vectors: bool
    ) -> tuple[list[SourceRow], Offset]:
        """Slice ``i`` of ``n``: the rows whose id falls in part ``i`` (integer ids by their
        remainder, text and UUID ids by ``hashtext``), read by the same keyset on the id. A row's
        part depends on its id alone, so the slices are disjoint, cover every row, and each
        resumes at its own last id even while rows are added."""
        index, total = slice_
        id_col = _q(self._id_cols[name])
        if self._id_types.get(name) in ("smallint", "integer", "bigint"):
            part = f"abs(mod({id_col}, {int(total)}))"
        else:
            part = f"mod(hashtext({id_col}::text) & 2147483647, {int(total)})"
        return self._keyset_page(name, offset, limit, with_vectors, f"{part} = {int(index)}")

    def _keyset_page(
        self, name: str, offset: Offset, limit: int, with_vectors: bool, condition: str | None
    ) -> tuple[list[SourceRow], Offset]:
        t = self.table(name)
        id_col = self._id_cols[name]
        vcols = {v.column for v in t.vectors}
        # vector columns left out by vector= are not payload either
        types = {n: typ for n, typ, _ in self._columns_of(name)}
        cols = [n for n, typ in types.items()
                if (with_vectors and n in vcols) or typ not in ("vector", "halfvec", "sparsevec")]
        select = ", ".join(_q(c) for c in cols)
        conds = [] if offset is None else [f"{_q(id_col)} > %s"]
        if condition:
            conds.append(condition)
        args = () if offset is None else (offset,)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        sql = f"SELECT {select} FROM {_q(name)}{where} ORDER BY {_q(id_col)} LIMIT {int(limit)}"
        out = []
        last: Any = None
        # Vectors parse far faster in binary than as text; binary is asked for only where psycopg
        # has a binary loader for every column (an enum or a domain would come back as raw bytes).
        binary = all(types[c].removesuffix("[]") in _BINARY_TYPES for c in cols)
        for rec in self.conn.execute(sql, args, binary=binary).fetchall():
            row = dict(zip(cols, rec, strict=True))
            rid = row.pop(id_col)
            last = rid
            vectors = {c: _vector(row.pop(c)) for c in vcols if c in row}
            out.append(SourceRow(_plain_id(rid), {c: v for c, v in vectors.items() if v is not None},
                                 {k: _json_value(v) for k, v in row.items()}))
        more = len(out) == limit
        return out, (_plain_id(last) if more else None)

    def native_search(self, name: str, column: str, vector: list[float], k: int) -> list[tuple[Any, float]] | None:
        t = self.table(name)
        v = next(x for x in t.vectors if x.column == column)
        op = OPERATORS[v.distance]
        id_col = self._id_cols[name]
        typ = "halfvec" if v.datatype == "float16" else "vector"
        literal = "[" + ",".join(repr(float(x)) for x in vector) + "]"
        rows = self.conn.execute(
            f"SELECT {_q(id_col)}, {_q(column)} {op} %s::{typ} AS d FROM {_q(name)} "
            f"WHERE {_q(column)} IS NOT NULL ORDER BY d LIMIT {int(k)}",
            (literal,),
        ).fetchall()
        # pgvector orders by distance; Qdrant scores: 1 - d for cosine, -d for <#> (the negated
        # inner product), the distance itself for l2 and l1.
        return [(_plain_id(i), _score(v.distance, float(d))) for i, d in rows]

    def close(self) -> None:
        super().close()
        self.conn.close()


def _parse_distances(value: str | None, where: str) -> tuple[str | None, dict[str, str]]:
    """``distance=cosine`` (every column) or ``distance=a:cosine,b:l2`` (per column)."""
    plain: str | None = None
    per: dict[str, str] = {}
    for part in (value or "").split(","):
        col, sep, metric = part.strip().rpartition(":")
        if not metric:
            continue
        parsed = parse_distance(metric, OPCLASSES, where)
        if sep and col:
            per[col] = parsed or ""
        elif plain is not None and plain != parsed:
            raise UsageError(f"{where}: distance= gives two metrics for every column: name the columns (COL:metric)")
        else:
            plain = parsed
    return plain, per


def _score(distance: str, d: float) -> float:
    return 1.0 - d if distance == "Cosine" else -d if distance == "Dot" else d


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _plain_id(v: Any) -> Any:
    return str(v) if isinstance(v, uuid.UUID) else v


def _vector(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "indices") and callable(v.indices):  # pgvector's SparseVector
        return SparseValue([int(i) for i in v.indices()], [float(x) for x in v.values()])
    if hasattr(v, "to_list"):  # pgvector's HalfVector
        return v.to_list()
    return v if hasattr(v, "tolist") else list(v)  # a numpy array is listed once, with the page


def _json_value(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        if v == v.to_integral_value() and v.is_finite():
            return int(v)
        f = float(v)
        return f if math.isfinite(f) else str(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (bytes, memoryview)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    return v
