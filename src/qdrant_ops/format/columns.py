"""Points <-> Arrow record batches: the one columnar form of the backup format and the digests.

Columns:
- ``id_int`` uint64 / ``id_uuid`` string: exactly one is set, so int and UUID ids stay apart;
- ``vector`` (unnamed) and ``vector.<name>``: dense vectors as FixedSizeList<float32>, multi-vectors
  as List<List<float32>>; ``sparse.<name>``: Struct<indices: List<uint32>, values: List<float32>>;
  a point without that vector has a null;
- ``payload``: the payload as JSON text, exactly as it was (key order, ints vs floats, unicode).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from qdrant_ops.endpoints.base import PageColumns, Point, SparseValue, VectorField
from qdrant_ops.errors import CorruptBackupError

if TYPE_CHECKING:
    import pyarrow as pa
from qdrant_ops.format.payload import decode_payload_column, encode_payloads_raw
from qdrant_ops.format.vectors import _dense_array, _dense_rows, _float32_array, _validity


def arrow_schema(fields: Sequence[VectorField]) -> pa.Schema:
    import pyarrow as pa

    cols: list[pa.Field] = [pa.field("id_int", pa.uint64()), pa.field("id_uuid", pa.string())]
    for f in fields:
        if f.kind == "dense":
            cols.append(pa.field(f.column, pa.list_(pa.float32(), f.size)))
        elif f.kind == "multi":
            cols.append(pa.field(f.column, pa.list_(pa.list_(pa.float32()))))
        else:
            cols.append(
                pa.field(
                    f.column,
                    pa.struct(
                        [
                            pa.field("indices", pa.list_(pa.uint32())),
                            pa.field("values", pa.list_(pa.float32())),
                        ]
                    ),
                )
            )
    cols.append(pa.field("payload", pa.string()))
    return pa.schema(cols)


def text_array(texts: Sequence[bytes | None]) -> pa.Array:
    """A string column of UTF-8 texts (None: null), laid out from the bytes without decoding."""
    import pyarrow as pa

    n = len(texts)
    if n and None not in texts:
        data = b"".join(texts)  # type: ignore[arg-type]
        if len(data) < 2**31:
            offsets = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(np.fromiter(map(len, texts), dtype=np.int32, count=n), out=offsets[1:])  # type: ignore[arg-type]
            return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    return pa.array(texts, pa.string())


def encode_points(
    points: Sequence[Point],
    fields: Sequence[VectorField],
    *,
    payload_text: bool = True,
) -> pa.RecordBatch:
    """A record batch of ``points`` in the backup schema (see ``encode_columns``)."""
    return encode_columns(PageColumns.from_points(points), fields, payload_text=payload_text)


def _id_arrays(ids: Sequence[int | str]) -> tuple[pa.Array, pa.Array]:
    import pyarrow as pa

    if all(type(i) is int for i in ids):  # the common page: one conversion, no UUID column
        return pa.array(ids, pa.uint64()), pa.nulls(len(ids), pa.string())
    id_int: list[int | None] = []
    id_uuid: list[str | None] = []
    for pid in ids:
        if isinstance(pid, int):
            id_int.append(pid)
            id_uuid.append(None)
        else:
            id_int.append(None)
            id_uuid.append(str(pid))
    return pa.array(id_int, pa.uint64()), pa.array(id_uuid, pa.string())


def encode_columns(
    cols: PageColumns,
    fields: Sequence[VectorField],
    *,
    payload_text: bool = True,
    texts: pa.Array | None = None,
    dense: Mapping[str, np.ndarray] | None = None,
) -> pa.RecordBatch:
    """A record batch of a page's columns in the backup schema.

    ``payload_text=False`` leaves the payload column null (for a digest given the payload objects);
    ``texts``: the payload column already encoded (``text_array`` of ``encode_payloads_raw``);
    ``dense``: dense vector fields already converted, an ``(n, size)`` float32 matrix by name
    (``ScanPage.columns_with_matrix``), used in place of ``cols.vectors`` for those fields.
    """
    import pyarrow as pa

    schema = arrow_schema(fields)
    n = len(cols.ids)
    arrays: list[pa.Array] = list(_id_arrays(cols.ids))
    known = {f.name for f in fields}
    for name in cols.vectors:
        if name not in known:
            column = cols.vectors[name]
            row = next((i for i, v in enumerate(column) if v is not None), None)
            if row is not None:
                extra = sorted(k for k in cols.vectors if k not in known and cols.vectors[k][row] is not None)
                # Stores refuse unknown vector names and migrate checks points against the target
                # first: a bug if reached, so a ValueError (exit 70) rather than a user error.
                raise ValueError(f"point {cols.ids[row]} has vectors not in the collection config: {extra}")
    for f in fields:
        matrix = dense.get(f.name) if dense is not None else None
        if matrix is not None and f.kind == "dense":
            if matrix.shape != (n, f.size):
                raise ValueError(f"a {matrix.shape} matrix for {n} points of {f.size} dimensions")
            arrays.append(pa.FixedSizeListArray.from_arrays(_float32_array(matrix), f.size))
            continue
        vals = cols.vectors.get(f.name)
        if vals is None:
            vals = [None] * n
        if f.kind == "dense":
            arrays.append(_dense_array(vals, f.size))
        elif f.kind == "multi":
            arrays.append(
                pa.array(
                    [None if v is None else [list(map(float, row)) for row in v] for v in vals],
                    schema.field(f.column).type,
                )
            )
        else:
            arrays.append(
                pa.array(
                    [
                        None
                        if v is None
                        else {"indices": list(v.indices), "values": list(v.values)}
                        for v in vals
                    ],
                    schema.field(f.column).type,
                )
            )
    if texts is not None:
        arrays.append(texts)
    elif payload_text:
        arrays.append(text_array(encode_payloads_raw(cols.payloads)[0]))
    else:
        arrays.append(pa.nulls(n, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def check_schema(schema: pa.Schema, fields: Sequence[VectorField], file: str) -> None:
    expected = arrow_schema(fields)
    if not schema.equals(expected, check_metadata=False):
        raise CorruptBackupError(f"{file}: columns do not match the manifest's collection", file=file)


def batch_ids(batch: pa.RecordBatch) -> list[int | str]:
    ints = batch.column("id_int").to_pylist()
    uuids = batch.column("id_uuid").to_pylist()
    out: list[int | str] = []
    for i, u in zip(ints, uuids, strict=True):
        if i is not None:
            out.append(int(i))
        elif u is not None:
            out.append(str(u))
        else:
            raise CorruptBackupError("a row has neither an int nor a UUID id")
    return out


def decode_batch(batch: pa.RecordBatch, fields: Sequence[VectorField]) -> Iterator[Point]:
    """Points back from a record batch (vectors as float lists, payload parsed)."""
    ids = batch_ids(batch)
    cols: list[tuple[VectorField, list[Any]]] = []
    for f in fields:
        col = batch.column(f.column)
        if f.kind == "dense":
            cols.append((f, _dense_rows(col, f.size)))
        elif f.kind == "multi":
            cols.append((f, col.to_pylist()))
        else:
            cols.append(
                (
                    f,
                    [
                        None if v is None else SparseValue(list(v["indices"]), list(v["values"]))
                        for v in col.to_pylist()
                    ],
                )
            )
    payloads = decode_payload_column(batch.column("payload"))[0]
    for i, pid in enumerate(ids):
        vectors = {f.name: vals[i] for f, vals in cols if vals[i] is not None}
        yield Point(id=pid, vectors=vectors, payload=payloads[i])


def request_sizes(batch: pa.RecordBatch, fields: Sequence[VectorField]) -> list[int] | None:
    """``pipeline.writer.estimate_bytes`` of every row, read off the columns (payload text lengths,
    10 bytes per dense float); None where a field is sparse or multi (the writer then estimates)."""
    if any(f.kind != "dense" for f in fields):
        return None
    n = batch.num_rows
    col = batch.column("payload")
    if n == 0:
        return []
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)[col.offset : col.offset + n + 1]
    sizes = 40 + np.diff(offsets).astype(np.int64)
    for f in fields:
        sizes += 10 * f.size * _validity(batch.column(f.column))
    return [int(v) for v in sizes]


def normalize_id(pid: int | str) -> int | str:
    """Ids as Qdrant compares them: ints as ints, UUIDs in canonical hyphenated lower case."""
    if isinstance(pid, int):
        return pid
    try:
        return str(uuid.UUID(str(pid)))
    except ValueError:
        return str(pid)
