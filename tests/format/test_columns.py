"""Pages as columns: built straight from client records, equal to the per-point path."""

from __future__ import annotations

import threading
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from datagen import make_collection
from qdrant_ops.endpoints.base import PageColumns, Point, ScanPage, SparseValue, VectorField, columns_from_records
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.format.columns import encode_columns, encode_points
from qdrant_ops.format.integrity import digest_batch, digest_columns, scan_digest
from qdrant_ops.format.payload import has_long_digit_run
from qdrant_ops.pipeline.prefetch import scan_ahead
from qdrant_ops.pipeline.scope import slice_count


def rec(pid: Any, vector: Any, payload: Any) -> SimpleNamespace:
    return SimpleNamespace(id=pid, vector=vector, payload=payload)


def test_unnamed_dense_page_is_three_columns() -> None:
    recs = [rec(i, [float(i), 1.0], {"i": i}) for i in range(3)]
    cols = columns_from_records(recs)
    assert cols.ids == [0, 1, 2]
    assert list(cols.vectors) == [""]
    assert cols.vectors[""][2] == [2.0, 1.0]
    assert cols.payloads == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert [p.vectors for p in cols.to_points()] == [{"": [float(i), 1.0]} for i in range(3)]


def test_named_sparse_and_missing_vectors() -> None:
    sparse = SimpleNamespace(indices=[1, 5], values=[0.5, 0.25])
    recs = [
        rec(1, {"text": [1.0, 2.0], "kw": sparse}, {"a": 1}),
        rec("6f1c6c2e-6f8a-4c53-9a53-0b3c4d5e6f70", {"text": [3.0, 4.0]}, None),
        rec(3, None, {"b": None}),
    ]
    cols = columns_from_records(recs)
    assert cols.vectors["kw"] == [SparseValue([1, 5], [0.5, 0.25]), None, None]
    assert cols.vectors["text"] == [[1.0, 2.0], [3.0, 4.0], None]
    assert cols.to_points() == [
        Point(1, {"text": [1.0, 2.0], "kw": SparseValue([1, 5], [0.5, 0.25])}, {"a": 1}),
        Point("6f1c6c2e-6f8a-4c53-9a53-0b3c4d5e6f70", {"text": [3.0, 4.0]}, None),
        Point(3, {}, {"b": None}),
    ]


def test_ids_that_are_not_ints_are_mapped() -> None:
    u = uuid.UUID("6f1c6c2e-6f8a-4c53-9a53-0b3c4d5e6f70")
    cols = columns_from_records([rec(7, [1.0], None), rec(u, [2.0], None)], id_out=str)
    assert cols.ids == [7, str(u)]


def test_scan_page_builds_the_other_form_once() -> None:
    pts = [Point(1, {"": [1.0, 0.0]}, {"x": 1}), Point(2, {"": [0.0, 1.0]}, None)]
    page = ScanPage(pts, 5)
    assert page.columns.ids == [1, 2] and len(page) == 2
    assert page.columns is page.columns
    page2 = ScanPage(columns=PageColumns.from_points(pts), next_offset=None)
    assert page2.points == pts and page2.points is page2.points
    assert len(ScanPage()) == 0 and ScanPage().points == []


FIELDS = [VectorField("", "dense", 2, "Cosine")]


def test_encode_columns_equals_encode_points() -> None:
    pts = [Point(i, {"": [float(i), 0.5]}, {"k": [i, "é"]}) for i in range(5)]
    pts.append(Point("6f1c6c2e-6f8a-4c53-9a53-0b3c4d5e6f70", {"": [1.0, 1.0]}, None))
    a = encode_points(pts, FIELDS)
    b = encode_columns(PageColumns.from_points(pts), FIELDS)
    assert a.equals(b)
    assert digest_batch(a, FIELDS) == digest_columns(PageColumns.from_points(pts), FIELDS)


def test_unknown_vector_names_are_refused_with_the_point() -> None:
    cols = PageColumns([1, 2], {"": [[1.0, 0.0], [0.0, 1.0]], "extra": [None, [1.0]]}, [None, None])
    with pytest.raises(ValueError, match=r"point 2 has vectors not in the collection config: \['extra'\]"):
        encode_columns(cols, FIELDS)


