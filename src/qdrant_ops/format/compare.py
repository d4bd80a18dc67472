"""Point-by-point comparison with the tolerances engines need (DESIGN.md § Integrity).

- ids and payloads exactly (ints stay ints, floats stay floats), except that where Qdrant Edge is
  an endpoint payload floats may differ by 1 ULP;
- cosine vectors by direction (both sides normalised), other distances by value, within a small
  relative tolerance; sparse vectors as sorted (index, value) pairs;
- the datatype of each field decides its tolerance, whatever other fields the collection has:
  ``float16`` within its precision, ``uint8`` as the whole numbers it stores (Qdrant keeps
  ``clip(trunc(x), 0, 255)``, without normalising cosine vectors), ``float32`` tight. Sparse
  values are stored exactly whatever their index datatype, so they stay tight.

``vector_equal`` is the one rule: verify, validate and the round-trip checks all call it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qdrant_ops.endpoints.base import Endpoint, Point, PointId, SparseValue, VectorField
from qdrant_ops.format.columns import normalize_id
from qdrant_ops.pipeline.retry import retrying_scan

RTOL = 1e-5
ATOL = 1e-6
# float16 keeps 11 significant bits: 2e-3 is about four of its units in the last place.
FLOAT16_TOL = 2e-3
# How much each datatype loses, for picking the lossier of two sides.
_LOSS = {"float32": 0, "float16": 1, "uint8": 2}


@dataclass
class Difference:
    id: str
    kind: str  # missing | extra | payload | vector
    detail: str = ""


@dataclass
class ComparisonResult:
    compared: int = 0
    equal: int = 0
    missing: int = 0
    extra: int = 0
    payload_differs: int = 0
    vector_differs: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.payload_differs or self.vector_differs)

    def add(self, diff: Difference, limit: int) -> None:
        attr = {"missing": "missing", "extra": "extra", "payload": "payload_differs", "vector": "vector_differs"}[diff.kind]
        setattr(self, attr, getattr(self, attr) + 1)
        if len(self.differences) < limit:
            self.differences.append(diff)


def floats_close(a: float, b: float, ulps: int) -> bool:
    if a == b:
        return True
    if math.isnan(a) and math.isnan(b):
        return True  # a NaN payload value (local mode holds them) kept as a NaN is kept exactly
    if ulps <= 0 or math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= ulps * math.ulp(max(abs(a), abs(b)))


def payload_equal(a: Any, b: Any, ulps: int = 0) -> bool:
    """Exact JSON equality that tells 1 from 1.0 and True from 1; floats within ``ulps``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(payload_equal(a[k], b[k], ulps) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(payload_equal(x, y, ulps) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return floats_close(a, b, ulps)
    return bool(a == b)


def _unit(v: Any) -> Any:
    arr = np.asarray(v, dtype=np.float64)
    norm = np.linalg.norm(arr)
    return arr / norm if norm > 0 else arr


def vector_equal(a: Any, b: Any, f: VectorField) -> bool:
    """Whether two values of field ``f`` are the same vector, within what ``f.datatype`` keeps."""
    if f.kind == "sparse":
        if not isinstance(a, SparseValue) or not isinstance(b, SparseValue):
            return False
        pa_ = sorted(zip(a.indices, a.values, strict=True))
        pb_ = sorted(zip(b.indices, b.values, strict=True))
        if [i for i, _ in pa_] != [i for i, _ in pb_]:
            return False
        return bool(np.allclose([v for _, v in pa_], [v for _, v in pb_], rtol=RTOL, atol=ATOL))
    if f.kind == "multi":
        if len(a) != len(b):
            return False
        return all(_dense_equal(x, y, f) for x, y in zip(a, b, strict=True))
    return _dense_equal(a, b, f)


def _dense_equal(a: Any, b: Any, f: VectorField) -> bool:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        return False
    if f.datatype == "uint8":
        if np.array_equal(_as_uint8(x), _as_uint8(y)):
            return True
        # Engines store uint8 cosine vectors unnormalized, but local mode hands back, within its
        # session, a unit vector: one side a unit vector in the other's direction is the same.
        x_unit, y_unit = (bool(abs(np.linalg.norm(v) - 1.0) < 1e-6) for v in (x, y))
        if f.distance.lower() != "cosine" or x_unit == y_unit:
            return False
        raw, unit = (y, x) if x_unit else (x, y)
        return bool(np.allclose(_unit(_as_uint8(raw)), unit, rtol=FLOAT16_TOL, atol=FLOAT16_TOL))
    if f.distance.lower() == "cosine":
        x, y = _unit(x), _unit(y)
    rtol, atol = (FLOAT16_TOL, FLOAT16_TOL) if f.datatype == "float16" else (RTOL, ATOL)
    return bool(np.allclose(x, y, rtol=rtol, atol=atol))


def _as_uint8(x: Any) -> Any:
    """The values a uint8 vector stores for ``x``: truncated and saturated, as Rust's ``as u8``."""
    return np.clip(np.trunc(np.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0)), 0, 255)


def lossiest(fields: Sequence[VectorField], others: Sequence[VectorField]) -> list[VectorField]:
    """``fields``, each with the lossier datatype of itself and ``others``' field of that name:
    a backup of float32 vectors against a float16 target is compared as float16."""
    by_name = {o.name: o for o in others}
    out: list[VectorField] = []
    for f in fields:
        o = by_name.get(f.name)
        if o is not None and o.kind == f.kind and _LOSS.get(o.datatype, 0) > _LOSS.get(f.datatype, 0):
            f = replace(f, datatype=o.datatype)
        out.append(f)
    return out


def point_difference(a: Point, b: Point, fields: Sequence[VectorField], ulps: int) -> Difference | None:
    pid = str(a.id)
    if not payload_equal(a.payload or {}, b.payload or {}, ulps):
        return Difference(pid, "payload", _payload_hint(a.payload or {}, b.payload or {}))
    for f in fields:
        va, vb = a.vectors.get(f.name), b.vectors.get(f.name)
        if va is None and vb is None:
            continue
        label = f.name or "(default)"
        if va is None or vb is None:
            return Difference(pid, "vector", f"vector {label} present on one side only")
        if not vector_equal(va, vb, f):
            return Difference(pid, "vector", f"vector {label} differs beyond tolerance")
    return None


def _payload_hint(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = sorted(set(a) | set(b))
    for k in keys:
        if k not in a or k not in b or not payload_equal(a[k], b[k]):
            return f"field {k!r}: {a.get(k, '<absent>')!r} != {b.get(k, '<absent>')!r}"[:200]
    return "payload differs"


def compare_with_endpoint(
    left: Iterable[list[Point]],
    right: Endpoint,
    collection: str,
    fields: Sequence[VectorField],
    *,
    right_count: int,
    ulps: int = 0,
    limit: int = 20,
    batch_size: int = 512,
) -> ComparisonResult:
    """Compare every point of ``left`` with the same id in ``right``; then look for extras."""
    result = ComparisonResult()
    seen: set[PointId] = set()
    for batch in left:
        for start in range(0, len(batch), batch_size):
            chunk = batch[start : start + batch_size]
            found = {normalize_id(p.id): p for p in right.retrieve(collection, [p.id for p in chunk])}
            for p in chunk:
                key = normalize_id(p.id)
                seen.add(key)
                result.compared += 1
                other = found.get(key)
                if other is None:
                    result.add(Difference(str(p.id), "missing", "not in target"), limit)
                    continue
                diff = point_difference(p, other, fields, ulps)
                if diff is None:
                    result.equal += 1
                else:
                    result.add(diff, limit)
    if right_count > result.compared - result.missing:
        for pid in _ids(right, collection, batch_size):
            if normalize_id(pid) not in seen:
                result.add(Difference(str(pid), "extra", "only in target"), limit)
    return result


def _ids(ep: Endpoint, collection: str, batch_size: int) -> Iterator[PointId]:
    # A page that fails transiently is read again (from where it starts), never skipped.
    for page in retrying_scan(ep, collection, batch_size=batch_size, with_vectors=False):
        for p in page.points:
            yield p.id
