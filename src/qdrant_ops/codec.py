"""Points <-> Arrow record batches: the one columnar form of the backup format and the digests.

Columns:
- ``id_int`` uint64 / ``id_uuid`` string: exactly one is set, so int and UUID ids stay apart;
- ``vector`` (unnamed) and ``vector.<name>``: dense vectors as FixedSizeList<float32>, multi-vectors
  as List<List<float32>>; ``sparse.<name>``: Struct<indices: List<uint32>, values: List<float32>>;
  a point without that vector has a null;
- ``payload``: the payload as JSON text, exactly as it was (key order, ints vs floats, unicode).
"""

from __future__ import annotations

import functools
import json
import operator
import struct
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from qdrant_ops.endpoints.base import PageColumns, Point, SparseValue, VectorField
from qdrant_ops.errors import CorruptBackupError

if TYPE_CHECKING:
    import pyarrow as pa


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


# Built once: ``json.dumps`` with non-default arguments builds a new encoder on every call.
_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dump_payload(payload: dict[str, Any] | None) -> str | None:
    if payload is None:
        return None
    return _dump(payload)


# The digest's canonical payload bytes are defined by the stdlib (``json.dumps`` with sorted keys,
# ``ensure_ascii=False``, compact separators: see ``integrity``). orjson writes the same bytes ten
# times faster except for: floats below 1e-4 (Python writes ``1e-05``, orjson ``0.00001`` or
# ``1e-7``), NaN/Infinity (orjson writes ``null``), ints beyond 64 bits and non-str keys (orjson
# raises). Those payloads, recognised from orjson's output alone (so deterministically), take the
# stdlib path for both the column text and the canonical bytes.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
_SORT = orjson.OPT_SORT_KEYS


def _writes_small_float(text: bytes) -> bool:
    """Whether orjson's ``text`` may hold a float the stdlib writes differently (below 1e-4)."""
    return b"e-" in text or b"0.0000" in text


def _stdlib_encoding(payload: Any) -> tuple[str, bytes]:
    return _dump(payload), b"p" + _CANONICAL(payload).encode("utf-8")


def encode_payload(payload: Any, *, finite: bool = False) -> tuple[str | None, bytes]:
    """``(column text, canonical bytes)`` of one payload; ``(None, b"n")`` for no payload.

    The text keeps the payload exactly (key order, ints vs floats, unicode); the canonical bytes
    are ``b"p" + `` the stdlib's sorted-key JSON, byte for byte. ``finite``: the payload was parsed
    by orjson, so holds no NaN/Infinity (spares the check).
    """
    if payload is None:
        return None, b"n"
    page = _orjson_page((payload,), finite, exact=True)  # a page of one
    if page is None:
        return _stdlib_encoding(payload)
    (text,), (canonical,) = page
    return (None if text is None else text.decode("utf-8")), canonical


def _orjson_page(
    payloads: Sequence[Any], finite: bool, *, exact: bool
) -> tuple[list[bytes | None], list[bytes]] | None:
    """orjson's texts of a page, ``(exact texts, b"p" + sorted texts)`` (``exact`` False: the
    first list is empty); None when any payload needs the stdlib (see ``encode_payloads_raw``).
    No payload (None) gives no text and the canonical bytes ``b"n"``.

    An exact text is kept as a copy of orjson's output, not the output itself: orjson (3.13)
    returns each text in a buffer of at least 4 KiB, so a 1,598-point page of the benchmark's
    200-byte payloads held 6.25 MiB in them. A 10k-point backup from ``:memory:`` peaked 12.9-13.0
    MiB above the engine with copies, 17.8-18.3 without (100k points: 22.5-23.0 against
    27.4-31.3), in the same time.

    Each payload is written, and checked for a NaN/Infinity hidden as ``null`` (parsed back and
    compared), in one go while its objects are still in the CPU's caches: a page from an engine
    is scattered through memory among its vectors' float objects. Measured inside a 10k-point
    backup from ``:memory:``, 10 runs each: a pass per step cost 4.8-7.6 µs a point (median
    5.7), one pass 4.4-6.0 (median 4.6). The small-float check is on the whole page's text;
    what it looks for sits inside one number token, so it gives the same answer for either key
    order."""
    dumps, loads = orjson.dumps, orjson.loads
    texts: list[bytes | None] = []
    canon: list[bytes] = []
    try:
        for p in payloads:
            if p is None:
                if exact:
                    texts.append(None)
                canon.append(b"n")
                continue
            sorted_text = dumps(p, option=_SORT)
            if exact:
                # memoryview(...).tobytes(): a right-sized copy (bytes(x) and x[:] return x itself)
                texts.append(memoryview(dumps(p)).tobytes())
            canon.append(b"p" + sorted_text)
            if not finite and b"null" in sorted_text and loads(sorted_text) != p:
                return None
    except TypeError:
        return None
    if _writes_small_float(b"\n".join(canon)):
        return None
    return texts, canon


