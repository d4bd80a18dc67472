"""Python hooks used by the migrate tests (imported as ``migrate_hooks:NAME``)."""

from __future__ import annotations

from typing import Any

from qdrant_ops.endpoints.base import Point


def drop_odd(points: list[Point]) -> list[Point]:
    return [p for p in points if int(p.payload["i"]) % 2 == 0]  # type: ignore[index]


def double_vectors(points: list[Point], context: dict[str, Any]) -> list[Point]:
    for p in points:
        p.vectors[""] = [2 * float(x) for x in p.vectors[""]]
        p.payload = {**(p.payload or {}), "collection": context["collection"]}
    return points


def wrong_size(points: list[Point]) -> list[Point]:
    for p in points:
        p.vectors[""] = [0.5, 0.5]
    return points
