"""Test collections of every point shape, written through qdrant-client."""

from __future__ import annotations

import random
import uuid
from typing import Any

from qdrant_ops.endpoints.open import open_endpoint


def _payload(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "i": i,
        "score": rng.random() * 100,
        "whole_float": float(i % 7),
        "title": f"Tâche n°{i} — 検索 🚀",
        "status": rng.choice(["open", "done", None]),
        "author": {"name": f"user{i % 13}", "tags": ["a", "b"][: i % 3], "meta": {"deep": [1, 2.5, None]}},
        "flag": i % 2 == 0,
    }


def make_collection(uri: str, name: str, shape: str, n: int = 200, seed: int = 7) -> None:
    """Create ``name`` at ``uri`` holding ``n`` points of ``shape``.

    Shapes: ``int-unnamed`` (int ids, one cosine vector), ``uuid-named`` (UUID ids, two named dense
    vectors of different sizes/distances), ``sparse`` (dense + sparse), ``multi`` (multi-vectors),
    ``empty`` (no points).
    """
    if uri.startswith("edge:"):
        _make_via_memory(uri, name, shape, n, seed)
        return
    _fill(open_endpoint(uri).client, name, shape, n, seed)  # type: ignore[attr-defined]


def _make_via_memory(uri: str, name: str, shape: str, n: int, seed: int) -> None:
    """Edge stores: the same points, generated in a private in-memory client, written through
    the Edge endpoint (so the data is identical to what the other engines get)."""
    from qdrant_client import QdrantClient

    from qdrant_ops.endpoints.qdrant import QdrantEndpoint

    scratch = QdrantEndpoint(QdrantClient(location=":memory:"), ":memory: (datagen)", "memory")
    try:
        _fill(scratch.client, name, shape, n, seed)
        target = open_endpoint(uri)
        target.create_collection(name, scratch.get_spec(name))
        for page in scratch.scan(name, batch_size=256):
            if page.points:
                target.write(name, page.points)
    finally:
        scratch.close()


def _fill(client: Any, name: str, shape: str, n: int, seed: int) -> None:
    from qdrant_client import models

    rng = random.Random(seed)
    if shape in ("int-unnamed", "empty"):
        client.create_collection(name, vectors_config=models.VectorParams(size=8, distance=models.Distance.COSINE))
    elif shape == "uuid-named":
        client.create_collection(
            name,
            vectors_config={
                "text": models.VectorParams(size=6, distance=models.Distance.DOT),
                "image": models.VectorParams(size=4, distance=models.Distance.EUCLID),
            },
        )
    elif shape == "sparse":
        client.create_collection(
            name,
            vectors_config={"dense": models.VectorParams(size=5, distance=models.Distance.COSINE)},
            sparse_vectors_config={"keywords": models.SparseVectorParams()},
        )
    elif shape == "multi":
        client.create_collection(
            name,
            vectors_config={
                "colbert": models.VectorParams(
                    size=3,
                    distance=models.Distance.DOT,
                    multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
                )
            },
        )
    else:
        raise ValueError(shape)
    if shape == "empty" or n == 0:
        return
    points = []
    for i in range(n):
        vec: Any
        pid: int | str = i * 3 + 1
        if shape == "int-unnamed":
            vec = [rng.uniform(-1, 1) for _ in range(8)]
        elif shape == "uuid-named":
            pid = str(uuid.UUID(int=rng.getrandbits(128)))
            vec = {"text": [rng.uniform(-1, 1) for _ in range(6)]}
            if i % 4:
                vec["image"] = [rng.uniform(0, 10) for _ in range(4)]
        elif shape == "sparse":
            idx = sorted(rng.sample(range(1000), 1 + i % 6))
            vec = {
                "dense": [rng.uniform(-1, 1) for _ in range(5)],
                "keywords": models.SparseVector(indices=idx, values=[rng.random() for _ in idx]),
            }
        else:
            vec = {"colbert": [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(1 + i % 3)]}
        points.append(models.PointStruct(id=pid, vector=vec, payload=_payload(rng, i)))
    for start in range(0, len(points), 256):
        client.upsert(name, points=points[start : start + 256], wait=True)


SHAPES = ["int-unnamed", "uuid-named", "sparse", "multi", "empty"]
