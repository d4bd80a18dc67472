"""``migrate --aliases copy``: the source collections' aliases, recreated on the target collections.

Applications that query through an alias find the migrated data on the new store under the same
name. Planned before anything is written: an alias that already exists on the target pointing at
another collection refuses the run (exit 2) unless ``on_exists`` is ``replace``. Created once the
data is written and, when validation runs, only after it passed (as ``--switch-alias``). On the
same store the aliases are shared with the sources: moving them is a cutover (``--switch-alias``,
``qdrant-ops cutover``), never a side effect of the copy.
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_ops.endpoints.base import Endpoint
from qdrant_ops.errors import TargetExistsError
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.jobs import _Job
from qdrant_ops.migration.report import AliasMove, MigrateReport

_PLANNED = ("create", "replace")


def plan_aliases(
    cfg: MigrateConfig, dst: Endpoint, jobs: Sequence[_Job], same_store: bool, report: MigrateReport
) -> dict[str, list[AliasMove]]:
    """Source collection name -> its aliases' moves, as the target stands now."""
    found = {j.name: list(j.spec.aliases) for j in jobs if j.spec.aliases}
    if not found:
        return {}
    listed = "; ".join(f"{n}: {', '.join(a)}" for n, a in found.items())
    if cfg.aliases == "none":
        report.notes.append(f"aliases not copied (--aliases none): {listed}")
        return {}
    if same_store:
        report.notes.append(
            f"aliases left on the source collections ({listed}): source and target are one store, "
            "where moving an alias is a cutover (--switch-alias, or qdrant-ops cutover)"
        )
        return {}
    current = dst.aliases() if dst.info().kind != "absent" else {}
    out: dict[str, list[AliasMove]] = {}
    for j in jobs:
        moves: list[AliasMove] = []
        for alias in j.spec.aliases:
            if alias == cfg.switch_alias:
                continue  # --switch-alias moves it after validation, and records the cutover
            previous = current.get(alias)
            if previous is None:
                status = "create"
            elif previous == j.tname:
                status = "already there"
            elif cfg.on_exists == "replace":
                status = "replace"
            else:
                status = f"refused: the target's alias points at {previous}"
            moves.append(AliasMove(alias=alias, collection=j.tname, previous=previous, status=status))
        if moves:
            out[j.name] = moves
    return out


def refused(plan: dict[str, list[AliasMove]]) -> list[str]:
    return [f"{m.alias} (points at {m.previous})" for moves in plan.values() for m in moves
            if m.status.startswith("refused")]


def check_aliases(plan: dict[str, list[AliasMove]], display: str) -> None:
    """Refuse (exit 2) when an alias to copy already points at another collection on the target."""
    bad = refused(plan)
    if bad:
        raise TargetExistsError(
            f"alias(es) already exist at {display} pointing at other collections: {', '.join(bad)} "
            "(use --on-exists replace to move them, or --aliases none)"
        )


def apply_aliases(dst: Endpoint, moves: list[AliasMove], on_exists: str, skip_reason: str | None) -> None:
    """Create the planned aliases (the target is read again: a replaced collection lost its own)."""
    current = dst.aliases()
    for m in moves:
        if skip_reason is not None:
            m.status = f"not created: {skip_reason}"
            continue
        now = current.get(m.alias)
        if now == m.collection:
            m.status = "already there"
            continue
        if now is not None and on_exists != "replace":
            m.status = f"not created: the target's alias points at {now} now"
            continue
        dst.set_alias(m.alias, m.collection)
        m.previous = now
        m.status = "created" if now is None else f"replaced (pointed at {now})"
