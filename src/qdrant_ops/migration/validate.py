"""The ``validate`` verb, and the validation step inside ``migrate``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from qdrant_ops.endpoints.base import Endpoint, Point
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.format.integrity import Digest
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.jobs import _check_batch, _Job, _now, _update_metadata, _vector_names
from qdrant_ops.migration.plan import METADATA_KEY, target_name
from qdrant_ops.migration.report import CollectionMigration, MigrateReport, ValidateReport
from qdrant_ops.migration.transforms import Transformer
from qdrant_ops.migration.validation import check_content, check_parity, digest_points, expected_points
from qdrant_ops.pipeline.gcpolicy import bulk
from qdrant_ops.pipeline.observed import Observed
from qdrant_ops.pipeline.scope import select_collections
from qdrant_ops.progress import NullProgress, ProgressSink

# -- validation ------------------------------------------------------------------------------------


def _validate_job(
    cfg: MigrateConfig, src: Endpoint, dst: Endpoint, job: _Job, row: CollectionMigration, report: MigrateReport,
    progress: ProgressSink | None = None,
) -> None:
    # The content check reads the whole target: its pages drive a progress line.
    task = (progress or NullProgress()).task(f"validate {job.tname}", total=row.written or None)
    try:
        _validate_observed(cfg, src, Observed(dst, task), job, row, report)
    finally:
        task.done()


def _validate_observed(
    cfg: MigrateConfig, src: Endpoint, dst: Endpoint, job: _Job, row: CollectionMigration, report: MigrateReport
) -> None:
    written = Digest(int(row.digest, 16), int(row.digest_keys, 16), row.digest_count)
    ulps = 1 if "edge" in (src.info().kind, dst.info().kind) else 0
    tspec = dst.get_spec(job.tname)
    if cfg.validation.content:
        check_content(
            report, job.name, written=written, dst=dst, tname=job.tname, tspec=tspec,
            rebuild=lambda: expected_points(src, job.name, job.transformer, _check_batch(cfg)),
            ulps=ulps, batch_size=_check_batch(cfg), dropped=row.dropped,
        )
    else:
        count = dst.count(job.tname)
        report.check("count", count == written.count and not row.dropped,
                     f"{count} points in {job.tname}, {written.count} written, {row.dropped} dropped by a hook",
                     collection=job.name)
    if cfg.validation.parity:
        check_parity(
            report, job.name, src=src, name=job.name, dst=dst, tname=job.tname, tspec=tspec,
            vector_names=job.vector_names,
            against_target=job.transformer.changes_vectors or job.transformer.changes_selection,
            settings=cfg.validation,
        )


def _record_validation(dst: Endpoint, jobs: list[_Job], report: MigrateReport) -> None:
    for j in jobs:
        checks = [c for c in report.checks if c.collection == j.name]
        if not checks:
            continue
        passed = all(c.passed for c in checks)
        meta = dst.get_spec(j.tname).metadata.get(METADATA_KEY) or {}
        _update_metadata(dst, j.tname, {**meta, "validation": "passed" if passed else "failed",
                                        "validated_at": _now()}, report)


# -- validate alone ---------------------------------------------------------------------------------


@bulk
def validate(
    cfg: MigrateConfig,
    *,
    source: Endpoint | None = None,
    target: Endpoint | None = None,
) -> ValidateReport:
    """Validate what a migration config produced: counts, content and semantic parity.

    The expected content is the digest the migration recorded in the target's metadata; without
    one (a target not written by qdrant-ops) it is computed from the source and the transforms.
    """
    src = source or open_endpoint(cfg.source_endpoint(), must_exist=True)
    dst = target or open_endpoint(cfg.target_endpoint(), must_exist=True)
    report = ValidateReport(source=src.info().display, target=dst.info().display)
    names = select_collections(src, cfg.collections)
    ulps = 1 if "edge" in (src.info().kind, dst.info().kind) else 0
    for name in names:
        tname = target_name(cfg, name, src is dst)
        report.collections[name] = tname
        if not dst.collection_exists(tname):
            report.check("exists", False, f"{tname} not found at {report.target}", collection=name)
            continue
        tspec = dst.get_spec(tname)
        meta = tspec.metadata.get(METADATA_KEY) or {}
        transformer = Transformer(cfg.transforms, context={
            "collection": name, "target_collection": tname, "format_version": cfg.format_version})
        if cfg.stamp_payload:
            transformer.stamp = {"format_version": cfg.format_version, "migrated_at": meta.get("migrated_at")}
        spec = src.get_spec(name)
        if isinstance(meta.get("digest"), dict):
            written = Digest.from_json(meta["digest"])
        else:
            written = Digest()
            for batch in expected_points(src, name, transformer, _check_batch(cfg)):
                written.add(digest_points(batch, tspec.vector_fields()))
            report.notes.append(f"{tname}: no migration digest in its metadata; expected content computed from the source")
        ok = True
        if cfg.validation.content:
            with report.phase("content"):
                ok = check_content(
                    report, name, written=written, dst=dst, tname=tname, tspec=tspec,
                    rebuild=_rebuilder(src, name, transformer, _check_batch(cfg)),
                    ulps=ulps, batch_size=_check_batch(cfg), dropped=int(meta.get("points_dropped") or 0),
                )
        if cfg.validation.parity:
            with report.phase("parity"):
                ok = check_parity(
                    report, name, src=src, name=name, dst=dst, tname=tname, tspec=tspec,
                    vector_names=_vector_names(spec, transformer),
                    against_target=transformer.changes_vectors or transformer.changes_selection,
                    settings=cfg.validation,
                ) and ok
        if meta:
            _update_metadata_quiet(dst, tname, {**meta, "validation": "passed" if ok else "failed", "validated_at": _now()})
    report.finish()
    return report


def _rebuilder(src: Endpoint, name: str, transformer: Transformer, batch_size: int) -> Callable[[], Iterator[list[Point]]]:
    def rebuild() -> Iterator[list[Point]]:
        return expected_points(src, name, transformer, batch_size)

    return rebuild


def _update_metadata_quiet(dst: Endpoint, tname: str, entry: dict[str, Any]) -> None:
    update = getattr(dst, "update_metadata", None)
    if callable(update):
        update(tname, {METADATA_KEY: entry})
