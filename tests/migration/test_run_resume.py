"""migrate: interrupted then resumed (exact digest, no duplicates), changed plans, alias cutover."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from datagen import make_collection
from qdrant_ops.endpoints.base import Point
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.errors import NotFoundError, PlanChangedError
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.cutover import rollback_alias, switch_alias
from qdrant_ops.migration.run import migrate
from qdrant_ops.pipeline.retry import RetryPolicy

# These tests run ``--parallel N`` through the slice machinery on the embedded engines.
pytestmark = pytest.mark.usefixtures("sliced_local_mode")


class Terminal(Exception):
    """A non-transient write error."""


class FailingWrites:
    """The target endpoint with its N-th write (and every one after) refused."""

    def __init__(self, inner: Any, fail_from: int) -> None:
        self.inner, self.fail_from, self.calls = inner, fail_from, 0

    def write(self, name: str, points: Sequence[Point]) -> None:
        self.calls += 1
        if self.calls >= self.fail_from:
            raise Terminal("disk full")
        self.inner.write(name, points)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def cfg(tmp: Path, target: str, **kw: Any) -> MigrateConfig:
    data = {"source_qdrant": {"url": ":memory:"}, "target_qdrant": {"url": target},
            "backup_path": str(tmp / "b"), "batch_size": 40, "validation": {"samples": 5}}
    data.update(kw)
    return MigrateConfig.model_validate(data)


@pytest.mark.parametrize(("fail_from", "parallel"), [(1, 1), (3, 1), (5, 2)])
def test_interrupted_then_resumed(fail_from: int, parallel: int, tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "uuid-named", 300)
    dst = open_endpoint(target_uri)
    failing = FailingWrites(dst, fail_from)
    first = migrate(cfg(tmp_path, target_uri, parallel=parallel), target=failing, policy=RetryPolicy(max_retries=0))
    assert first.status == "partial"
    row = first.collections[0]
    assert row.failed > 0 and row.dead_letter and Path(row.dead_letter).is_file()
    assert any("resume" in line for line in first.summary_lines())
    assert dst.count("c") < 300
    second = migrate(cfg(tmp_path, target_uri, parallel=parallel), target=dst)
    assert second.status == "ok" and second.resumed, second.summary_lines()
    assert dst.count("c") == 300  # exact: nothing skipped, nothing duplicated
    again = second.collections[0]
    assert again.written == 300 and again.digest_count == 300
    assert {c.name: c.passed for c in second.checks}["content"]
    assert second.backup_dir == first.backup_dir  # the backup is not taken twice


def test_changed_plan_is_refused_then_restart(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 120)
    dst = open_endpoint(target_uri)
    migrate(cfg(tmp_path, target_uri, backup=False), target=FailingWrites(dst, 2), policy=RetryPolicy(max_retries=0))
    with pytest.raises(PlanChangedError, match="transforms"):
        migrate(cfg(tmp_path, target_uri, backup=False, transforms=[{"drop_field": "title"}]))
    with pytest.raises(PlanChangedError, match="slices"):
        migrate(cfg(tmp_path, target_uri, backup=False, parallel=2))
    report = migrate(cfg(tmp_path, target_uri, backup=False, transforms=[{"drop_field": "title"}],
                         restart=True, on_exists="replace"))
    assert report.status == "ok" and dst.count("c") == 120


def test_hook_that_drops_points_fails_validation(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 60)
    report = migrate(cfg(tmp_path, target_uri, backup=False, transforms=[{"python": "migrate_hooks:drop_odd"}]))
    assert report.status == "failed"
    failed = {c.name for c in report.failed_checks}
    assert failed == {"count"} and report.collections[0].dropped == 30
    meta = open_endpoint(target_uri).get_spec("c").metadata["migration"]
    assert meta["validation"] == "failed"


def test_hook_that_changes_vectors_validates_against_target(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 60)
    report = migrate(cfg(tmp_path, target_uri, backup=False, transforms=[{"python": "migrate_hooks:double_vectors"}]))
    assert report.status == "ok", report.summary_lines()
    parity = [c for c in report.checks if c.name.startswith("parity")]
    assert parity and parity[0].figures["truth"] == "target exact search"
    p = open_endpoint(target_uri).retrieve("c", [1])[0]
    assert p.payload["collection"] == "c"


def test_switch_alias_then_rollback(tmp_path: Path) -> None:
    make_collection(":memory:", "docs", "int-unnamed", 40)
    ep = open_endpoint(":memory:")
    ep.set_alias("live", "docs")
    report = migrate(cfg(tmp_path, ":memory:", backup=False, format_version="v2", switch_alias="live"))
    assert report.status == "ok" and report.alias_previous == "docs"
    assert ep.aliases()["live"] == "docs_v2"
    history = ep.get_spec("docs_v2").metadata["cutovers"]
    assert history[-1]["previous"] == "docs"
    back = rollback_alias(ep, "live")
    assert back.collection == "docs" and ep.aliases()["live"] == "docs"
    with pytest.raises(NotFoundError, match="nothing to roll back"):
        rollback_alias(ep, "live")


def test_rollback_of_a_new_alias_removes_it(tmp_path: Path) -> None:
    make_collection(":memory:", "a", "int-unnamed", 3)
    ep = open_endpoint(":memory:")
    switch_alias(ep, "fresh", "a")
    assert ep.aliases()["fresh"] == "a"
    rollback_alias(ep, "fresh")
    assert "fresh" not in ep.aliases()


def test_drop_source_only_after_validation(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 20)
    report = migrate(cfg(tmp_path, target_uri, backup=False, drop_source=True))
    assert report.status == "ok" and not open_endpoint(":memory:").collection_exists("c")
