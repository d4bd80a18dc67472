"""Canonical point encoding, per-point hashes and order-independent collection digests.

A collection digest is the sum (mod 2^128) of the xxh3-128 hash of each point's canonical bytes,
so slices and files can be digested apart, in any order, and added. Two digests are kept:

- ``full``: id, payload (canonical JSON: sorted keys, exact numbers) and every vector's float32
  bits. Equal ``full`` digests mean equal data, bit for bit.
- ``keys``: the same without dense/multi vector values (only which vectors a point has, and their
  shapes). Engines rewrite vectors (cosine normalisation), so two stores can hold the same data
  with different bits; equal ``keys`` and vectors equal within tolerance is then the verdict, and
  ``verify`` confirms it point by point (see ``compare.py``).

Files get sha256 (see ``sha256_file``).
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from qdrant_ops.endpoints.base import PageColumns, VectorField, payloads_are_json
from qdrant_ops.format.columns import batch_ids, encode_columns
from qdrant_ops.format.payload import canonical_payloads, decode_payload_column, encode_payload
from qdrant_ops.format.vectors import dense_matrix

MOD = 1 << 128
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


@dataclass
class Digest:
    full: int = 0
    keys: int = 0
    count: int = 0

    def add(self, other: Digest) -> None:
        self.full = (self.full + other.full) % MOD
        self.keys = (self.keys + other.keys) % MOD
        self.count += other.count

    def to_json(self) -> dict[str, Any]:
        return {"full": f"{self.full:032x}", "keys": f"{self.keys:032x}", "count": self.count}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Digest:
        return cls(int(data["full"], 16), int(data["keys"], 16), int(data["count"]))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Digest)
            and (self.full, self.keys, self.count) == (other.full, other.keys, other.count)
        )

    def __hash__(self) -> int:
        return hash((self.full, self.keys, self.count))


# The definition (see ``codec.encode_payload``, which gives the same bytes faster).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
_loads = json.JSONDecoder().decode


def canonical_payload(text: str | None) -> bytes:
    if text is None:
        return b"n"
    return b"p" + _CANONICAL(_loads(text)).encode("utf-8")


def canonical_payload_object(payload: Any) -> bytes:
    """``canonical_payload(json.dumps(payload))`` without the round trip (payloads are JSON data)."""
    return encode_payload(payload)[1]


def id_bytes(pid: int | str) -> bytes:
    if isinstance(pid, int):
        return b"i" + _U64.pack(pid)
    try:
        return b"u" + uuid.UUID(pid).bytes
    except ValueError:
        return b"s" + pid.encode("utf-8")


def _id_column_bytes(batch: Any) -> list[bytes]:
    """``id_bytes`` of every row; all-int batches (the common case) in one numpy pass."""
    ints = batch.column("id_int")
    if ints.null_count == 0:
        raw = ints.to_numpy(zero_copy_only=False).astype("<u8", copy=False).tobytes()
        return [b"i" + raw[k : k + 8] for k in range(0, len(raw), 8)]
    return [id_bytes(pid) for pid in batch_ids(batch)]


def _field_parts(f: VectorField, col: Any, n: int) -> tuple[list[bytes], list[bytes]]:
    """Per row, what one vector adds to the ``keys`` and to the ``full`` hash input."""
    tag = f.name.encode("utf-8") + b"\x00"
    absent = tag + b"-"
    if f.kind == "dense":
        rows, valid = dense_matrix(col, f.size)
        present = tag + b"d"
        buf = np.ascontiguousarray(rows, dtype=np.float32).tobytes()
        w = 4 * f.size
        full = [present + buf[i * w : (i + 1) * w] if valid[i] else absent for i in range(n)]
        keys = [present if valid[i] else absent for i in range(n)]
        return keys, full
    keys = []
    full = []
    for v in col.to_pylist():
        if v is None:
            keys.append(absent)
            full.append(absent)
        elif f.kind == "multi":
            shape = tag + b"m" + _U32.pack(len(v))
            keys.append(shape)
            full.append(shape + np.asarray(v, dtype=np.float32).tobytes())
        else:
            sparse = (
                tag
                + b"s"
                + np.asarray(v["indices"], dtype=np.uint32).tobytes()
                + b"|"
                + np.asarray(v["values"], dtype=np.float32).tobytes()
            )
            keys.append(sparse)
            full.append(sparse)
    return keys, full


def _digest_one_dense(
    heads: Sequence[bytes], pays: Sequence[bytes], f: VectorField, col: Any, n: int, hashes: list[int] | None = None
) -> Digest:
    """``digest_batch`` of a batch whose one vector field is dense: the same hash inputs, each row's
    vector bytes sliced from the matrix as it is hashed instead of a page of row copies made first,
    which saves a copy of every row."""
    tag = f.name.encode("utf-8") + b"\x00"
    present = tag + b"d"
    absent = tag + b"-"
    rows, valid = dense_matrix(col, f.size)
    buf = np.ascontiguousarray(rows, dtype=np.float32).tobytes()
    w = 4 * f.size
    h = xxhash.xxh3_128_intdigest
    full_sum = 0
    keys_sum = 0
    at = 0
    for head, pay, ok in zip(heads, pays, valid.tolist(), strict=True):
        if ok:
            keyed = head + pay + present
            keys_sum += h(keyed)
            one = h(keyed + buf[at : at + w])
        else:
            one = h(head + pay + absent)
            keys_sum += one
        full_sum += one
        if hashes is not None:
            hashes.append(one)
        at += w
    return Digest(full_sum % MOD, keys_sum % MOD, n)


def digest_batch(
    batch: Any,
    fields: Sequence[VectorField],
    payloads: Sequence[Any] | None = None,
    canonical: Sequence[bytes] | None = None,
    hashes: list[int] | None = None,
) -> Digest:
    """The digest of one Arrow record batch in the backup schema.

    Each point's hash input is ``id_bytes + canonical_payload`` followed, for each vector field in
    order, by ``name NUL`` and a marker (``-`` absent, ``d`` dense, ``m`` + u32 row count for a
    multi-vector, ``s`` + indices ``|`` values for sparse) and, in the ``full`` hash only, the
    dense/multi float32 bytes. Built per batch with numpy and hashed one shot per point (xxh3-128
    of the concatenation: the same value as feeding the parts one by one).

    ``payloads``: the rows' payloads already parsed (the caller encoded them from these objects),
    which spares parsing the JSON text back; ``canonical``: their canonical bytes already made
    (``codec.encode_payloads_raw`` or ``codec.canonical_payloads``); ``hashes``: a list that
    receives each row's ``full`` hash, in order (an incremental backup's per-point index).
    """
    n = batch.num_rows
    if n == 0:
        return Digest()
    heads = _id_column_bytes(batch)
    pays: Sequence[bytes]
    if canonical is not None:
        pays = canonical
    elif payloads is not None:
        pays = canonical_payloads(payloads)
    else:
        # Parsed in one call per batch (see ``decode_payload_column``), then canonicalised a page at a
        # time (a null text parses to None, whose canonical bytes are b"n").
        objs, finite = decode_payload_column(batch.column("payload"))
        pays = canonical_payloads(objs, finite=finite)
    if len(fields) == 1 and fields[0].kind == "dense":
        return _digest_one_dense(heads, pays, fields[0], batch.column(fields[0].column), n, hashes)
    parts = [_field_parts(f, batch.column(f.column), n) for f in fields]
    h = xxhash.xxh3_128_intdigest
    full_sum = 0
    keys_sum = 0
    if len(parts) == 1:
        keys_col, full_col = parts[0]
        for i in range(n):
            head = heads[i] + pays[i]
            keys_sum += h(head + keys_col[i])
            one = h(head + full_col[i])
            full_sum += one
            if hashes is not None:
                hashes.append(one)
    else:
        for i in range(n):
            head = heads[i] + pays[i]
            keys_sum += h(head + b"".join(k[i] for k, _ in parts))
            one = h(head + b"".join(f[i] for _, f in parts))
            full_sum += one
            if hashes is not None:
                hashes.append(one)
    return Digest(full_sum % MOD, keys_sum % MOD, n)


def digest_columns(cols: PageColumns, fields: Sequence[VectorField], *, finite: bool = False) -> Digest:
    """The digest of a page's columns (the payloads hashed from the objects, no JSON text).

    ``finite``: the payloads were parsed from JSON (``endpoints.base.payloads_are_json``)."""
    if not len(cols):
        return Digest()
    batch = encode_columns(cols, fields, payload_text=False)
    return digest_batch(batch, fields, canonical=canonical_payloads(cols.payloads, finite=finite))


def scan_digest(
    ep: Any, name: str, fields: Sequence[VectorField], batch_size: int | None = None
) -> Digest:
    """The digest of a live collection, from a fresh scan: pages sized like a backup's (see
    ``pipeline.sizing``), read ahead from a server (``scan_ahead``), transient scroll errors
    retried at the cursor."""
    from qdrant_ops.pipeline.prefetch import scan_ahead
    from qdrant_ops.pipeline.retry import retrying_scan
    from qdrant_ops.pipeline.sizing import page_size

    digest = Digest()
    finite = payloads_are_json(ep.info().kind)
    pages = retrying_scan(ep, name, batch_size=page_size(fields, batch_size))
    for page in scan_ahead(pages, ep, name=f"digest-{name}"):
        if len(page):
            digest.add(digest_columns(page.columns, fields, finite=finite))
    return digest


def sha256_file(path: str | Path) -> str:
    """The file's sha256, read through one reused buffer (``hashlib.file_digest``)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
