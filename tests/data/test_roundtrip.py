"""backup -> restore -> verify is exact for every point shape, on every embedded engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datagen import SHAPES, make_collection
from qdrant_ops.data.backup import backup
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_against, verify_backup, verify_live
from qdrant_ops.endpoints.archive import load_manifest
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri

# These tests run ``--parallel N`` through the slice machinery on the embedded engines.
pytestmark = pytest.mark.usefixtures("sliced_local_mode")


def _all_points(uri: str, name: str) -> dict[object, tuple[object, object]]:
    ep = open_endpoint(uri)
    out = {}
    for page in ep.scan(name, batch_size=100):
        for p in page.points:
            out[p.id] = (p.payload, p.vectors)
    return out


@pytest.mark.parametrize("parallel", [1, 2])
def test_roundtrip_every_shape(store_uri: str, target_uri: str, tmp_path: Path, parallel: int) -> None:
    for shape in SHAPES:
        make_collection(store_uri, shape, shape, n=150)
    rep = backup(
        BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(tmp_path / "bk"), parallel=parallel, batch_size=40, rows_per_file=70)
    )
    assert rep.status == "ok", rep.summary_lines()
    manifest = load_manifest(Path(rep.backup_dir))
    assert set(manifest.collections) == set(SHAPES)
    assert manifest.collections["empty"].points_count == 0
    assert all(manifest.collections[s].points_count == 150 for s in SHAPES if s != "empty")
    assert verify_backup(rep.backup_dir).status == "ok"

    rrep = restore(RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(target_uri), suffix="_r", batch_size=33))
    assert rrep.status == "ok", rrep.summary_lines()
    target = open_endpoint(target_uri)
    assert sorted(target.list_collections()) == sorted(f"{s}_r" for s in SHAPES)

    vrep = verify_against(rep.backup_dir, target, suffix="_r", full=True)
    assert vrep.status == "ok", vrep.summary_lines()
    live = verify_live(open_endpoint(store_uri), target, suffix="_r", full=True)
    assert live.status == "ok", live.summary_lines()

    for shape in SHAPES:
        src_pts = _all_points(store_uri, shape)
        dst_pts = _all_points(target_uri, f"{shape}_r")
        assert src_pts.keys() == dst_pts.keys()
        for pid, (payload, _) in src_pts.items():
            # payloads are kept exactly: same JSON text (ints vs floats, unicode, nulls, nesting)
            assert json.dumps(dst_pts[pid][0], sort_keys=True) == json.dumps(payload, sort_keys=True)
        ids = list(src_pts)
        if shape == "uuid-named":
            assert all(isinstance(i, str) for i in ids)
        elif shape != "empty":
            assert all(isinstance(i, int) for i in ids)


def test_restore_recreates_spec_and_aliases(store_uri: str, target_uri: str, tmp_path: Path) -> None:
    make_collection(store_uri, "docs", "uuid-named", n=20)
    src = open_endpoint(store_uri)
    client = src.client  # type: ignore[attr-defined]
    client.update_collection("docs", metadata={"owner": "search-team", "v": 3})
    src.set_alias("docs_live", "docs")
    rep = backup(BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(tmp_path / "bk")))
    restore(RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(target_uri), rename={"docs": "docs2"}))
    dst = open_endpoint(target_uri)
    spec = dst.get_spec("docs2")
    assert spec.metadata == {"owner": "search-team", "v": 3}
    assert spec.vector_fields() == src.get_spec("docs").vector_fields()
    assert dst.aliases() == {"docs_live": "docs2"}


def test_backup_root_resolves_newest_and_tar(store_uri: str, target_uri: str, tmp_path: Path) -> None:
    make_collection(store_uri, "a", "int-unnamed", n=30)
    cfg = BackupConfig(source=endpoint_from_uri(store_uri), backup_path=str(tmp_path / "bk"), tar=True)
    rep = backup(cfg)
    assert rep.backup_dir.endswith(".tar")
    assert verify_backup(str(tmp_path / "bk")).status == "ok"
    rrep = restore(RestoreConfig(backup=str(tmp_path / "bk"), target=endpoint_from_uri(target_uri)))
    assert rrep.collections[0].written == 30


def test_spec_to_create_kwargs_keeps_every_setting() -> None:
    """Local mode ignores HNSW/optimizer/quantization settings, so check the mapping itself."""
    from qdrant_client import models

    from qdrant_ops.endpoints.base import CollectionSpec
    from qdrant_ops.endpoints.qdrant import spec_to_create_kwargs

    spec = CollectionSpec(
        name="x",
        config={
            "params": {
                "vectors": {"a": {"size": 4, "distance": "Cosine", "on_disk": True, "datatype": "float16"}},
                "sparse_vectors": {"s": {"modifier": "idf"}},
                "shard_number": 3,
                "replication_factor": 2,
                "on_disk_payload": True,
            },
            "hnsw_config": {"m": 32, "ef_construct": 200, "full_scan_threshold": 5000},
            "optimizer_config": {"default_segment_number": 4, "indexing_threshold": 10000},
            "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
            "metadata": {"k": "v"},
        },
    )
    kw = spec_to_create_kwargs(spec)
    assert kw["vectors_config"]["a"].on_disk is True
    assert kw["vectors_config"]["a"].datatype == models.Datatype.FLOAT16
    assert kw["sparse_vectors_config"]["s"].modifier == models.Modifier.IDF
    assert (kw["shard_number"], kw["replication_factor"], kw["on_disk_payload"]) == (3, 2, True)
    assert kw["hnsw_config"].m == 32 and kw["hnsw_config"].ef_construct == 200
    assert kw["optimizers_config"].default_segment_number == 4
    assert isinstance(kw["quantization_config"], models.ScalarQuantization)
    assert kw["quantization_config"].scalar.quantile == 0.99
    assert kw["metadata"] == {"k": "v"}


def test_rerun_of_a_finished_restore_reports_it_done(tmp_path: Path, target_uri: str) -> None:
    """A restore killed after it finished (state gone) is recognised by the rerun, not refused."""
    from qdrant_ops.errors import TargetExistsError

    make_collection(":memory:", "a", "int-unnamed", n=40)
    rep = backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "bk")))
    cfg = RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(target_uri))
    assert restore(cfg).status == "ok"
    again = restore(cfg)
    assert again.status == "ok" and again.collections[0].action == "already restored"
    assert again.collections[0].written == 0
    # once the target no longer holds what was restored, the rerun refuses as usual
    open_endpoint(target_uri).client.delete("a", points_selector=[1])  # type: ignore[attr-defined]
    with pytest.raises(TargetExistsError):
        restore(cfg)


@pytest.mark.parametrize("configured,expected_batches", [(None, 3), (100, 6)])
def test_restore_writes_in_the_targets_batch_size_unless_told(
    target_uri: str, tmp_path: Path, configured: int | None, expected_batches: int
) -> None:
    """By default a restore writes as many points per request as suits the target
    (``pipeline.sizing.write_batch``: 256 for an embedded store); ``batch_size`` overrides it."""
    from qdrant_ops.pipeline.sizing import write_batch

    make_collection(":memory:", "wb", "int-unnamed", n=600)
    rep = backup(BackupConfig(source=endpoint_from_uri(":memory:"), backup_path=str(tmp_path / "bk"), collections=["wb"], batch_size=600))
    assert write_batch(open_endpoint(target_uri).info().kind) == 256
    rrep = restore(RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(target_uri), suffix="_w", batch_size=configured))
    assert rrep.status == "ok", rrep.summary_lines()
    (row,) = rrep.collections
    assert row.written == 600 and row.batches == expected_batches
