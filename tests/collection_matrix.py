"""Helpers of the round-trip matrix and the property-based run: make a corpus case in an engine,
run a verb through the CLI as a user would, and compare what the target holds with the source."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from collection_corpus import Case, spec_of
from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import Endpoint, Point, VectorField
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.format.compare import point_difference

ENGINES = ("local", "memory", "edge")
ENGINE_NAMES = {"local": "local mode", "memory": "local mode", "edge": "Qdrant Edge"}
runner = CliRunner()


def store_uri(engine: str, base: Path) -> str:
    if engine == "memory":
        return ":memory:"
    if engine == "edge":
        return f"edge:{base}-edge"
    return f"{base}-local"


def make_source(case: Case, uri: str, name: str) -> Endpoint:
    """``case`` created at ``uri`` as a user would: qdrant-client calls on local mode, the
    qdrant-ops Edge store (which is how an Edge store gets a config) on Edge."""
    ep = open_endpoint(uri)
    if uri.startswith("edge:"):
        ep.create_collection(name, spec_of(case, name))
        for alias in case.aliases:
            ep.set_alias(alias, name)
    else:
        client = ep.client  # type: ignore[attr-defined]
        client.create_collection(name, **case.kwargs)
        for field_name, schema in case.indexes.items():
            client.create_payload_index(name, field_name=field_name, field_schema=schema)
        for alias in case.aliases:
            ep.set_alias(alias, name)
    if case.points:
        ep.write(name, case.points)
    # Reopened, so the source is described as the engine reports it once stored (Edge writes its
    # defaults into the shard's config when it loads it).
    close_all(keep_memory=True)
    return open_endpoint(uri)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def cli(*args: str) -> CliResult:
    res = runner.invoke(app, list(args))
    return CliResult(res.exit_code, res.stdout, res.stderr)


def comparable(config: dict[str, Any], *, migrated: bool = False) -> dict[str, Any]:
    """A collection's config as compared: the migration record (``metadata.migration``) left out."""
    out = copy.deepcopy(config)
    if migrated:
        meta = dict(out.get("metadata") or {})
        meta.pop("migration", None)
        if meta:
            out["metadata"] = meta
        else:
            out.pop("metadata", None)
    return out


def schema_of(spec_schema: dict[str, Any]) -> dict[str, Any]:
    """Payload indexes without their point counts (which an index reports as it fills)."""
    return {k: {kk: vv for kk, vv in v.items() if kk != "points"} for k, v in spec_schema.items()}


def points_of(ep: Endpoint, name: str) -> dict[Any, Point]:
    out: dict[Any, Point] = {}
    for page in ep.scan(name, batch_size=64):
        for p in page.points:
            out[p.id] = p
    return out


def points_differ(a: dict[Any, Point], b: dict[Any, Point], fields: list[VectorField], *, edge: bool) -> list[str]:
    """How two point sets differ (empty when equal): ids and payloads exactly (payload floats
    within 1 ULP where Edge is involved, DESIGN.md), vectors as ``verify --full`` compares them."""
    if a.keys() != b.keys():
        return [f"ids differ: {sorted(map(str, a.keys() ^ b.keys()))[:5]}"]
    out: list[str] = []
    for pid, p in a.items():
        diff = point_difference(p, b[pid], fields, 1 if edge else 0)
        if diff is not None:
            out.append(f"{pid}: {diff}")
    return out


def state_of(uri: str, root: Path) -> str:
    """What a store holds on disk (names and sizes), to show a refusal wrote nothing."""
    if uri == ":memory:":
        return json.dumps(sorted(open_endpoint(uri).list_collections()))
    path = Path(uri.removeprefix("edge:"))
    if not path.exists():
        return "absent"
    return json.dumps(sorted(str(p.relative_to(path)) for p in path.rglob("*")))


def missing_from(asked: Any, got: Any, path: str = "") -> list[str]:
    """What of ``asked`` (a config as given) ``got`` (as the engine reports it) lacks or changes;
    keys ``got`` adds (the engine's defaults) are not differences."""
    if isinstance(asked, dict) and isinstance(got, dict):
        out: list[str] = []
        for k, v in asked.items():
            if k not in got:
                out.append(f"{path}.{k} missing (asked {v!r})")
            else:
                out += missing_from(v, got[k], f"{path}.{k}")
        return out
    return [] if asked == got else [f"{path}: asked {asked!r}, got {got!r}"]
