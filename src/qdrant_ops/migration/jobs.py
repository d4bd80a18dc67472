"""A migration job per collection: its plan, target spec and checks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qdrant_ops import __version__
from qdrant_ops.endpoints.base import CollectionSpec, Endpoint, Point, VectorField
from qdrant_ops.errors import TargetExistsError
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.plan import (
    METADATA_KEY,
    build_target_spec,
    check_layout_compatible,
    misfit,
    settings_for,
    target_name,
)
from qdrant_ops.migration.report import MigrateReport
from qdrant_ops.migration.transforms import Transformer, clone_points
from qdrant_ops.pipeline.retry import retrying_scan

SAMPLE_SIZE = 200


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class _Job:
    """One collection's migration, as planned before anything is written."""

    name: str
    tname: str
    spec: CollectionSpec
    tspec: CollectionSpec
    tfields: list[VectorField]
    transformer: Transformer
    vector_names: dict[str, str]
    sample_before: list[Point] = field(default_factory=list)
    sample_after: list[Point] = field(default_factory=list)
    sample_read_s: float = 0.0
    sample_filtered: int = 0


def _plan_job(
    cfg: MigrateConfig, src: Endpoint, dst: Endpoint, name: str, same_store: bool, report: MigrateReport
) -> _Job:
    spec = src.get_spec(name)
    tname = target_name(cfg, name, same_store)
    settings = settings_for(cfg.target, name)
    transformer = Transformer(
        cfg.transforms,
        context={"collection": name, "target_collection": tname, "format_version": cfg.format_version},
    )
    metadata = {
        "format_version": cfg.format_version,
        "source": report.source,
        "source_collection": name,
        "tool": "qdrant-ops",
        "tool_version": __version__,
        "status": "in-progress",
        "transforms": transformer.describe(),
    }
    tspec = build_target_spec(spec, settings, transformer, tname, metadata if cfg.stamp else None)
    tfields = tspec.vector_fields()
    vector_names = _vector_names(spec, transformer)
    describe = getattr(src, "describe_mapping", None)  # another database: its mapping rules, in the plan
    if callable(describe):
        report.source_mapping.extend(str(line) for line in describe(name))
    job = _Job(name, tname, spec, tspec, tfields, transformer, vector_names)
    # Run a sample through the transforms: output that cannot fit the target fails here.
    started = time.monotonic()
    sample: list[Point] = []
    # Retried like every read: a transient error here would otherwise fail the whole migrate.
    for page in retrying_scan(src, name, batch_size=min(cfg.batch_size or SAMPLE_SIZE, SAMPLE_SIZE)):
        sample.extend(page.points)
        break
    job.sample_read_s = time.monotonic() - started
    job.sample_before = clone_points(sample)
    result = transformer.apply(sample)
    job.sample_after = result.points
    job.sample_filtered = result.filtered
    if result.failures:
        f = result.failures[0]
        from qdrant_ops.errors import ConfigError

        raise ConfigError(f"{name}: a transform fails on point {f.point.id}: {f.error}", key="transforms")
    for p in result.points:
        why = misfit(p, tfields)
        if why is not None:
            from qdrant_ops.errors import ConfigError

            raise ConfigError(
                f"{name}: transformed points do not fit target {tname}: {why}", key="transforms"
            )
    if dst.collection_exists(tname) and cfg.on_exists == "append":
        check_layout_compatible(dst.get_spec(tname), tspec)
    return job


def _vector_names(spec: CollectionSpec, transformer: Transformer) -> dict[str, str]:
    """Target vector name -> source vector name, following renames (hooks: unknown, left out)."""
    current = {f.name: f.name for f in spec.vector_fields()}
    for old, new in transformer.vector_renames():
        origin = current.pop(old, None)
        if new is not None and origin is not None:
            current[new] = origin
    return current


def _check_batch(cfg: MigrateConfig) -> int:
    """Points per page when validating: ``--batch-size``, or 1000."""
    return cfg.batch_size or 1000


def _plan_dict(cfg: MigrateConfig, report: MigrateReport, jobs: list[_Job], slices: int) -> dict[str, Any]:
    return {
        "source": report.source,
        "target": report.target,
        "collections": {j.name: j.tname for j in jobs},
        "transforms": [t.model_dump(by_alias=True, exclude_none=True) for t in cfg.transforms],
        "target_settings": cfg.target.model_dump(by_alias=True, exclude_unset=True),
        "format_version": cfg.format_version,
        "stamp_payload": cfg.stamp_payload,
        **({} if cfg.stamp else {"stamp": False}),  # plans saved before the option still resume
        "slices": slices,
        "on_exists": cfg.on_exists,
    }


def _check_targets(dst: Endpoint, jobs: list[_Job], on_exists: str) -> None:
    existing = [j.tname for j in jobs if dst.collection_exists(j.tname)]
    if existing and on_exists == "fail":
        raise TargetExistsError(
            f"target collection(s) already exist at {dst.info().display}: {', '.join(existing)} "
            "(use --on-exists replace|append, or another target name / format_version)"
        )


def _update_metadata(dst: Endpoint, tname: str, entry: dict[str, Any], report: MigrateReport) -> None:
    update = getattr(dst, "update_metadata", None)
    if not callable(update):
        report.notes.append(f"{dst.info().display} cannot update collection metadata; the report holds it")
        return
    update(tname, {METADATA_KEY: entry})
