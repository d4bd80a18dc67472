"""qdrant-ops' own operations and the peer's, and ``worker``: one operation in this fresh process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench_lib import ops
from bench_lib.datasets import COLLECTION
from bench_lib.raw import engine_uri
from bench_lib.rss import after_kb, rss_fields


def _backup(a: dict[str, Any]) -> dict[str, Any]:
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.config import BackupConfig
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    ops.open_source(a)
    cfg = BackupConfig(
        source=endpoint_from_uri(engine_uri(a["engine"], a["source"])),
        backup_path=a["backup_root"],
        collections=[COLLECTION],
        verify_integrity=False,
    )
    t, rep, rss = ops.timed(lambda: backup(cfg))
    # What the backup leaves alive in the process once it has returned (collected, the C
    # heap's free memory handed back): shown beside its peak, not a target.
    left_mb = (after_kb() - rss.anon_baseline) / 1024
    return dict(
        seconds=t, backup_dir=rep.backup_dir, ok=rep.status == "ok", rss_left_after_mb=left_mb, **rss_fields(rss)
    )


def _verify_backup(a: dict[str, Any]) -> dict[str, Any]:
    from qdrant_ops.data.verify import verify_backup

    t, rep, rss = ops.timed(lambda: verify_backup(a["backup_dir"]))
    return dict(seconds=t, ok=rep.status == "ok", **rss_fields(rss))


def _verify_against(a: dict[str, Any]) -> dict[str, Any]:
    from qdrant_ops.data.verify import verify_against
    from qdrant_ops.endpoints.open import open_endpoint

    ops.open_source(a)
    live = open_endpoint(engine_uri(a["engine"], a["source"]))
    t, rep, rss = ops.timed(lambda: verify_against(a["backup_dir"], live))
    return dict(seconds=t, ok=rep.status == "ok", **rss_fields(rss))


def _restore(a: dict[str, Any]) -> dict[str, Any]:
    from qdrant_ops.data.config import RestoreConfig
    from qdrant_ops.data.restore import restore
    from qdrant_ops.endpoints.open import open_endpoint
    from qdrant_ops.endpoints.uri import endpoint_from_uri

    engine = a["engine"]
    open_endpoint(engine_uri(engine, a["target"])).info()
    cfg = RestoreConfig(target=endpoint_from_uri(engine_uri(engine, a["target"])), backup=a["backup_dir"])
    t, rep, rss = ops.timed(lambda: restore(cfg), mark_writes=True)
    return dict(seconds=t, ok=rep.status == "ok", **rss_fields(rss, a.get("engine_growth")))


def _migrate_ours(a: dict[str, Any]) -> dict[str, Any]:
    """``qdrant-ops migrate`` with no transform, no pre-backup and no validation: the copy alone."""
    from qdrant_ops.endpoints.uri import endpoint_from_uri
    from qdrant_ops.migration.config import MigrateConfig
    from qdrant_ops.migration.run import migrate

    ops.open_source(a)
    engine = a["engine"]
    fields: dict[str, Any] = {
        "source_qdrant": endpoint_from_uri(engine_uri(engine, a["source"])),
        "target_qdrant": endpoint_from_uri(engine_uri(engine, a["target"])),
        "collections": [COLLECTION],
        "parallel": a["parallel"],
        "backup": False,
        "validate_after": False,
        "backup_path": a["target"] + "-state",
    }
    if engine == "memory":  # one shared store: the copy needs its own name
        fields["format_version"] = "copy"
    cfg = MigrateConfig(**fields)
    t, rep, rss = ops.timed(lambda: migrate(cfg))
    return {
        "available": True,
        "seconds": t,
        "ok": rep.status == "ok",
        "status": rep.status,
        "slices": rep.slices,  # qdrant-ops scans local mode in one stream whatever --parallel says
        **rss_fields(rss, a.get("engine_growth")),
    }


def _migrate_peer(a: dict[str, Any]) -> dict[str, Any]:
    if a["engine"] == "edge":
        return {"available": False}  # qdrant_client.migrate() speaks to QdrantClient stores only
    from qdrant_client import QdrantClient

    src, _ = ops.open_source(a)
    dst = QdrantClient(location=":memory:") if a["engine"] == "memory" else QdrantClient(path=a["target"])
    kwargs = {} if a["batch_size"] is None else {"batch_size": a["batch_size"]}
    t, _, rss = ops.timed(lambda: src.migrate(dst, collection_names=[COLLECTION], **kwargs))
    n = dst.count(COLLECTION, exact=True).count
    return {"seconds": t, "ok": n == a["n"], **rss_fields(rss, a.get("engine_growth"))}


OPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "load": ops.load,
    "engine_growth": ops.engine_growth,
    "raw_scroll": ops.raw_scroll_op,
    "read_call": ops.read_call,
    "raw_upsert": ops.raw_upsert_op,
    "raw_parquet": ops.raw_parquet,
    "backup": _backup,
    "verify_backup": _verify_backup,
    "verify_against": _verify_against,
    "restore": _restore,
    "migrate": _migrate_ours,
    "migrate_peer": _migrate_peer,
}


def worker(a: dict[str, Any]) -> dict[str, Any]:
    ops.preload()
    op = a["op"]
    run = OPS.get(op)
    if run is None:
        raise SystemExit(f"unknown op {op}")
    return {"op": op, **run(a)}
