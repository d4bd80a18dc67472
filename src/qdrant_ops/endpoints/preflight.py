"""Pre-flight: every collection of a run checked against the target engine before the first write.

An endpoint that cannot hold some collection feature says so through an optional method
``refusals(spec) -> list[str]`` (one line per feature it refuses; empty when it takes the spec).
``restore`` and ``migrate`` call ``check_writable`` with every collection they would create, so a
run either creates all of them or none: a refusal found halfway would leave the first collections
written and the rest missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_ops.endpoints.base import CollectionSpec, Endpoint
from qdrant_ops.errors import UnsupportedError


def refusals_of(dst: Endpoint, spec: CollectionSpec) -> list[str]:
    """What ``dst`` refuses of ``spec`` (nothing, for an endpoint without ``refusals``)."""
    refusals = getattr(dst, "refusals", None)
    if not callable(refusals):
        return []
    return [str(r) for r in refusals(spec)]


def check_writable(dst: Endpoint, specs: Sequence[tuple[str, CollectionSpec]]) -> None:
    """Raise ``UnsupportedError`` (exit 2) naming every ``(target name, spec)`` that ``dst``
    would refuse, and why; return when it takes all of them."""
    found: list[str] = []
    for tname, spec in specs:
        found += [f"collection {tname!r}: {why}" for why in refusals_of(dst, spec)]
    if found:
        display = dst.info().display
        raise UnsupportedError(
            f"{display} cannot hold {'; '.join(found)}. Nothing was written.",
            refusals=found,
        )
