"""The ``edge:DIR`` endpoint: config mapping both ways, slices and resume, aliases, optimize, errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from datagen import make_collection
from qdrant_ops.endpoints.base import CollectionSpec, Point
from qdrant_ops.endpoints.edge.endpoint import SIDECAR, EdgeEndpoint
from qdrant_ops.endpoints.edge.records import advise_scan
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.endpoints.qdrant_requests import spec_to_create_kwargs
from qdrant_ops.errors import NotFoundError, TargetExistsError, UnsupportedError, UsageError

FULL_SPEC = CollectionSpec(
    name="full",
    config={
        "params": {
            "vectors": {
                "text": {
                    "size": 4,
                    "distance": "Cosine",
                    "on_disk": True,
                    "datatype": "float16",
                    "hnsw_config": {"m": 8, "payload_m": 4},
                    "quantization_config": {"binary": {"always_ram": False, "encoding": "two_bits"}},
                },
                "colbert": {"size": 3, "distance": "Dot", "multivector_config": {"comparator": "max_sim"}},
            },
            "sparse_vectors": {"kw": {"index": {"full_scan_threshold": 7, "on_disk": True}, "modifier": "idf"}},
            "on_disk_payload": True,
            "shard_number": 3,
            "replication_factor": 2,
        },
        "hnsw_config": {"m": 32, "ef_construct": 200, "full_scan_threshold": 5000, "max_indexing_threads": 0},
        "optimizer_config": {
            "deleted_threshold": 0.3,
            "vacuum_min_vector_number": 500,
            "default_segment_number": 2,
            "indexing_threshold": 10000,
            "flush_interval_sec": 5,
        },
        "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}},
        "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
        "metadata": {"owner": "search", "v": 2},
    },
    payload_schema={"k": {"data_type": "keyword"}, "n": {"data_type": "integer", "params": {"type": "integer", "lookup": True, "range": False}}},
)


def test_config_maps_to_edge_and_back(tmp_path: Path) -> None:
    ep = EdgeEndpoint(tmp_path / "store")
    ep.create_collection("full", FULL_SPEC)
    on_disk = json.loads((tmp_path / "store" / "full" / "edge_config.json").read_text())
    assert on_disk["vectors"]["text"]["datatype"] == "float16"
    assert on_disk["vectors"]["text"]["hnsw_config"]["m"] == 8
    assert on_disk["vectors"]["text"]["hnsw_config"]["ef_construct"] == 200  # per-vector diff over the global one
    assert on_disk["optimizers"]["indexing_threshold"] == 10000
    spec = ep.get_spec("full")
    cfg, params = spec.config, spec.params
    assert params["vectors"]["text"]["on_disk"] is True
    assert params["vectors"]["text"]["quantization_config"] == {"binary": {"always_ram": False, "encoding": "two_bits"}}
    assert params["vectors"]["colbert"]["multivector_config"] == {"comparator": "max_sim"}
    assert params["sparse_vectors"]["kw"] == {"index": {"full_scan_threshold": 7, "on_disk": True}, "modifier": "idf"}
    assert params["on_disk_payload"] is True
    assert cfg["hnsw_config"]["m"] == 32 and cfg["hnsw_config"]["ef_construct"] == 200
    assert cfg["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}
    assert cfg["optimizer_config"]["deleted_threshold"] == 0.3
    # what Edge cannot hold is carried beside the shard, so a server round trip keeps it
    assert params["shard_number"] == 3 and params["replication_factor"] == 2
    assert cfg["optimizer_config"]["flush_interval_sec"] == 5
    assert cfg["wal_config"]["wal_capacity_mb"] == 32
    assert spec.metadata == {"owner": "search", "v": 2}
    assert spec.payload_schema["k"]["data_type"] == "keyword"
    assert spec.payload_schema["n"]["params"]["lookup"] is True
    assert [f.name for f in spec.vector_fields()] == ["colbert", "text", "kw"]
    # and the spec read from Edge is valid input for a Qdrant server / local mode
    kw = spec_to_create_kwargs(spec)
    assert kw["vectors_config"]["text"].datatype.value == "float16"
    assert kw["shard_number"] == 3 and kw["hnsw_config"].m == 32
    assert kw["quantization_config"].scalar.quantile == 0.99


def test_unnamed_vector_and_unsupported_settings(tmp_path: Path) -> None:
    ep = EdgeEndpoint(tmp_path)
    ep.create_collection("plain", CollectionSpec("plain", {"params": {"vectors": {"size": 3, "distance": "Euclid"}}}))
    assert ep.get_spec("plain").params["vectors"] == {"size": 3, "distance": "Euclid"}
    bad = CollectionSpec("x", {"params": {"vectors": {"size": 3, "distance": "Hamming"}}})
    with pytest.raises(UnsupportedError, match="distance 'Hamming'"):
        ep.create_collection("x", bad)
    with pytest.raises(TargetExistsError):
        ep.create_collection("plain", ep.get_spec("plain"))


def test_scan_slices_are_disjoint_and_resume_exactly(tmp_path: Path) -> None:
    uri = f"edge:{tmp_path}"
    make_collection(uri, "u", "uuid-named", n=90)
    make_collection(uri, "i", "int-unnamed", n=90)
    ep = open_endpoint(uri)
    for name in ("u", "i"):
        whole = [p.id for page in ep.scan(name, batch_size=1000) for p in page.points]
        assert len(whole) == 90 == ep.count(name)
        parts = [[p.id for page in ep.scan(name, batch_size=7, slice_=(i, 3)) for p in page.points] for i in range(3)]
        assert sum(len(x) for x in parts) == 90
        assert set().union(*map(set, parts)) == set(whole)
        # stop after two pages, resume from the saved offset: nothing skipped, nothing repeated
        pages = ep.scan(name, batch_size=10)
        first = [next(pages), next(pages)]
        resumed = [p.id for page in ep.scan(name, batch_size=10, offset=first[-1].next_offset) for p in page.points]
        assert [p.id for pg in first for p in pg.points] + resumed == whole
        assert isinstance(first[-1].next_offset, (int, str))  # JSON-safe for checkpoints


def test_an_exact_count_and_optimize_hand_the_engines_freed_memory_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qdrant_ops.endpoints.edge.endpoint as edge

    calls: list[int] = []
    monkeypatch.setattr(edge, "release_free_heap", lambda: calls.append(1) or True)
    uri = f"edge:{tmp_path}"
    make_collection(uri, "i", "int-unnamed", n=40)
    ep = open_endpoint(uri)
    assert ep.count("i") == 40
    assert calls == [1]
    ep.optimize("i")
    assert calls == [1, 1]


def _record_advice(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> list[tuple[str, int]]:
    advised: list[tuple[str, int]] = []

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((os.readlink(f"/proc/self/fd/{fd}"), advice))
        if fail:
            raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "posix_fadvise", fadvise)
    return advised


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads fd paths from /proc")
def test_a_scan_asks_for_read_ahead_of_payloads_and_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"edge:{tmp_path}"
    make_collection(uri, "c", "int-unnamed", n=50)
    close_all()
    advised = _record_advice(monkeypatch)
    ep = open_endpoint(uri)
    assert len([p for page in ep.scan("c", batch_size=20) for p in page.points]) == 50
    assert advised and {a for _, a in advised} == {os.POSIX_FADV_WILLNEED}
    assert any("/payload_storage/" in f for f, _ in advised)
    assert any("/vector_storage/" in f for f, _ in advised)
    assert not any(seg in f for f, _ in advised for seg in ("/wal/", "vector_index", "payload_index"))
    advised.clear()
    list(ep.scan("c", batch_size=20, with_vectors=False))
    assert advised and not any("vector_storage" in f for f, _ in advised)


def test_read_ahead_is_skipped_over_its_cap_and_never_fails_a_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"edge:{tmp_path}"
    make_collection(uri, "c", "int-unnamed", n=50)
    ep = open_endpoint(uri)
    shard_dir = ep.shard_path("c")  # type: ignore[attr-defined]
    advised = _record_advice(monkeypatch, fail=True)
    assert advise_scan(shard_dir, cap=0) == 0 and advised == []
    assert advise_scan(shard_dir) == 0 and len(advised) == 1  # the error stops the advice, silently
    assert len([p for page in ep.scan("c", batch_size=20) for p in page.points]) == 50
    monkeypatch.delattr(os, "posix_fadvise")
    assert advise_scan(shard_dir) == 0
    assert len([p for page in ep.scan("c", batch_size=20) for p in page.points]) == 50


def test_points_keep_every_shape(tmp_path: Path) -> None:
    ep = EdgeEndpoint(tmp_path)
    make_collection(f"edge:{tmp_path}", "s", "sparse", n=5)
    close_all()
    ep = EdgeEndpoint(tmp_path)
    payload = {"i": 1, "f": 1.0, "n": None, "u": "検索 🚀", "nest": {"a": [1, 2.5, None, {"b": True}]}}
    ep.write("s", [Point(id=999, vectors={"dense": [0.0, 3.0, 4.0, 0.0, 0.0]}, payload=payload)])
    got = ep.retrieve("s", [999])[0]
    assert got.payload == payload and type(got.payload["f"]) is float and type(got.payload["i"]) is int
    assert got.vectors["dense"] == pytest.approx([0.0, 0.6, 0.8, 0.0, 0.0])  # cosine: normalised on write
    assert "keywords" not in got.vectors
    ep.close()


def test_aliases_sidecar_and_reopen(tmp_path: Path) -> None:
    uri = f"edge:{tmp_path}"
    make_collection(uri, "docs", "int-unnamed", n=10)
    ep = open_endpoint(uri)
    ep.set_alias("live", "docs")
    with pytest.raises(NotFoundError):
        ep.set_alias("x", "nope")
    close_all()
    ep = open_endpoint(uri)  # a fresh process would see the same
    assert ep.aliases() == {"live": "docs"}
    assert ep.get_spec("docs").aliases == ["live"]
    assert ep.count("docs") == 10
    assert json.loads((tmp_path / SIDECAR).read_text())["aliases"] == {"live": "docs"}
    ep.delete_collection("docs")
    assert ep.aliases() == {} and ep.list_collections() == []
    with pytest.raises(NotFoundError):
        ep.count("docs")


def test_shard_copied_in_by_hand_is_a_collection(tmp_path: Path) -> None:
    make_collection(f"edge:{tmp_path}/a", "orig", "multi", n=12)
    close_all()
    shutil.copytree(tmp_path / "a" / "orig", tmp_path / "b" / "my%20shard")
    (tmp_path / "b" / "my%20shard" / "edge_config.json").unlink()  # as in a shard snapshot
    ep = EdgeEndpoint(tmp_path / "b")
    assert ep.list_collections() == ["my shard"]
    spec = ep.get_spec("my shard")  # config derived from the segments
    assert spec.params["vectors"]["colbert"]["multivector_config"] == {"comparator": "max_sim"}
    assert spec.params["vectors"]["colbert"]["size"] == 3
    assert ep.count("my shard") == 12
    ep.close()


def test_optimize_builds_the_index_and_reports_it(tmp_path: Path) -> None:
    ep = EdgeEndpoint(tmp_path)
    spec = CollectionSpec("v", {"params": {"vectors": {"size": 16, "distance": "Dot"}}, "optimizer_config": {"indexing_threshold": 10}})
    ep.create_collection("v", spec)
    ep.write("v", [Point(id=i, vectors={"": [float((i * j) % 7) for j in range(16)]}, payload={"i": i}) for i in range(1500)])
    res = ep.optimize("v")
    assert res.optimized is True
    assert res.indexed_vectors == 1500 and res.points == 1500
    assert res.duration_s > 0
    assert "optimize() optimized" in res.describe()
    assert ep.optimize("v").optimized is False  # already optimal


def test_bad_edge_uris(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        open_endpoint(f"edge:{tmp_path}/file")
    make_collection(f"edge:{tmp_path}/s", "one", "int-unnamed", n=3)
    with pytest.raises(UsageError, match="one Edge shard"):
        EdgeEndpoint(tmp_path / "s" / "one")
    ep = EdgeEndpoint(tmp_path / "missing")
    assert ep.list_collections() == [] and not ep.collection_exists("x")
    assert ep.info().kind == "edge" and ep.info().supports_slice
    assert (ep.info().server_version or "").startswith("qdrant-edge ")
    with pytest.raises(UsageError):
        ep.collection_exists("../x")
