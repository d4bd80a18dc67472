"""The fast, per-batch digest equals the reference definition, point by point, on every shape.

``reference_digest`` below is the digest as first defined (one streaming xxh3-128 per point, parts
fed in order); the optimised ``digest_batch`` must give the same values, so backups made before and
after stay comparable.
"""

from __future__ import annotations

import json
import random
import struct
import uuid
from typing import Any

import numpy as np
import pytest
import xxhash

from qdrant_ops.endpoints.base import Point, SparseValue, VectorField
from qdrant_ops.format.columns import batch_ids, encode_points
from qdrant_ops.format.integrity import MOD, Digest, digest_batch
from qdrant_ops.format.vectors import dense_matrix

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


def _ref_payload(text: str | None) -> bytes:
    if text is None:
        return b"n"
    return b"p" + json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _ref_id(pid: int | str) -> bytes:
    if isinstance(pid, int):
        return b"i" + _U64.pack(pid)
    try:
        return b"u" + uuid.UUID(pid).bytes
    except ValueError:
        return b"s" + pid.encode("utf-8")


def reference_digest(batch: Any, fields: list[VectorField]) -> Digest:
    n = batch.num_rows
    ids = batch_ids(batch)
    payloads = batch.column("payload").to_pylist()
    cols = []
    for f in fields:
        col = batch.column(f.column)
        cols.append((f, *dense_matrix(col, f.size)) if f.kind == "dense" else (f, col.to_pylist(), None))
    full_sum = keys_sum = 0
    for i in range(n):
        head = _ref_id(ids[i]) + _ref_payload(payloads[i])
        hk, hf = xxhash.xxh3_128(head), xxhash.xxh3_128(head)
        for f, data, valid in cols:
            tag = f.name.encode() + b"\x00"
            v = data[i] if f.kind != "dense" else (data[i] if valid[i] else None)
            if v is None:
                hk.update(tag + b"-")
                hf.update(tag + b"-")
            elif f.kind == "dense":
                hk.update(tag + b"d")
                hf.update(tag + b"d")
                hf.update(v.tobytes())
            elif f.kind == "multi":
                hk.update(tag + b"m" + _U32.pack(len(v)))
                hf.update(tag + b"m" + _U32.pack(len(v)))
                hf.update(np.asarray(v, dtype=np.float32).tobytes())
            else:
                sp = tag + b"s" + np.asarray(v["indices"], np.uint32).tobytes() + b"|" + np.asarray(v["values"], np.float32).tobytes()
                hk.update(sp)
                hf.update(sp)
        keys_sum += hk.intdigest()
        full_sum += hf.intdigest()
    return Digest(full_sum % MOD, keys_sum % MOD, n)


FIELDS = [
    VectorField("", "dense", 4, "Cosine"),
    VectorField("img", "dense", 3, "Dot"),
    VectorField("colbert", "multi", 2, "Dot"),
    VectorField("kw", "sparse"),
]


def _points(rng: random.Random, n: int, fields: list[VectorField], uuids: bool) -> list[Point]:
    out = []
    for i in range(n):
        vec: dict[str, Any] = {}
        for f in fields:
            if i % 5 == 3 and f.name:
                continue  # a missing vector
            if f.kind == "dense":
                vec[f.name] = [rng.uniform(-1, 1) for _ in range(f.size)]
            elif f.kind == "multi":
                vec[f.name] = [[rng.random() for _ in range(f.size)] for _ in range(1 + i % 3)]
            else:
                idx = sorted(rng.sample(range(100), 1 + i % 4))
                vec[f.name] = SparseValue(idx, [rng.random() for _ in idx])
        payload = None if i % 7 == 6 else {"z": i, "a": {"y": [1, 2.5, None], "b": "ü検"}, "f": rng.random() * 1e20}
        pid: int | str = str(uuid.UUID(int=rng.getrandbits(128))) if uuids and i % 2 else i * 13 + (1 << 63)
        out.append(Point(pid, vec, payload))
    return out


@pytest.mark.parametrize("fields", [FIELDS[:1], FIELDS[1:2], FIELDS[:2], FIELDS, FIELDS[2:]])
@pytest.mark.parametrize("uuids", [False, True])
def test_digest_batch_matches_reference(fields: list[VectorField], uuids: bool) -> None:
    pts = _points(random.Random(len(fields) * 2 + uuids), 60, fields, uuids)
    batch = encode_points(pts, fields)
    expected = reference_digest(batch, fields)
    assert digest_batch(batch, fields) == expected
    assert digest_batch(batch, fields, payloads=[p.payload for p in pts]) == expected
    # a slice (non-zero offset) of the batch digests the same as its points alone
    part = batch.slice(7, 20)
    assert digest_batch(part, fields) == reference_digest(encode_points(pts[7:27], fields), fields)
