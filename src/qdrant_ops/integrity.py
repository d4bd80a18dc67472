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

from qdrant_ops.codec import batch_ids, dense_matrix
from qdrant_ops.endpoints.base import VectorField

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


def canonical_payload(text: str | None) -> bytes:
    if text is None:
        return b"n"
    return b"p" + json.dumps(
        json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def id_bytes(pid: int | str) -> bytes:
    if isinstance(pid, int):
        return b"i" + _U64.pack(pid)
    try:
        return b"u" + uuid.UUID(pid).bytes
    except ValueError:
        return b"s" + pid.encode("utf-8")


def digest_batch(batch: Any, fields: Sequence[VectorField]) -> Digest:
    """The digest of one Arrow record batch in the backup schema."""
    n = batch.num_rows
    if n == 0:
        return Digest()
    ids = batch_ids(batch)
    payloads = batch.column("payload").to_pylist()
    cols: list[tuple[VectorField, Any, Any]] = []
    for f in fields:
        col = batch.column(f.column)
        if f.kind == "dense":
            rows, valid = dense_matrix(col, f.size)
            cols.append((f, rows, valid))
        elif f.kind == "multi":
            cols.append((f, col.to_pylist(), None))
        else:
            cols.append((f, col.to_pylist(), None))
    full_sum = 0
    keys_sum = 0
    for i in range(n):
        head = id_bytes(ids[i]) + canonical_payload(payloads[i])
        hk = xxhash.xxh3_128(head)
        hf = xxhash.xxh3_128(head)
        for f, data, valid in cols:
            tag = f.name.encode("utf-8") + b"\x00"
            if f.kind == "dense":
                if not valid[i]:
                    hk.update(tag + b"-")
                    hf.update(tag + b"-")
                    continue
                hk.update(tag + b"d")
                hf.update(tag + b"d")
                hf.update(data[i].tobytes())
            elif f.kind == "multi":
                v = data[i]
                if v is None:
                    hk.update(tag + b"-")
                    hf.update(tag + b"-")
                    continue
                shape = tag + b"m" + _U32.pack(len(v))
                hk.update(shape)
                hf.update(shape)
                hf.update(np.asarray(v, dtype=np.float32).tobytes())
            else:
                v = data[i]
                if v is None:
                    hk.update(tag + b"-")
                    hf.update(tag + b"-")
                    continue
                sparse = (
                    tag
                    + b"s"
                    + np.asarray(v["indices"], dtype=np.uint32).tobytes()
                    + b"|"
                    + np.asarray(v["values"], dtype=np.float32).tobytes()
                )
                hk.update(sparse)
                hf.update(sparse)
        keys_sum += hk.intdigest()
        full_sum += hf.intdigest()
    return Digest(full_sum % MOD, keys_sum % MOD, n)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()