def test_wrong_vector_size_is_refused() -> None:
    cols = PageColumns([1], {"": [[1.0, 0.0, 3.0]]}, [None])
    with pytest.raises(ValueError, match="size 3"):
        encode_columns(cols, FIELDS)


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"a":1234567890123456789}', True),
        ('{"a":-123456789012345678901}', True),
        ('{"a":123456789012345678}', False),
        ('{"a":"١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠"}', False),  # not ASCII digits: never a JSON number
        ('{"a":1.5e300,"b":[1,2,3]}', False),
        ('{"a":0.0006460202213842692}', False),  # a float's fraction: both parsers read it alike
        ('{"a":-0.00064602022138426921234}', False),
        ('{"a":12345678901234567890.5}', True),  # a float's integer part still counts
        ('{"a":"12345678901234567890"}', True),  # in a string: counted, which only costs speed
        ("1234567890123456789", True),  # a bare number at the start of the text
        (b'{"a":1234567890123456789}', True),
        (b'{"a":0.1234567890123456789}', False),
    ],
)
def test_long_digit_runs(text: str, expected: bool) -> None:
    assert has_long_digit_run(text) is expected


def test_embedded_scans_stay_in_the_callers_thread() -> None:
    ep = open_endpoint(":memory:")
    seen: list[str] = []

    def pages() -> Any:
        for i in range(3):
            seen.append(threading.current_thread().name)
            yield i

    assert list(scan_ahead(pages(), ep, name="t")) == [0, 1, 2]
    assert set(seen) == {threading.current_thread().name}


def test_scan_digest_equals_digest_of_every_point(store_uri: str) -> None:
    make_collection(store_uri, "c", "sparse", n=120)
    ep = open_endpoint(store_uri)
    fields = ep.get_spec("c").vector_fields()
    pts = [p for page in ep.scan("c", batch_size=1000) for p in page.points]
    assert scan_digest(ep, "c", fields, batch_size=7) == digest_columns(PageColumns.from_points(pts), fields)


def test_parallel_on_local_mode_scans_one_stream_and_says_so(store_uri: str) -> None:
    notes: list[str] = []
    assert slice_count(open_endpoint(store_uri), 2, notes) == 1
    assert len(notes) == 1 and "--parallel 2 ignored" in notes[0] and "one stream" in notes[0]
    notes.clear()
    assert slice_count(open_endpoint(store_uri), 1, notes) == 1 and notes == []


def test_parallel_slices_on_edge_are_kept_and_noted(tmp_path: Any) -> None:
    notes: list[str] = []
    assert slice_count(open_endpoint(f"edge:{tmp_path / 'shards'}"), 3, notes) == 3
    assert len(notes) == 1 and "no speed-up" in notes[0]


def test_a_failed_background_parquet_write_fails_the_backup(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.archive import PARTIAL_PREFIX
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    make_collection(":memory:", "w", "int-unnamed", n=300)
    calls: list[str] = []

    def broken(self: Any, batch: Any, row_group_size: Any = None) -> None:
        calls.append(threading.current_thread().name)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", broken)
    cfg = BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path), batch_size=50)
    with pytest.raises(OSError, match="No space left"):
        backup(cfg)
    assert calls and calls[0].startswith("write-w-")  # written off the main thread
    assert len(calls) == 1  # the error stopped the backup at the next wait
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith((PARTIAL_PREFIX, "."))]


def test_upsert_request_is_one_batch_for_plain_dense_points() -> None:
    from qdrant_client import models

    from qdrant_ops.endpoints.qdrant_requests import points_request

    dense = [Point(1, {"": [1.0, 0.0]}, {"a": 1}), Point(2, {"": [0.0, 1.0]}, {})]
    req = points_request(dense)
    assert isinstance(req, models.Batch)
    assert req.ids == [1, 2] and req.vectors == [[1.0, 0.0], [0.0, 1.0]] and req.payloads == [{"a": 1}, {}]
    for odd in (
        Point(3, {"": [1.0, 1.0]}, None),  # no payload: a batch row would get an empty one
        Point(3, {"text": [1.0, 1.0]}, {}),
        Point(3, {"": SparseValue([1], [0.5])}, {}),
        Point(3, {"": [[1.0, 1.0], [0.5, 0.5]]}, {}),
    ):
        req = points_request([*dense, odd])
        assert isinstance(req, list) and all(isinstance(s, models.PointStruct) for s in req)


