"""Dense vectors as float32 matrices and Arrow arrays, both ways."""

from __future__ import annotations

import functools
import operator
import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


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
            # Not user input: stores refuse such a point and migrate checks points against the
            # target before writing, so reaching this is a bug (exit 70).
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
    dtype=float32)``, at less cost: numpy converts nested lists element by element.
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

    Qdrant Edge makes a new list of Python floats at each ``r.vector``; packing each as it comes
    costs less than keeping a page of those lists and packing them afterwards, or ``np.fromiter``
    over them. The rows are packed as ``_float_matrix`` packs them: the same float32 values, bit
    for bit.
    """
    n = len(records)
    return _packed_matrix(map(_vector_of, records), n, size) if n else None


_vector_of = operator.attrgetter("vector")


def _packed_matrix(rows: Iterable[Any], n: int, size: int) -> np.ndarray | None:
    """``n`` rows of ``size`` numbers packed as doubles by ``struct`` and cast to float32 in one
    numpy call; None when ``struct`` refuses a row (another length, not numbers).

    Each row is packed in place into one float64 buffer (``pack_into``), which saves a bytes
    object per row and the join.
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
