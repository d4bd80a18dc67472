"""Ctrl-C trials: the real ``qdrant-ops`` command, SIGINT at a random moment, then the rerun.

Used by ``tests/reliability/test_interrupt.py``, the Edge optimize tests and
``benchmarks/terminal_session.sh``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def make_edge_store(
    root: Path, name: str = "docs", n: int = 60_000, dims: int = 64, seed: int = 1, indexing_threshold: int | None = None
) -> str:
    """An Edge store of ``n`` points, written by the engine's own calls (fast: ~70k points/s).

    ``indexing_threshold`` (KB of vectors, Qdrant's optimizer setting; 0: never index) sets
    whether a restore of it spends its optimize building an HNSW index."""
    from qdrant_edge import Point as EdgePoint
    from qdrant_edge import UpdateOperation

    from qdrant_ops.endpoints.base import CollectionSpec
    from qdrant_ops.endpoints.open import open_endpoint

    uri = f"edge:{root}"
    ep = open_endpoint(uri)
    config: dict[str, object] = {"params": {"vectors": {"size": dims, "distance": "Cosine"}}}
    if indexing_threshold is not None:
        config["optimizer_config"] = {"indexing_threshold": indexing_threshold}
    ep.create_collection(name, CollectionSpec(name=name, config=config))
    rng = np.random.default_rng(seed)
    shard = ep._shard(name)  # type: ignore[attr-defined]
    for start in range(0, n, 2000):
        vecs = rng.standard_normal((min(2000, n - start), dims)).astype(np.float32).tolist()
        pts = [
            EdgePoint(id=start + i, vector=v, payload={"i": start + i, "title": f"doc {start + i}"})
            for i, v in enumerate(vecs)
        ]
        shard.update(UpdateOperation.upsert_points(pts))
    ep.close()
    return uri


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "qdrant_ops", *args]


def env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env(), timeout=600)
