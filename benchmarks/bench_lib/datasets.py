"""The generated dataset: int ids, float32 vectors, payloads of every JSON shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np

COLLECTION = "bench"
SEED = 20240611
DEFAULT_POINTS = {"memory": 10_000, "local": 2_000, "edge": 20_000}


class LazyPayloads(Sequence[dict[str, Any]]):
    """The dataset's payloads, each made when it is read (a slice: a list of new dicts), so a
    dataset held for writing keeps none in the Python heap: see ``ops.engine_growth_kb``."""

    def __init__(self, scores: np.ndarray) -> None:
        self._scores = scores

    def __len__(self) -> int:
        return len(self._scores)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [_payload(k, float(self._scores[k])) for k in range(*i.indices(len(self)))]
        return _payload(range(len(self))[i], float(self._scores[i]))


_CATS = ("news", "blog", "paper", "forum", None)


def _payload(i: int, score: float) -> dict[str, Any]:
    return {
        "doc_id": i,
        "title": f"Document {i} — über Qdrant 検索",
        "score": score,
        "category": _CATS[i % 5],
        "tags": ["a", "b", "c"][: i % 4],
        "meta": {"len": i * 7 % 1000, "ratio": i / 3.0, "ok": i % 2 == 0, "none": None},
    }


def gen_dataset(
    n: int, dims: int, seed: int = SEED, *, lazy: bool = False
) -> tuple[np.ndarray, np.ndarray, Sequence[dict[str, Any]]]:
    """``(ids, vectors, payloads)``: int ids, float32 vectors, payloads of every JSON shape
    (``lazy``: made as they are read, the same values)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype=np.uint64)
    vectors = rng.standard_normal((n, dims), dtype=np.float32)
    scores = rng.random(n) * 100
    payloads = LazyPayloads(scores)
    return ids, vectors, (payloads if lazy else payloads[:])