def encode_payloads_raw(
    payloads: Sequence[Any], *, finite: bool = False
) -> tuple[list[bytes | None], list[bytes]]:
    """``encode_payload`` of each, the texts as UTF-8 bytes: the same bytes, a page at a time.

    A page where any payload needs the stdlib path (a small float, an int orjson refuses, a
    NaN/Infinity hidden as ``null``: see ``encode_payload``) is encoded payload by payload; the
    checks are the ones ``encode_payload`` makes, so a page passes only if each payload would.
    """
    page = _orjson_page(payloads, finite, exact=True)
    if page is None:
        texts: list[bytes | None] = []
        canon: list[bytes] = []
        for p in payloads:
            t, c = encode_payload(p, finite=finite)
            texts.append(None if t is None else t.encode("utf-8"))
            canon.append(c)
        return texts, canon
    return page


def canonical_payloads(payloads: Sequence[Any], *, finite: bool = False) -> list[bytes]:
    """``encode_payloads_raw(payloads, finite=finite)[1]`` without writing the column texts: what
    a digest needs (``verify``, ``validate``), one orjson call per payload instead of two."""
    page = _orjson_page(payloads, finite, exact=False)
    if page is None:
        return [encode_payload(p, finite=finite)[1] for p in payloads]
    return page[1]


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


def _dense_array(values: list[Any], size: int) -> pa.Array:
    import pyarrow as pa

    n = len(values)
    if n and all(v is not None for v in values):
        whole = _float_matrix(values, size)  # the common case, one conversion for the whole batch
        if whole is not None:
            return pa.FixedSizeListArray.from_arrays(_float32_array(whole), size)
    flat = np.zeros((n, size), dtype=np.float32)
    mask = np.zeros(n, dtype=bool)
    for i, v in enumerate(values):
        if v is None:
            mask[i] = True
            continue
        arr = np.asarray(v, dtype=np.float32)
        if arr.shape != (size,):
            raise ValueError(f"vector of size {arr.size} where {size} was expected")
        flat[i] = arr
    child = _float32_array(flat)
    return pa.FixedSizeListArray.from_arrays(child, size, mask=pa.array(mask) if mask.any() else None)


@functools.lru_cache(maxsize=64)
def _row_struct(size: int) -> struct.Struct:
    return struct.Struct(f"<{size}d")


def _float_matrix(values: Sequence[Any], size: int) -> np.ndarray | None:
    """The ``(n, size)`` float32 matrix of ``n`` rows, or None when they are not all ``size``
    numbers.

    Rows of Python floats (what clients hand over) are packed as doubles by ``struct``, then cast
    to float32 in one numpy call: the same values, bit for bit, as ``np.asarray(values,
    dtype=float32)``, at about half its cost (measured: 13.7 against 24.2 µs a row of 1,536
    floats, 1.0 against 2.1 µs a row of 128; numpy converts nested lists element by element).
    Anything else, or a row ``struct`` refuses, goes through ``np.asarray``.
    """
    n = len(values)
    if type(values[0]) is list:
        packed = _packed_matrix(values, n, size)
        if packed is not None:
            return packed
    try:
        whole = np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError):
        return None
    return whole if whole.shape == (n, size) else None


def float_matrix_from_records(records: Sequence[Any], size: int) -> np.ndarray | None:
    """The ``(n, size)`` float32 matrix of the records' unnamed dense vectors, each ``r.vector``
    packed as it is made and never kept; None when any record's vector is not ``size`` numbers
    (named, sparse, missing, another size): the caller reads the page the general way.

    Qdrant Edge makes a new list of Python floats at each ``r.vector``. Keeping a page of those
    lists and packing them afterwards took 4.2-5.0 µs a 128-d point (18 at 384 dims), packing each
    as it comes 2.4 (8.0), lists included; ``np.fromiter`` over them, 3.3-3.5 (10.4). The rows are
    packed as ``_float_matrix`` packs them: the same float32 values, bit for bit.
    """
    n = len(records)
    return _packed_matrix(map(_vector_of, records), n, size) if n else None


_vector_of = operator.attrgetter("vector")


def _packed_matrix(rows: Iterable[Any], n: int, size: int) -> np.ndarray | None:
    """``n`` rows of ``size`` numbers packed as doubles by ``struct`` and cast to float32 in one
    numpy call; None when ``struct`` refuses a row (another length, not numbers).

    Each row is packed in place into one float64 buffer (``pack_into``): 1.1 against 1.4-1.9 µs a
    128-d row packed into a bytes object of its own and joined.
    """
    buf = bytearray(8 * n * size)
    pack_into = _row_struct(size).pack_into
    stride = 8 * size
    try:
        done = len([pack_into(buf, at, *v) for at, v in zip(range(0, n * stride, stride), rows)])
    except (struct.error, TypeError):
        return None
    if done != n:
        return None
    return np.frombuffer(buf, dtype="<f8").astype(np.float32).reshape(n, size)


