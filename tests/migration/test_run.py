"""migrate: exact round trips, transforms, config overrides, dry run, resume, plan changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from datagen import SHAPES, make_collection
from qdrant_ops.data.verify import verify_live
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.errors import ConfigError, TargetExistsError
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.run import migrate

# These tests run ``--parallel N`` through the slice machinery on the embedded engines.
pytestmark = pytest.mark.usefixtures("sliced_local_mode")


def cfg(src: str, dst: str, tmp: Path, **kw: Any) -> MigrateConfig:
    data: dict[str, Any] = {
        "source_qdrant": {"url": src},
        "target_qdrant": {"url": dst},
        "backup_path": str(tmp / "backups"),
        "batch_size": 64,
        "validation": {"samples": 10},
    }
    data.update(kw)
    return MigrateConfig.model_validate(data)


@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_every_shape(shape: str, store_uri: str, target_uri: str, tmp_path: Path) -> None:
    make_collection(store_uri, "c", shape, 150)
    report = migrate(cfg(store_uri, target_uri, tmp_path, collections=["c"], backup=shape == "multi"))
    assert report.status == "ok", report.summary_lines()
    row = report.collections[0]
    assert (row.read, row.written, row.failed) == (0 if shape == "empty" else 150,) * 2 + (0,)
    v = verify_live(open_endpoint(store_uri), open_endpoint(target_uri), collections=["c"], full=True)
    assert v.status == "ok", v.summary_lines()
    meta = open_endpoint(target_uri).get_spec("c").metadata["migration"]
    assert meta["status"] == "complete" and meta["points_count"] == row.written
    assert meta["validation"] == "passed" and meta["source_collection"] == "c"
    if shape == "multi":
        assert Path(report.backup_dir, "manifest.json").is_file()
    assert not Path(report.state_file).exists()  # finished: no state left to resume


def test_same_store_gets_versioned_name_and_parallel_slices(tmp_path: Path) -> None:
    make_collection(":memory:", "docs", "uuid-named", 300)
    report = migrate(cfg(":memory:", ":memory:", tmp_path, format_version="v56", parallel=3, backup=False))
    assert report.status == "ok" and report.slices == 3
    assert report.collections[0].target_name == "docs_v56"
    ep = open_endpoint(":memory:")
    assert ep.count("docs_v56") == 300 and ep.count("docs") == 300


def test_same_store_without_version_is_refused(tmp_path: Path) -> None:
    make_collection(":memory:", "docs", "int-unnamed", 10)
    with pytest.raises(ConfigError, match="format_version"):
        migrate(cfg(":memory:", ":memory:", tmp_path))


def test_each_transform(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 120)
    transforms = [
        {"rename_field": {"from": "title", "to": "name"}},
        {"drop_field": ["flag", "author.tags"]},
        {"set_field": {"field": "kind", "value": "task"}},
        {"set_field": {"field": "who", "from": "author.name"}},
        {"copy_field": {"from": "i", "to": "legacy.i"}},
        {"cast": {"field": "i", "to": "str"}},
        {"cast": {"field": "whole_float", "to": "int"}},
        {"cast": {"field": "score", "to": "bool", "on_error": "keep"}},
        {"set_field": {"field": "when", "value": 86400}},
        {"cast": {"field": "when", "to": "datetime"}},
        {"rename_vector": {"from": "", "to": "text"}},
        {"filter": {"must_not": [{"key": "status", "match": {"value": "done"}}]}},
    ]
    report = migrate(cfg(":memory:", target_uri, tmp_path, transforms=transforms, backup=False, stamp_payload=True,
                         format_version="v2"))
    assert report.status == "ok", report.summary_lines()
    src, dst = open_endpoint(":memory:"), open_endpoint(target_uri)
    row = report.collections[0]
    done = sum(1 for page in src.scan("c", batch_size=500) for p in page.points if p.payload["status"] == "done")
    assert row.filtered == done > 0 and row.written == 120 - done == dst.count("c")
    assert [f.name for f in dst.get_spec("c").vector_fields()] == ["text"]
    before = {p.id: p for p in src.retrieve("c", list(range(1, 361, 3)))}
    for page in dst.scan("c", batch_size=500):
        for p in page.points:
            old = before[p.id].payload
            assert p.payload["name"] == old["title"] and "title" not in p.payload
            assert "flag" not in p.payload and "tags" not in p.payload["author"]
            assert p.payload["kind"] == "task" and p.payload["who"] == old["author"]["name"]
            assert p.payload["legacy"] == {"i": old["i"]} and p.payload["i"] == str(old["i"])
            assert p.payload["whole_float"] == int(old["whole_float"]) and isinstance(p.payload["whole_float"], int)
            assert p.payload["score"] == old["score"]  # on_error keep
            assert p.payload["when"] == "1970-01-02T00:00:00Z"
            assert p.payload["_migration"] == {"format_version": "v2", "migrated_at": report.migrated_at}
            assert p.payload["status"] != "done"


def test_cast_failure_is_caught_before_writing(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 20)
    with pytest.raises(ConfigError, match="cannot cast"):
        migrate(cfg(":memory:", target_uri, tmp_path, transforms=[{"cast": {"field": "title", "to": "int"}}]))
    assert not open_endpoint(target_uri).collection_exists("c")


@pytest.mark.parametrize(
    ("transforms", "message"),
    [
        ([{"rename_vector": {"from": "nope", "to": "x"}}], "unknown vector"),
        ([{"python": "migrate_hooks:wrong_size"}], "size 2, the target's is 8"),
        ([{"python": "migrate_hooks:no_such"}], "has no function"),
        ([{"python": "no_such_module_xyz:f"}], "cannot import"),
        ([{"filter": {"must": [{"key": "x", "match": {"nonsense": 1}}]}}], "not a Qdrant filter"),
    ],
)
def test_bad_transforms_fail_before_any_write(transforms: list[Any], message: str, tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 20)
    with pytest.raises(ConfigError, match=message):
        migrate(cfg(":memory:", target_uri, tmp_path, transforms=transforms))
    assert not (tmp_path / "backups").exists()


def test_config_overrides_reach_the_target(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "uuid-named", 40)
    target = {
        "hnsw_config": {"m": 32},
        "optimizers_config": {"indexing_threshold": 50000},
        "quantization_config": {"scalar": {"type": "int8"}},
        "collections": {"c": {"name": "c_new", "vectors": {
            "text": {"on_disk": True, "datatype": "float16", "hnsw_config": {"m": 8},
                     "quantization_config": {"binary": {}}}}}},
    }
    report = migrate(cfg(":memory:", target_uri, tmp_path, target=target, backup=False))
    assert report.status == "ok", report.summary_lines()
    params = open_endpoint(target_uri).get_spec("c_new").params["vectors"]["text"]
    assert params["on_disk"] is True and params["datatype"] == "float16"
    assert params["hnsw_config"]["m"] == 8 and params["quantization_config"] == {"binary": {}}
    diff = {d["path"]: d["target"] for d in report.collections[0].config_diff}
    assert diff["hnsw_config.m"] == 32 and diff["optimizer_config.indexing_threshold"] == 50000
    assert diff["quantization_config.scalar.type"] == "int8"
    # local mode keeps per-vector settings but ignores collection-level ones; the report says so
    assert "hnsw_config.m" in report.collections[0].settings_not_applied


def test_bad_setting_is_a_config_error(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 5)
    with pytest.raises(ConfigError, match="target.hnsw_config"):
        migrate(cfg(":memory:", target_uri, tmp_path, target={"hnsw_config": {"mm": 3}}))


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")} if root.exists() else {}


def test_dry_run_writes_nothing(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 50)
    make_collection(target_uri, "other", "int-unnamed", 5)
    dst = open_endpoint(target_uri)
    before_fs, before_cols = _tree(tmp_path), dst.list_collections()
    report = migrate(cfg(":memory:", target_uri, tmp_path, dry_run=True,
                         transforms=[{"drop_field": "title"}], target={"hnsw_config": {"m": 64}}))
    assert report.status == "dry-run"
    assert _tree(tmp_path) == before_fs and dst.list_collections() == before_cols
    row = report.collections[0]
    assert row.action == "create" and row.estimated_points == 50 and row.estimated_bytes > 0
    assert row.samples and "title" in row.samples[0].before["payload"]
    assert row.samples[0].after is not None and "title" not in row.samples[0].after["payload"]
    assert {"path": "hnsw_config.m", "source": 16, "target": 64} in row.config_diff
    assert report.estimated_backup_bytes > 0 and report.free_disk_bytes > 0


def test_dry_run_does_not_create_a_missing_target_store(tmp_path: Path) -> None:
    make_collection(":memory:", "c", "int-unnamed", 10)
    migrate(cfg(":memory:", str(tmp_path / "new-store"), tmp_path, dry_run=True))
    assert os.listdir(tmp_path) == []


def test_existing_target_fails_by_default_then_replace_and_append(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 30)
    make_collection(target_uri, "c", "int-unnamed", 5, seed=99)
    with pytest.raises(TargetExistsError):
        migrate(cfg(":memory:", target_uri, tmp_path, backup=False))
    report = migrate(cfg(":memory:", target_uri, tmp_path, backup=False, on_exists="replace"))
    assert report.status == "ok" and open_endpoint(target_uri).count("c") == 30
    report = migrate(cfg(":memory:", target_uri, tmp_path, backup=False, on_exists="append"))
    assert report.collections[0].action == "appended"


def test_append_into_other_dimension_is_refused(tmp_path: Path, target_uri: str) -> None:
    from qdrant_ops.errors import UsageError

    make_collection(":memory:", "c", "int-unnamed", 5)
    make_collection(target_uri, "c", "sparse", 5)
    with pytest.raises(UsageError, match="no vector|dimension"):
        migrate(cfg(":memory:", target_uri, tmp_path, on_exists="append"))


def test_dry_run_fails_when_the_real_run_would_refuse_the_target(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 30)
    make_collection(target_uri, "c", "int-unnamed", 5, seed=99)
    report = migrate(cfg(":memory:", target_uri, tmp_path, dry_run=True))
    assert report.status == "failed"
    assert [c.name for c in report.failed_checks] == ["target"]
    assert open_endpoint(target_uri).count("c") == 5
    report = migrate(cfg(":memory:", target_uri, tmp_path, dry_run=True, on_exists="replace"))
    assert report.status == "dry-run"
