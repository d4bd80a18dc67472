"""``migrate --dry-run``: every read and check, shown as a plan, nothing written."""

from __future__ import annotations

import io
import shutil
import time
from typing import Any

from qdrant_ops.endpoints.base import Endpoint, Point
from qdrant_ops.format.columns import encode_points
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.jobs import _Job
from qdrant_ops.migration.plan import config_diff
from qdrant_ops.migration.report import CollectionMigration, MigrateReport, SamplePoint
from qdrant_ops.migration.transforms import clone_points
from qdrant_ops.pipeline.writer import estimate_bytes
from qdrant_ops.repository.location import state_root

# -- dry run --------------------------------------------------------------------------------------


def _dry_run(cfg: MigrateConfig, src: Endpoint, dst: Endpoint, jobs: list[_Job], report: MigrateReport) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    total_backup = 0
    for j in jobs:
        row = CollectionMigration(name=j.name, target_name=j.tname, source_points=j.spec.points_count,
                                  config_diff=config_diff(j.spec, j.tspec), action="planned")
        exists = dst.collection_exists(j.tname)
        row.action = {
            (False, "fail"): "create", (False, "replace"): "create", (False, "append"): "create",
            (True, "fail"): "refused: target exists", (True, "replace"): "replace", (True, "append"): "append",
        }[(exists, cfg.on_exists)]
        if exists and cfg.on_exists == "fail":
            report.check(
                "target",
                False,
                f"{j.tname} already exists at {report.target}: the run would refuse it "
                "(use --on-exists replace|append, or another target name)",
                collection=j.name,
            )
        n = len(j.sample_before)
        count = j.spec.points_count
        keep = (len(j.sample_after) / n) if n else 1.0
        if j.sample_filtered:
            report.notes.append(f"{j.name}: filters removed {j.sample_filtered} of {n} sample points")
        row.estimated_points = int(round(count * keep))
        after_bytes = sum(estimate_bytes(p) for p in j.sample_after)
        row.estimated_bytes = int(after_bytes / max(len(j.sample_after), 1) * row.estimated_points)
        if n:
            buf = io.BytesIO()
            fields = j.spec.vector_fields()
            pq.write_table(pa.Table.from_batches([encode_points(j.sample_before, fields)]), buf, compression="zstd")
            row.estimated_backup_bytes = int(buf.tell() / n * count)
        total_backup += row.estimated_backup_bytes
        t0 = time.monotonic()
        j.transformer.apply(clone_points(j.sample_before))
        per_point = (j.sample_read_s + (time.monotonic() - t0)) / n if n else 0.0
        row.estimated_duration_s = round(per_point * count, 2)
        for before, after in zip(j.sample_before[:3], _match(j.sample_before[:3], j.sample_after), strict=True):
            row.samples.append(SamplePoint(id=str(before.id), before=_show(before), after=_show(after) if after else None))
        report.collections.append(row)
    report.estimated_backup_bytes = total_backup if cfg.backup else 0
    # To an object store the backup is staged in the local cache first: its disk is the one to check.
    root = state_root(cfg.backup_path).resolve()
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    report.free_disk_bytes = shutil.disk_usage(probe).free
    if cfg.backup and total_backup > report.free_disk_bytes:
        report.check("disk", False, f"backup needs ~{total_backup} bytes, {report.free_disk_bytes} free at {probe}")
    elif cfg.backup:
        report.check("disk", True, f"backup needs ~{total_backup} bytes, {report.free_disk_bytes} free at {probe}")
    report.notes.append(
        "estimated durations come from a timed sample read and transform; writes are not sampled in a "
        "dry run (nothing is written)"
    )
    report.state_file = ""


def _match(before: list[Point], after: list[Point]) -> list[Point | None]:
    from qdrant_ops.format.columns import normalize_id

    by_id = {normalize_id(p.id): p for p in after}
    return [by_id.get(normalize_id(p.id)) for p in before]


def _show(p: Point) -> dict[str, Any]:
    vectors: dict[str, Any] = {}
    for name, v in p.vectors.items():
        label = name or "(unnamed)"
        if hasattr(v, "indices"):
            vectors[label] = f"sparse, {len(v.indices)} entries"
        elif isinstance(v, list) and v and isinstance(v[0], list):
            vectors[label] = f"multi, {len(v)} x {len(v[0])}"
        else:
            vectors[label] = f"dense, {len(v)}"
    return {"payload": p.payload, "vectors": vectors}
