"""Issue 26 item 2: advice that cannot lose data, and parity that compares like with like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qdrant_ops.endpoints.base import CollectionSpec, Point
from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.migration.config import ValidationSettings
from qdrant_ops.migration.report import MigrateReport
from qdrant_ops.migration.validation import check_parity, parity_truth
from qdrant_ops.reports import Report

SRC = Path(__file__).resolve().parents[2] / "src"


def _report(**kw: object) -> MigrateReport:
    r = MigrateReport(source="http://src:6333", target="http://dst:6333", backup_dir="/b/20260101T000000Z",
                      rerun_command="qdrant-ops migrate -c m.yaml", **kw)  # type: ignore[arg-type]
    r.check("parity recall@10", False, "0.80")
    r.finish()
    return r


def test_a_failed_validation_never_suggests_overwriting_the_source() -> None:
    r = _report()
    text = "\n".join(r.summary_lines()) + r.to_markdown()
    assert "--target http://src:6333" not in text and "<source>" not in text
    assert "untouched" in text and "--on-exists replace" in text  # only ever the target's re-migration
    ok = MigrateReport(source="s", target="t", backup_dir="/b/x")
    ok.finish()
    assert not [line for line in ok.summary_lines() if "restore" in line]
    # a dropped source is brought back by a restore that creates it (no replace)
    dropped = _report(dropped_sources=["docs"])
    line = next(x for x in dropped.recovery() if "restore" in x)
    assert "--collections docs" in line and "replace" not in line


def test_no_source_overwrite_advice_anywhere_in_the_package() -> None:
    for path in SRC.rglob("*.py"):
        assert "--target <source> --on-exists replace" not in path.read_text(), path


def _points(n: int, dim: int, seed: int) -> list[Point]:
    rng = np.random.default_rng(seed)
    return [Point(id=i, vectors={"": rng.standard_normal(dim).astype(np.float32).tolist()}, payload={}) for i in range(n)]


def _indexed_edge(root: Path, points: list[Point], dim: int) -> EdgeEndpoint:
    ep = EdgeEndpoint(root)
    spec = CollectionSpec("v", {
        "params": {"vectors": {"size": dim, "distance": "Dot"}},
        "hnsw_config": {"m": 4, "ef_construct": 4, "full_scan_threshold": 10},
        "optimizer_config": {"indexing_threshold": 10},
    })
    ep.create_collection("v", spec)
    ep.write("v", points)
    ep.optimize("v")
    return ep


def _memory(points: list[Point], dim: int) -> object:
    from qdrant_client import models

    ep = open_endpoint(":memory:")
    ep.client.create_collection("v", vectors_config=models.VectorParams(size=dim, distance=models.Distance.DOT))  # type: ignore[attr-defined]
    ep.write("v", points)
    return ep


@pytest.fixture
def pair(tmp_path: Path) -> tuple[EdgeEndpoint, object]:
    dim = 64
    points = _points(1500, dim, 7)
    edge = _indexed_edge(tmp_path / "edge", points, dim)
    mem = _memory(points, dim)
    yield edge, mem
    edge.close()
    mem.delete_collection("v")  # type: ignore[attr-defined]


def test_parity_against_an_indexed_source_uses_its_ann_answers(pair: tuple[EdgeEndpoint, object]) -> None:
    edge, mem = pair
    label, exact, why = parity_truth(edge, "v", against_target=False)
    assert (label, exact) == ("source ANN search", False) and "HNSW" in why
    label, exact, why = parity_truth(mem, "v", against_target=False)  # type: ignore[arg-type]
    assert (label, exact) == ("source exact search", True) and "no ANN index" in why
    report = Report(verb="validate")
    check_parity(report, "v", src=edge, name="v", dst=mem, tname="v", tspec=mem.get_spec("v"),  # type: ignore[attr-defined]
                 vector_names={"": ""}, against_target=False, settings=ValidationSettings(min_recall=0.0))
    fig = report.checks[0].figures
    assert fig["truth"] == "source ANN search" and "HNSW" in fig["truth_reason"]
    assert "source ANN search (the source searches an HNSW index" in report.checks[0].detail


def test_a_gate_failing_only_for_an_exact_source_says_so_in_one_line(pair: tuple[EdgeEndpoint, object]) -> None:
    edge, mem = pair
    report = Report(verb="validate")
    check_parity(report, "v", src=mem, name="v", dst=edge, tname="v", tspec=edge.get_spec("v"),  # type: ignore[arg-type]
                 vector_names={"": ""}, against_target=False, settings=ValidationSettings(min_recall=1.0))
    assert report.checks[0].passed is False, report.checks[0].detail
    notes = [n for n in report.notes if "failed only because the source was searched exactly" in n]
    assert len(notes) == 1 and "\n" not in notes[0]
