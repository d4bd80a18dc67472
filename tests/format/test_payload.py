"""The orjson fast path of payload encoding gives the stdlib definition's bytes, and keeps payloads exact."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qdrant_ops.format.columns import text_array
from qdrant_ops.format.payload import (
    canonical_payloads,
    decode_payload_column,
    decode_payloads_checked,
    encode_payload,
    encode_payloads_raw,
)

_REF = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def _ref_canonical(payload: Any) -> bytes:
    return b"n" if payload is None else b"p" + _REF(payload).encode("utf-8")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


EDGE_FLOATS = [
    1e-4, 9.999999999999999e-05, 1e-5, 1.5e-7, 5e-324, 1e16, 9999999999999998.0, 1e22, 1.7976931348623157e308,
    0.1, -0.0, 0.0, 123456.789, 10.00001, float("nan"), float("inf"), float("-inf"),
]
EDGE_INTS = [0, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30)]


@pytest.mark.parametrize("value", EDGE_FLOATS + EDGE_INTS + ["\x00\x1f\x7f\u2028\"\\/", "über 検索 \U0001f600"])
def test_edge_values(value: Any) -> None:
    payload = {"z": value, "a": [value, {"k": value}], "\U0001f600": None, "\uffff": 1}
    text, canonical = encode_payload(payload)
    assert canonical == _ref_canonical(payload)
    assert text is not None
    back = decode_payloads_checked([text])[0][0]
    assert _same(back, payload)
    assert encode_payload(back)[1] == canonical


def test_none_and_non_str_keys() -> None:
    assert encode_payload(None) == (None, b"n")
    payload = {2: "a", 1: (1, 2)}
    assert encode_payload(payload)[1] == _ref_canonical(payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_matches_stdlib_definition(payload: dict[str, Any]) -> None:
    text, canonical = encode_payload(payload)
    assert canonical == _ref_canonical(payload)
    assert text is not None
    back = decode_payloads_checked([text, None, text])[0]
    assert _same(back[0], payload) and back[1] is None and _same(back[2], payload)
    assert encode_payload(back[0])[1] == canonical


pages = st.lists(
    st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=5),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(pages, st.booleans())
def test_page_encoding_is_payload_by_payload(page: list[Any], finite: bool) -> None:
    """A page encoded at once gives, payload for payload, what ``encode_payload`` gives alone."""
    if finite:  # a finite source holds no NaN/Infinity (orjson-parsed JSON): keep to that
        page = [p if p is None else decode_payloads_checked([encode_payload(p)[0]])[0][0] for p in page]
    one_by_one = [encode_payload(p, finite=finite) for p in page]
    raw, canon = encode_payloads_raw(page, finite=finite)
    assert canon == [c for _, c in one_by_one]
    assert canonical_payloads(page, finite=finite) == canon
    assert raw == [None if t is None else t.encode("utf-8") for t, _ in one_by_one]
    column = text_array(raw)
    assert column.type == pa.string()
    assert column.to_pylist() == [t for t, _ in one_by_one]


@pytest.mark.parametrize(
    "odd",
    [float("nan"), float("inf"), 1e-7, 2**64, {1: "non-str key"}],
    ids=["nan", "inf", "small-float", "beyond-u64", "int-key"],
)
def test_one_odd_payload_sends_its_page_down_the_exact_path(odd: Any) -> None:
    page: list[Any] = [{"a": 1, "n": None}, None, {"odd": odd, "n": None}, {"b": "x"}]
    raw, canon = encode_payloads_raw(page)
    assert canon == [_ref_canonical(p) for p in page]
    assert canonical_payloads(page) == canon
    assert raw[1] is None
    assert all(t is not None for i, t in enumerate(raw) if i != 1)


def test_text_array_is_zero_copy_of_the_joined_bytes() -> None:
    texts = [b'{"a":1}', "{\"\u00fc\":\"\u691c\u7d22\"}".encode(), b"{}"]
    col = text_array(texts)
    assert col.to_pylist() == [t.decode() for t in texts]
    assert col.buffers()[2].to_pybytes() == b"".join(texts)
    assert text_array([]).to_pylist() == []
    assert text_array([b"{}", None]).to_pylist() == ["{}", None]


@settings(max_examples=200, deadline=None)
@given(pages, st.integers(min_value=0, max_value=3))
def test_column_decoding_is_text_decoding(page: list[Any], cut: int) -> None:
    """A payload column parsed from its Arrow bytes gives what its texts parsed one list gives."""
    texts = [None if p is None else encode_payload(p)[0] for p in page]
    column = pa.array(texts, pa.string())
    for col in (column, column.slice(min(cut, len(texts))), pa.chunked_array([column])):
        expected = decode_payloads_checked(col.to_pylist())
        got = decode_payload_column(col)
        assert got[1] == expected[1]
        assert all(_same(a, b) for a, b in zip(got[0], expected[0], strict=True))


def test_column_decoding_takes_the_exact_path_where_it_must() -> None:
    big = 2**70
    texts = ['{"a":1}', None, f'{{"big":{big}}}', '{"x":0.0006460202213842692}', '{"n":NaN}']
    out, finite = decode_payload_column(pa.array(texts, pa.string()))
    assert out[1] is None and out[2] == {"big": big} and isinstance(out[2]["big"], int)
    assert out[3] == {"x": 0.0006460202213842692} and out[4]["n"] != out[4]["n"]
    assert finite is False
    assert decode_payload_column(pa.array(['{"a":1}', '{"x":0.0006460202213842692}']))[1] is True


def test_a_column_text_that_is_not_one_value_raises_as_before() -> None:
    with pytest.raises(ValueError):
        decode_payload_column(pa.array(['{"a":1}', '{"b":2},{"c":3}'], pa.string()))


@pytest.mark.parametrize("start,length", [(0, 10), (5, 7), (997, 3), (999, 1), (3, 0)])
def test_column_decoding_of_a_slice_reads_only_its_rows(
    start: int, length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qdrant_ops.format.payload as codec

    def no_fallback(texts: Any) -> Any:
        raise AssertionError("the column path fell back to parsing Python strings")

    monkeypatch.setattr(codec, "decode_payloads_checked", no_fallback)
    parent = pa.array([f'{{"i":{i}}}' if i % 3 else None for i in range(1000)], pa.string())
    out, _ = decode_payload_column(parent.slice(start, length))
    assert out == [None if i % 3 == 0 else {"i": i} for i in range(start, start + length)]


def test_page_texts_are_held_in_their_own_size() -> None:
    """A page's exact texts are right-sized copies: orjson hands each back in a buffer of at
    least 4 KiB (a page of these 200 weighed 824 KiB in them), many times its text."""
    import tracemalloc

    page = [{"doc_id": i, "title": f"Document {i} \u2014 \u00fcber", "ok": i % 2 == 0} for i in range(200)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        raw, canon = encode_payloads_raw(page)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    text_bytes = sum(len(t) for t in raw if t is not None) + sum(map(len, canon))
    assert held < 2 * text_bytes + 100 * 2 * len(page)  # object headers and list slots, no 4 KiB each
