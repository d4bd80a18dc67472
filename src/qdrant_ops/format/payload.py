"""Payload JSON: exact, canonical encoding and checked decoding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    import pyarrow as pa
from qdrant_ops.format.vectors import _validity

# Built once: ``json.dumps`` with non-default arguments builds a new encoder on every call.
_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dump_payload(payload: dict[str, Any] | None) -> str | None:
    if payload is None:
        return None
    return _dump(payload)


# The digest's canonical payload bytes are defined by the stdlib (``json.dumps`` with sorted keys,
# ``ensure_ascii=False``, compact separators: see ``integrity``). orjson writes the same bytes,
# much faster, except for: floats below 1e-4 (Python writes ``1e-05``, orjson ``0.00001`` or
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
    returns each text in a buffer of at least 4 KiB, so a page of small payloads would hold
    many times its text's size until the page is written.

    Each payload is written, and checked for a NaN/Infinity hidden as ``null`` (parsed back and
    compared), in one go while its objects are still in the CPU's caches: a page from an engine
    is scattered through memory among its vectors' float objects, so a pass per step costs
    more. The small-float check is on the whole page's text; what it looks for sits inside one
    number token, so it gives the same answer for either key order."""
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


_load = json.JSONDecoder().decode
# orjson reads an int beyond 64 bits (19 digits and more: -2^63 - 1 has 19) as a float: such texts,
# and those orjson refuses (NaN, Infinity), are parsed by the stdlib. A run of 19 ASCII digits is
# found by mapping every digit to "0", "." to itself and anything else to " " and searching the
# bytes, which is faster than a regular expression over the text (JSON numbers are ASCII digits
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
    data buffer and joined into one JSON array: no Python string per row, and no
    ``pyarrow.compute``, whose import is slow in a fresh process."""
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