def test_batch_and_point_writes_store_the_same_points() -> None:
    from qdrant_client import models

    ep = open_endpoint(":memory:")
    for name in ("viabatch", "viapoints"):
        ep.client.create_collection(name, vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    pts = [Point(i, {"": [float(i), 0.5]}, {"i": i, "t": "é"}) for i in range(1, 6)]
    ep.write("viabatch", pts)
    ep.write("viapoints", [*pts, Point(99, {"": [1.0, 1.0]}, None)])
    ep.client.delete("viapoints", points_selector=models.PointIdsList(points=[99]))
    fields = ep.get_spec("viabatch").vector_fields()
    assert scan_digest(ep, "viabatch", fields) == scan_digest(ep, "viapoints", fields)


def test_clone_points_shares_nothing_a_step_could_change() -> None:
    import numpy as np

    from qdrant_ops.migration.transforms import clone_points

    original = Point(
        7,
        {
            "": [0.5, 1.0, 2],
            "multi": [[1.0, 2.0], [3.0, 4.0]],
            "sparse": SparseValue([1, 4], [0.5, 0.25]),
            "row": np.array([1.0, 2.0], dtype=np.float32),
            "nested": [[1.0, [2.0]], [3.0]],  # not a vector shape qdrant-ops makes: deep-copied
        },
        {"a": {"b": [1, 2]}},
    )
    (clone,) = clone_points([original])
    assert clone.vectors[""] == original.vectors[""] and clone.payload == original.payload
    clone.vectors[""][0] = 9.0
    clone.vectors["multi"][1][0] = 9.0
    clone.vectors["sparse"].indices.append(9)
    clone.vectors["row"][0] = 9.0
    clone.vectors["nested"][0][1].append(9.0)
    clone.payload["a"]["b"].append(3)  # type: ignore[index]
    assert original.vectors[""] == [0.5, 1.0, 2]
    assert original.vectors["multi"] == [[1.0, 2.0], [3.0, 4.0]]
    assert original.vectors["sparse"] == SparseValue([1, 4], [0.5, 0.25])
    assert original.vectors["row"][0] == 1.0
    assert original.vectors["nested"] == [[1.0, [2.0]], [3.0]]
    assert original.payload == {"a": {"b": [1, 2]}}


def test_estimate_bytes_counts_payload_utf8_bytes() -> None:
    from qdrant_ops.pipeline.writer import estimate_bytes

    assert estimate_bytes(Point(1, {"": [0.0] * 4}, {"t": "über"})) == 40 + len('{"t":"über"}'.encode()) + 40
    # orjson refuses ints beyond 64 bits: the stdlib measures those
    assert estimate_bytes(Point(1, {}, {"n": 2**70})) == 40 + len('{"n": 1180591620717411303424}')
    assert estimate_bytes(Point(1, {}, None)) == 40


@pytest.mark.parametrize("finite", [False, True])
def test_digest_columns_matches_the_written_file_digest(finite: bool) -> None:
    fields = [VectorField("", "dense", 2, "Cosine")]
    payloads: list[Any] = [{"x": i / 7, "n": None, "s": "ü"} if i % 3 else None for i in range(10)]
    points = [Point(i, {"": [float(i), 0.5]}, payloads[i]) for i in range(10)]
    expected = digest_batch(encode_points(points, fields), fields)
    assert digest_columns(PageColumns.from_points(points), fields, finite=finite) == expected


def test_digest_columns_tells_nan_from_null() -> None:
    fields = [VectorField("", "dense", 2, "Cosine")]
    nan = [Point(1, {"": [1.0, 0.5]}, {"v": float("nan")})]
    null = [Point(1, {"": [1.0, 0.5]}, {"v": None})]
    assert digest_columns(PageColumns.from_points(nan), fields) != digest_columns(PageColumns.from_points(null), fields)


def test_float_rows_are_packed_to_the_same_float32_bits_as_numpy() -> None:
    import warnings

    import numpy as np

    from qdrant_ops.format.vectors import _float_matrix, float_matrix_from_records

    rng = np.random.default_rng(3)
    rows = rng.standard_normal((50, 7)).tolist()
    rows[3] = [float("nan"), float("inf"), -0.0, 5e-324, 1e300, 3, True]  # ints, bools, subnormal, overflow
    rows[4] = [np.float64(0.1)] * 7  # numpy scalars inside a list
    rows[2] = [None, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # None reads as NaN, as numpy reads it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # float32 overflow, as numpy warns too
        expected = np.asarray(rows, dtype=np.float32)
        got = _float_matrix(rows, 7)
        # read straight from records (a backup from Edge): the same bits; the row holding None
        # sends that page the general way (``_float_matrix`` above), so it is left out here
        from_records = float_matrix_from_records([SimpleNamespace(id=i, vector=r) for i, r in enumerate(rows) if i != 2], 7)
    assert got is not None and got.dtype == np.float32 and got.shape == (50, 7)
    assert got.tobytes() == expected.tobytes()
    assert from_records is not None and from_records.dtype == np.float32 and from_records.shape == (49, 7)
    assert from_records.tobytes() == np.delete(expected, 2, axis=0).tobytes()
    # numpy rows, and a mix of rows: the numpy path, the same values
    as_np = [np.asarray(r, dtype=np.float64) for r in rows[5:]]
    assert _float_matrix(as_np, 7).tobytes() == expected[5:].tobytes()  # type: ignore[union-attr]
    assert _float_matrix([rows[5], as_np[1]], 7).tobytes() == expected[5:7].tobytes()  # type: ignore[union-attr]
    # a row of another length, a multi-vector, text: not a matrix of that size (the caller says why)
    assert _float_matrix([[1.0] * 7, [1.0] * 6], 7) is None
    assert _float_matrix([[1.0] * 8], 7) is None
    assert _float_matrix([[[1.0] * 7]], 7) is None
    assert _float_matrix([["0.5"] * 7], 7).tolist() == [[0.5] * 7]  # type: ignore[union-attr]  # numpy parses text, as before


def test_vectors_not_read_straight_from_records_fall_back() -> None:
    from qdrant_ops.format.vectors import float_matrix_from_records

    recs = [SimpleNamespace(id=i, vector=[float(i)] * 7, payload={}) for i in range(5)]
    assert float_matrix_from_records(recs, 7).tolist() == [[float(i)] * 7 for i in range(5)]  # type: ignore[union-attr]
    # anything but `size` numbers per record: None, for the general path
    for bad in ([1.0] * 6, [1.0] * 8, None, {"": [1.0] * 7}, [[1.0] * 7], [object()] * 7, [None] * 7, ["0.5"] * 7):
        assert float_matrix_from_records([*recs, SimpleNamespace(id=9, vector=bad, payload={})], 7) is None, bad
    assert float_matrix_from_records([], 7) is None


def test_a_page_of_records_encodes_the_same_batch_either_way() -> None:
    """A backup reads a page of records' vectors straight into float32; the batch is the one
    the page's columns give, and a page whose vectors are not one dense list each falls back."""
    from qdrant_ops.endpoints.base import record_ids

    f = VectorField("", "dense", 4, "Cosine")
    recs = [SimpleNamespace(id=i if i % 2 else uuid.UUID(int=i), vector=[i * 0.5, -1.0, 2.0, 0.25], payload={"i": i})
            for i in range(30)]
    id_out = str
    page = ScanPage(records=recs, id_out=id_out, next_offset=None)
    assert len(page) == 30
    cols, matrix = page.columns_with_matrix(f)
    assert matrix is not None and cols.vectors == {} and cols.ids == record_ids(recs, id_out)
    fast = encode_columns(cols, [f], dense={"": matrix})
    general = encode_columns(columns_from_records(recs, id_out), [f])
    assert fast.equals(general)
    # once the columns are built (a migrate reads points), they are what the page gives
    assert page.columns.ids == cols.ids and page.columns_with_matrix(f)[1] is None
    assert page.points[3].vectors[""] == [1.5, -1.0, 2.0, 0.25]
    # a named vector: no matrix, the general columns
    named = ScanPage(records=[SimpleNamespace(id=1, vector={"a": [1.0] * 4}, payload=None)])
    cols2, m2 = named.columns_with_matrix(VectorField("a", "dense", 4, "Cosine"))
    assert m2 is None and cols2.vectors == {"a": [[1.0] * 4]}
    with pytest.raises(ValueError, match="matrix"):
        encode_columns(cols, [f], dense={"": matrix[:3]})


def test_dense_column_of_float_lists_matches_numpy_rows() -> None:
    import numpy as np

    from qdrant_ops.format.vectors import _dense_array

    rows = np.random.default_rng(4).standard_normal((20, 5)).astype(np.float32)
    a = _dense_array(rows.tolist(), 5)
    b = _dense_array(list(rows), 5)
    assert a.equals(b) and a.values.to_numpy().tobytes() == rows.tobytes()
    with pytest.raises(ValueError, match="vector of size 4 where 5 was expected"):
        _dense_array([[1.0] * 5, [1.0] * 4], 5)
