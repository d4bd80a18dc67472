"""Realistic demo collections: the plan's ``roadmap_tasks``, ``emails`` and ``documents``.

Each has its own shape, so the demo exercises what a real migration meets: int ids and UUIDs,
named dense vectors of two sizes and distances, a sparse vector beside a dense one, and payloads
with titles, statuses, dates, nested authors, tags, unicode and nulls.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from qdrant_ops.endpoints.base import Endpoint, Point, SparseValue
from qdrant_ops.progress import NullProgress, ProgressSink

DEMO_COLLECTIONS = ("roadmap_tasks", "emails", "documents")

_NAMES = ["Amélie Dupont", "Jürgen Müller", "Søren Kierkegaard", "李雷", "Ana García", "O'Brien", "Zoë"]
_WORDS = "vector search migration backup restore shard replica index payload quantization alias".split()
_STATUSES = ["todo", "in_progress", "blocked", "done", None]


def _vec(rng: random.Random, n: int) -> list[float]:
    return [rng.gauss(0, 1) for _ in range(n)]


def _date(rng: random.Random) -> str:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    return (base + timedelta(minutes=rng.randrange(0, 60 * 24 * 700))).isoformat()


def _author(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(_NAMES)
    return {
        "name": name,
        "email": None if rng.random() < 0.1 else name.lower().replace(" ", ".") + "@example.org",
        "team": {"name": rng.choice(["search", "infra", "data"]), "size": rng.randint(2, 12)},
    }


def _spec(name: str) -> dict[str, Any]:
    if name == "roadmap_tasks":
        return {
            "params": {
                "vectors": {
                    "title": {"size": 32, "distance": "Cosine"},
                    "body": {"size": 64, "distance": "Dot"},
                }
            },
            "metadata": {"owner": "planning", "source": "demo"},
        }
    if name == "emails":
        return {"params": {"vectors": {"size": 48, "distance": "Euclid"}}, "metadata": {"owner": "mail"}}
    return {
        "params": {
            "vectors": {"dense": {"size": 40, "distance": "Cosine"}},
            "sparse_vectors": {"keywords": {}},
        },
        "metadata": {"owner": "docs"},
    }


def _point(name: str, i: int, rng: random.Random) -> Point:
    words = rng.sample(_WORDS, 3)
    if name == "roadmap_tasks":
        return Point(
            id=i + 1,
            vectors={"title": _vec(rng, 32), "body": _vec(rng, 64)},
            payload={
                "title": f"Task {i + 1}: {' '.join(words)}",
                "status": rng.choice(_STATUSES),
                "priority": rng.randint(1, 5),
                "estimate_days": round(rng.uniform(0.5, 20), 2),
                "due": _date(rng),
                "author": _author(rng),
                "tags": rng.sample(_WORDS, rng.randint(0, 4)),
                "phase": "7.1" if i % 2 else "7.2",
                "notes": None if i % 3 else "à revoir — 要检查 ✔",
            },
        )
    if name == "emails":
        return Point(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            vectors={"": _vec(rng, 48)},
            payload={
                "subject": f"Re: {' '.join(words)}",
                "from": _author(rng),
                "to": [rng.choice(_NAMES) for _ in range(rng.randint(1, 3))],
                "sent_at": _date(rng),
                "read": rng.random() < 0.6,
                "size_kb": rng.randint(1, 900),
                "spam_score": rng.random(),
                "labels": rng.sample(["inbox", "work", "ops", "urgent"], rng.randint(0, 2)),
                "thread": None if rng.random() < 0.5 else {"id": rng.randint(1, 500), "depth": rng.randint(1, 9)},
            },
        )
    indices = sorted(rng.sample(range(30000), rng.randint(3, 12)))
    return Point(
        id=i + 1,
        vectors={
            "dense": _vec(rng, 40),
            "keywords": SparseValue(indices, [round(rng.uniform(0.1, 3), 4) for _ in indices]),
        },
        payload={
            "title": f"{words[0].title()} guide ({i + 1})",
            "language": rng.choice(["en", "fr", "de", "ja"]),
            "pages": rng.randint(1, 300),
            "published": _date(rng),
            "authors": [_author(rng) for _ in range(rng.randint(1, 2))],
            "draft": rng.random() < 0.2,
            "rating": None if rng.random() < 0.3 else round(rng.uniform(1, 5), 1),
        },
    )


def create_demo_collections(
    endpoint: Endpoint,
    points: int = 2000,
    seed: int = 42,
    progress: ProgressSink | None = None,
) -> dict[str, int]:
    """Create the three demo collections (replacing any of that name); returns point counts."""
    from qdrant_ops.endpoints.base import CollectionSpec

    progress = progress or NullProgress()
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for name in DEMO_COLLECTIONS:
        if endpoint.collection_exists(name):
            endpoint.delete_collection(name)
        endpoint.create_collection(name, CollectionSpec(name=name, config=_spec(name)))
        task = progress.task(f"create {name}", total=points)
        batch: list[Point] = []
        for i in range(points):
            batch.append(_point(name, i, rng))
            if len(batch) == 250:
                endpoint.write(name, batch)
                task.advance(len(batch))
                batch = []
        if batch:
            endpoint.write(name, batch)
            task.advance(len(batch))
        task.done()
        counts[name] = endpoint.count(name)
    return counts