def _float32_array(matrix: np.ndarray) -> pa.Array:
    """A float32 Arrow array over a C-contiguous float32 numpy array's memory, without a copy (and
    without ``pa.array``'s masked-array check, which imports ``numpy.ma`` on first use)."""
    import pyarrow as pa

    flat = np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1)
    return pa.Array.from_buffers(pa.float32(), len(flat), [None, pa.py_buffer(flat)])


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


_load = json.JSONDecoder().decode
# orjson reads an int beyond 64 bits (19 digits and more: -2^63 - 1 has 19) as a float: such texts,
# and those orjson refuses (NaN, Infinity), are parsed by the stdlib. A run of 19 ASCII digits is
# found by mapping every digit to "0", "." to itself and anything else to " " and searching the
# bytes: seven times faster than a regular expression over the text (JSON numbers are ASCII digits
# only). A run after a "." is the fraction of a float, which both parsers read alike (a score of
# 0.0006460202213842692 has 19 digits there); any other run counts.
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x2E if b == 0x2E else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19
_LONG_INT = b" " + _LONG_RUN


def has_long_digit_run(text: str | bytes) -> bool:
    """Whether ``text`` holds 19 or more ASCII digits in a row that are not a fraction's."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    mapped = raw.translate(_DIGIT_MAP)
    return _LONG_INT in mapped or mapped.startswith(_LONG_RUN)


def _load_array(text: str | bytes) -> tuple[Any, bool]:
    """The parsed array, and whether orjson parsed it (then it holds no NaN/Infinity)."""
    if not has_long_digit_run(text):
        try:
            return orjson.loads(text), True
        except orjson.JSONDecodeError:
            pass
    return (json.loads(text) if isinstance(text, bytes) else _load(text)), False


def decode_payloads_checked(texts: Sequence[str | None]) -> tuple[list[Any], bool]:
    """Each payload text parsed (None stays None), all in one ``loads`` of a JSON array, and
    whether all was parsed by orjson (so no NaN/Infinity: see ``encode_payload(finite=...)``).

    One call shares the key strings among the batch's payloads (the decoder memoises keys within
    a call): parsed one by one, every payload held its own copy of every key, which is what made
    a restored store's memory grow faster than the engine's own. A text that is not a single
    JSON value (so the joined array would not parse) is parsed alone, raising as before.
    """
    if not texts:
        return [], True
    try:
        out, finite = _load_array("[" + ",".join("null" if t is None else t for t in texts) + "]")
    except ValueError:
        out, finite = None, False
    if not isinstance(out, list) or len(out) != len(texts):
        return [None if t is None else json.loads(t) for t in texts], False
    return out, finite


def decode_payload_column(col: pa.Array) -> tuple[list[Any], bool]:
    """``decode_payloads_checked`` of a string column, its rows sliced as bytes from the column's
    data buffer and joined into one JSON array: no Python string per row (1.4 against 1.7 µs a
    point), and no ``pyarrow.compute`` (whose import costs about 30 ms in a fresh process)."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    if n == 0:
        return [], True
    if col.type != pa.string():
        return decode_payloads_checked(col.to_pylist())
    _, offsets_buf, data_buf = col.buffers()
    ends = np.frombuffer(offsets_buf, dtype=np.int32)[col.offset : col.offset + n + 1].tolist()
    lo = ends[0]
    # Only this array's bytes are copied (a slice's parent may hold many more rows).
    data = data_buf.slice(lo, ends[-1] - lo).to_pybytes() if data_buf is not None else b""
    if lo:
        ends = [e - lo for e in ends]
    if col.null_count:
        rows = [
            data[a:b] if ok else b"null"
            for a, b, ok in zip(ends[:-1], ends[1:], _validity(col).tolist(), strict=True)
        ]
    else:
        rows = [data[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)]
    try:
        out, finite = _load_array(b"[" + b",".join(rows) + b"]")
    except ValueError:
        out, finite = None, False
    if not isinstance(out, list) or len(out) != n:
        return decode_payloads_checked(col.to_pylist())
    return out, finite


def dense_matrix(col: Any, size: int) -> tuple[Any, Any]:
    """``(rows, valid)``: an (n, size) float32 view of a FixedSizeList column and its validity."""
    n = len(col)
    start = col.offset * size
    flat = col.values.to_numpy(zero_copy_only=False)[start : start + n * size]
    rows = flat.reshape(n, size) if n else np.zeros((0, size), dtype=np.float32)
    valid = _validity(col)
    return rows, valid


def _validity(col: Any) -> Any:
    """A bool array, True where the row is not null (read from the validity bitmap: ``is_valid``
    would import pyarrow.compute, a tenth of a second on a first call)."""
    n = len(col)
    bitmap = col.buffers()[0] if col.null_count else None
    if bitmap is None:
        return np.ones(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[col.offset : col.offset + n].astype(bool)


def _dense_rows(col: Any, size: int) -> list[Any]:
    rows, valid = dense_matrix(col, size)
    return [rows[i] if ok else None for i, ok in enumerate(valid)]


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
