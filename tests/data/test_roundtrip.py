"""backup -> restore -> verify is exact for every point shape, on every embedded engine.

The round trip runs over (source, target) engine pairs: qdrant-client's ``:memory:`` and local
mode, and Qdrant Edge. Payload floats are compared within 1 ULP where Edge is an endpoint
(DESIGN.md); otherwise payloads must keep the same JSON text.
"""

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
from qdrant_ops.format.compare import payload_equal

# (source engine, target engine, --parallel, slice local mode). The sliced cases run ``--parallel``
# through the slice machinery on qdrant-client's engines; the others keep its default one stream.
CASES = [
    ("memory", "local", 1, True),
    ("memory", "local", 2, True),
    ("local", "local", 1, True),
    ("local", "local", 2, True),
    ("edge", "local", 2, False),
    ("local", "edge", 2, False),
    ("edge", "edge", 2, False),
]


def _uri(kind: str, base: Path) -> str:
    if kind == "memory":
        return ":memory:"
    return f"edge:{base}-edge" if kind == "edge" else f"{base}-local"


def _all_points(uri: str, name: str) -> dict[object, tuple[object, object]]:
    ep = open_endpoint(uri)
    out = {}
    for page in ep.scan(name, batch_size=100):
        for p in page.points:
            out[p.id] = (p.payload, p.vectors)
    return out


@pytest.mark.parametrize(
    ("src_kind", "dst_kind", "parallel", "sliced"),
    CASES,
    ids=[f"{a}-to-{b}-p{n}{'-sliced' if s else ''}" for a, b, n, s in CASES],
)
def test_roundtrip_every_shape(
    src_kind: str, dst_kind: str, parallel: int, sliced: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if sliced:
        request.getfixturevalue("sliced_local_mode")
    src, dst = _uri(src_kind, tmp_path / "src"), _uri(dst_kind, tmp_path / "dst")
    for shape in SHAPES:
        make_collection(src, shape, shape, n=150)
    rep = backup(
        BackupConfig(source=endpoint_from_uri(src), backup_path=str(tmp_path / "bk"), parallel=parallel, batch_size=40, rows_per_file=70)
    )
    assert rep.status == "ok", rep.summary_lines()
    if parallel > 1:
        # Edge scans its slices at once; qdrant-client's local mode scans one stream unless sliced.
        expected = "2 slice(s) in parallel" if src_kind == "edge" or sliced else "one stream"
        assert rep.parallel_mode == expected
    manifest = load_manifest(Path(rep.backup_dir))
    assert {n: e.points_count for n, e in manifest.collections.items()} == {
        s: (0 if s == "empty" else 150) for s in SHAPES
    }
    assert verify_backup(rep.backup_dir).status == "ok"

    rrep = restore(RestoreConfig(backup=rep.backup_dir, target=endpoint_from_uri(dst), suffix="_r", batch_size=33))
    assert rrep.status == "ok", rrep.summary_lines()
    assert all(c.written == c.points for c in rrep.collections)
    if dst_kind == "edge":
        filled = [c for c in rrep.collections if c.points]
        assert filled and all("optimize()" in c.post_write for c in filled), rrep.summary_lines()
    else:
        assert all(c.post_write == "" for c in rrep.collections)

    target = open_endpoint(dst)
    assert sorted(target.list_collections()) == sorted(f"{s}_r" for s in SHAPES)
    vrep = verify_against(rep.backup_dir, target, suffix="_r", full=True)
    assert vrep.status == "ok", vrep.summary_lines()
    live = verify_live(open_endpoint(src), target, suffix="_r", full=True)
    assert live.status == "ok", live.summary_lines()

    edge = "edge" in (src_kind, dst_kind)
    for shape in SHAPES:
        src_pts, dst_pts = _all_points(src, shape), _all_points(dst, f"{shape}_r")
        assert src_pts.keys() == dst_pts.keys()
        for pid, (payload, _) in src_pts.items():
            if edge:
                assert payload_equal(payload, dst_pts[pid][0], ulps=1)
            else:
                # payloads are kept exactly: same JSON text (ints vs floats, unicode, nulls, nesting)
                assert json.dumps(dst_pts[pid][0], sort_keys=True) == json.dumps(payload, sort_keys=True)
        for ids in (list(src_pts), list(dst_pts)):
            if shape == "uuid-named":
                assert all(isinstance(i, str) for i in ids)
            elif shape != "empty":
                assert all(isinstance(i, int) for i in ids)
        assert target.get_spec(f"{shape}_r").vector_fields() == open_endpoint(src).get_spec(shape).vector_fields()


def test_verify_live_finds_a_changed_edge_point(tmp_path: Path) -> None:
    src, dst = f"edge:{tmp_path}/a", f"edge:{tmp_path}/b"
    make_collection(src, "docs", "int-unnamed", n=60)
    make_collection(dst, "docs", "int-unnamed", n=60)
    target = open_endpoint(dst)
    p = target.retrieve("docs", [4])[0]
    p.payload = {**(p.payload or {}), "title": "changed"}
    target.write("docs", [p])
    rep = verify_live(open_endpoint(src), target, full=True)
    assert rep.status == "failed"
    assert rep.collections[0].differences[0]["id"] == "4"
    assert rep.collections[0].differences[0]["kind"] == "payload"


@pytest.mark.usefixtures("sliced_local_mode")
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


@pytest.mark.usefixtures("sliced_local_mode")
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
    from qdrant_ops.endpoints.qdrant_requests import spec_to_create_kwargs

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


@pytest.mark.usefixtures("sliced_local_mode")
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


@pytest.mark.usefixtures("sliced_local_mode")
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
