"""validation: parity figures (recall, overlap, drift, latency) and a recall below threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datagen import make_collection
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.run import migrate
from qdrant_ops.migration.validate import validate
from qdrant_ops.migration.validation import parity_figures


def test_parity_figures_on_a_quantized_target(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 200)
    cfg = MigrateConfig.model_validate({
        "source_qdrant": {"url": ":memory:"}, "target_qdrant": {"url": target_uri}, "backup": False,
        "backup_path": str(tmp_path / "b"),
        "target": {"quantization_config": {"scalar": {"type": "int8", "quantile": 0.99}},
                   "vectors": {"": {"quantization_config": {"product": {"compression": "x16"}}}}},
        "validation": {"samples": 20, "k": 5, "min_overlap": 0.9, "max_score_drift": 0.01, "max_latency_p95_ms": 5000},
    })
    report = migrate(cfg)
    assert report.status == "ok", report.summary_lines()
    recall = next(c for c in report.checks if c.name == "parity recall@5")
    for key in ("recall", "overlap", "score_drift_mean", "target_latency_p50_ms", "target_latency_p95_ms",
                "source_latency_p50_ms", "source_latency_p95_ms"):
        assert key in recall.figures
    assert recall.figures["queries"] == 20 and 0.95 <= recall.figures["recall"] <= 1.0
    names = {c.name for c in report.checks}
    assert {"parity overlap", "parity score drift", "parity latency"} <= names


def test_parity_arithmetic() -> None:
    truth = [(i, 1.0 - i / 100) for i in range(10)]
    worse = truth[:8] + [(50, 0.5), (51, 0.4)]
    figs = parity_figures([None, None], target_ann=lambda q: worse, source_ann=lambda q: truth,
                          truth=lambda q: truth, k=10)
    assert figs["recall"] == 0.8 and figs["overlap"] == 0.8 and figs["score_drift_max"] == 0.0


def test_a_neighbour_tied_with_the_kth_is_no_miss() -> None:
    # points 9 and 10 score the same: the target's index may return either as the 10th
    truth = [(i, 1.0 - i / 100) for i in range(9)] + [(9, 0.5)]
    tied = truth[:9] + [(10, 0.5)]
    figs = parity_figures([None], target_ann=lambda q: tied, source_ann=lambda q: truth, truth=lambda q: truth, k=10)
    assert figs["recall"] == 1.0
    worse = truth[:9] + [(10, 0.49)]
    figs = parity_figures([None], target_ann=lambda q: worse, source_ann=lambda q: truth, truth=lambda q: truth, k=10)
    assert figs["recall"] == 0.9


class PoorIndex:
    """The target endpoint whose ANN search misses half the neighbours (its exact search is fine)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def query(self, name: str, vector: Any, *, using: str, limit: int, exact: bool) -> list[tuple[Any, float]]:
        from qdrant_client import models

        res = self.inner.client.query_points(name, query=vector, using=using or None, limit=limit,
                                             search_params=models.SearchParams(exact=True))
        hits = [(p.id, float(p.score)) for p in res.points]
        return hits if exact else hits[: limit // 2]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_low_recall_fails_validation(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 100)
    base = {"source_qdrant": {"url": ":memory:"}, "target_qdrant": {"url": target_uri}, "backup": False,
            "backup_path": str(tmp_path / "b"), "validation": {"samples": 10}}
    assert migrate(MigrateConfig.model_validate(base)).status == "ok"
    report = validate(MigrateConfig.model_validate(base), target=PoorIndex(open_endpoint(target_uri)))
    assert report.status == "failed"
    failed = report.failed_checks
    assert [c.name for c in failed] == ["parity recall@10"] and failed[0].figures["recall"] == 0.5


def test_validate_alone_detects_a_changed_target(tmp_path: Path, target_uri: str) -> None:
    make_collection(":memory:", "c", "int-unnamed", 50)
    base = {"source_qdrant": {"url": ":memory:"}, "target_qdrant": {"url": target_uri}, "backup": False,
            "backup_path": str(tmp_path / "b"), "validation": {"samples": 5}}
    assert migrate(MigrateConfig.model_validate(base)).status == "ok"
    assert validate(MigrateConfig.model_validate(base)).status == "ok"
    dst = open_endpoint(target_uri)
    p = dst.retrieve("c", [4])[0]
    p.payload = {**(p.payload or {}), "i": 999}
    dst.write("c", [p])
    report = validate(MigrateConfig.model_validate(base))
    assert report.status == "failed" and "content" in {c.name for c in report.failed_checks}
