"""Alias cutover and rollback.

``switch_alias`` points an alias at a collection in one atomic alias update (delete + create in
one request), and records the previous target in the new collection's metadata under
``cutovers``: ``[{alias, previous, switched_at, rolled_back_at}]``. ``rollback_alias`` reads that
record on the collection the alias points at now and points the alias back (or removes it, when it
did not exist before). The record lives in the store itself, so a rollback needs no local state.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from qdrant_ops.endpoints.base import Endpoint
from qdrant_ops.errors import CheckFailedError, NotFoundError, UnsupportedError, UsageError
from qdrant_ops.migration.plan import METADATA_KEY
from qdrant_ops.reports import Report, md_table

log = logging.getLogger(__name__)

CUTOVERS_KEY = "cutovers"


class CutoverReport(Report):
    verb: str = "cutover"
    endpoint: str = ""
    alias: str = ""
    collection: str = ""
    previous: str | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        lines.append(f"  alias {self.alias}: {self.previous or '(none)'} -> {self.collection or '(removed)'}")
        return lines

    def markdown_sections(self) -> list[str]:
        return ["", md_table(["endpoint", "alias", "previous", "now"],
                             [[self.endpoint, self.alias, self.previous or "(none)", self.collection or "(removed)"]])]


class RollbackReport(CutoverReport):
    verb: str = "rollback"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _record(ep: Endpoint, collection: str, entries: list[dict[str, Any]], report: Report) -> None:
    update = getattr(ep, "update_metadata", None)
    if not callable(update):
        report.notes.append(f"{ep.info().display} cannot store collection metadata: cutover not recorded there")
        return
    update(collection, {CUTOVERS_KEY: entries})


def switch_alias(ep: Endpoint, alias: str, collection: str, *, require_validation: bool = False) -> CutoverReport:
    """Point ``alias`` at ``collection`` atomically, recording where it pointed before."""
    report = CutoverReport(endpoint=ep.info().display, alias=alias, collection=collection)
    if not ep.collection_exists(collection):
        raise NotFoundError(f"collection {collection!r} does not exist at {report.endpoint}")
    metadata = ep.get_spec(collection).metadata
    if require_validation:
        status = (metadata.get(METADATA_KEY) or {}).get("validation")
        if status != "passed":
            raise CheckFailedError(
                f"{collection} has no passed validation recorded (validation: {status or 'never run'}); "
                "run qdrant-ops validate first, or pass --force"
            )
    previous = ep.aliases().get(alias)
    if previous is None and ep.collection_exists(alias):
        # Qdrant refuses an alias named like a collection; say so instead of its bare error.
        raise UsageError(
            f"{alias!r} is a collection at {report.endpoint}, so it cannot also be an alias: migrate it "
            f"under another name, then drop or rename the collection {alias!r} before the cutover"
        )
    report.previous = previous
    if previous == collection:
        report.notes.append(f"alias {alias} already points at {collection}")
        report.finish()
        return report
    ep.set_alias(alias, collection)
    history = list(metadata.get(CUTOVERS_KEY) or [])
    history.append({"alias": alias, "previous": previous, "switched_at": _now(), "rolled_back_at": None})
    _record(ep, collection, history, report)
    report.history = history
    log.info("alias %s: %s -> %s", alias, previous, collection)
    report.finish()
    return report


def rollback_alias(ep: Endpoint, alias: str) -> RollbackReport:
    """Point ``alias`` back where it pointed before its last recorded cutover."""
    report = RollbackReport(endpoint=ep.info().display, alias=alias)
    current = ep.aliases().get(alias)
    if current is None:
        raise NotFoundError(f"alias {alias!r} does not exist at {report.endpoint}")
    history = list(ep.get_spec(current).metadata.get(CUTOVERS_KEY) or [])
    open_entries = [i for i, h in enumerate(history) if h.get("alias") == alias and not h.get("rolled_back_at")]
    if not open_entries:
        raise NotFoundError(
            f"no cutover of alias {alias!r} is recorded on {current!r} (the collection it points at): "
            "nothing to roll back"
        )
    entry = dict(history[open_entries[-1]])
    previous = entry.get("previous")
    report.previous = current
    if previous is None:
        delete = getattr(ep, "delete_alias", None)
        if not callable(delete):
            raise UnsupportedError(f"{report.endpoint} cannot delete aliases; alias {alias} left on {current}")
        delete(alias)
        report.collection = ""
        report.notes.append(f"alias {alias} did not exist before the cutover: removed")
    else:
        if not ep.collection_exists(str(previous)):
            raise NotFoundError(f"cannot roll back alias {alias}: its previous collection {previous!r} is gone")
        ep.set_alias(alias, str(previous))
        report.collection = str(previous)
    entry["rolled_back_at"] = _now()
    history[open_entries[-1]] = entry
    _record(ep, current, history, report)
    report.history = history
    report.finish()
    return report
