"""migrate and validate with Qdrant Edge as source and/or target, parity measured on Edge.

Edge's ANN is real only once an HNSW index is built: the collections here set a low
``indexing_threshold`` / ``full_scan_threshold`` and migrate runs ``optimize()`` on an Edge target
after the copy, so the recall figures below come from Edge's HNSW, not from a full scan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_ops.cli import app
from qdrant_ops.endpoints.base import CollectionSpec, Point
from qdrant_ops.endpoints.edge.endpoint import EdgeEndpoint
from qdrant_ops.endpoints.open import close_all, open_endpoint
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.run import migrate
from qdrant_ops.migration.transforms import Transformer
from qdrant_ops.migration.validate import validate
from qdrant_ops.migration.validation import compare_points, expected_points

N = 300
INDEXED = {"hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 1}}
OPTIMIZERS = {"indexing_threshold": 1}


def _spec(*, m: int = 16, ef_construct: int = 100) -> CollectionSpec:
    return CollectionSpec(
        name="docs",
        config={
            "params": {
                "vectors": {
                    "text": {"size": 32, "distance": "Cosine"},
                    "image": {"size": 16, "distance": "Euclid"},
                }
            },
            "hnsw_config": {"m": m, "ef_construct": ef_construct, "full_scan_threshold": 1},
            "optimizer_config": {"indexing_threshold": 1},
        },
        payload_schema={},
        aliases=[],
        points_count=0,
    )


def _points(n: int = N, seed: int = 5) -> list[Point]:
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n, 32)).astype(np.float32)
    image = rng.normal(size=(n, 16)).astype(np.float32)
    return [
        Point(
            id=i * 7 + 1,
            vectors={"text": text[i].tolist(), "image": image[i].tolist()},
            payload={"i": i, "score": float(rng.random() * 100), "ratio": float(rng.random()), "tag": f"t{i % 5}"},
        )
        for i in range(n)
    ]


def _fill(uri: str) -> None:
    ep = open_endpoint(uri)
    ep.create_collection("docs", _spec())
    pts = _points()
    for start in range(0, len(pts), 100):
        ep.write("docs", pts[start : start + 100])
    optimize = getattr(ep, "optimize", None)
    if callable(optimize):
        optimize("docs")  # an Edge source answers ANN from its HNSW index too


def _uri(kind: str, tmp: Path, role: str) -> str:
    return f"edge:{tmp / (role + '-edge')}" if kind == "edge" else str(tmp / (role + "-local"))


def _cfg(src: str, dst: str, tmp: Path) -> MigrateConfig:
    return MigrateConfig.model_validate({
        "source_qdrant": {"url": src},
        "target_qdrant": {"url": dst},
        "backup_path": str(tmp / "backups"),
        "batch_size": 100,
        "backup": False,
        "target": {**INDEXED, "optimizers_config": OPTIMIZERS},
        "validation": {"samples": 25, "k": 10, "min_recall": 0.9},
    })


PAIRS = [("local", "edge"), ("edge", "local"), ("edge", "edge")]


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_migrate_with_edge_validates_with_parity(src_kind: str, dst_kind: str, tmp_path: Path) -> None:
    src_uri, dst_uri = _uri(src_kind, tmp_path, "src"), _uri(dst_kind, tmp_path, "dst")
    _fill(src_uri)
    report = migrate(_cfg(src_uri, dst_uri, tmp_path))
    assert report.status == "ok", report.summary_lines() + report.notes
    by_name: dict[str, list[Any]] = {}
    for c in report.checks:
        by_name.setdefault(c.name, []).append(c)
    assert by_name["count"][0].passed and by_name["content"][0].passed
    content = by_name["content"][0]
    if src_kind == "edge" and dst_kind == "edge":
        # the source's floats already went through Edge once: the copy is bit for bit the same
        assert content.detail.startswith("bitwise equal digests")
    else:
        assert "within 1 ULP because Qdrant Edge is an endpoint" in content.detail
        assert content.figures["differs"] == 0 and content.figures["equal"] == N
    parity = by_name["parity recall@10"]
    assert {c.figures["vector"] for c in parity} == {"text", "image"}
    for c in parity:
        assert c.passed and c.figures["queries"] == 25.0
        assert c.figures["recall"] >= 0.9  # measured: 1.0 on 300 points with m=16 (see report)
    edge_side = dst_uri if dst_kind == "edge" else src_uri
    assert any("ANN queries use Edge's HNSW index" in n and edge_side in n for n in report.notes), report.notes
    if dst_kind == "edge":
        assert any("optimize()" in n for n in report.notes)  # migrate built the target's index
    close_all()
    again = validate(_cfg(src_uri, dst_uri, tmp_path))
    assert again.status == "ok", again.summary_lines()
    assert {c.name for c in again.checks} >= {"count", "content", "parity recall@10"}


def test_ulp_tolerance_is_exactly_what_edge_needs(tmp_path: Path) -> None:
    """local -> Edge: Edge changes some payload floats by 1 ULP; exact comparison sees only those."""
    src_uri, dst_uri = str(tmp_path / "src"), f"edge:{tmp_path / 'dst'}"
    _fill(src_uri)
    report = migrate(_cfg(src_uri, dst_uri, tmp_path))
    assert report.status == "ok"
    src, dst = open_endpoint(src_uri), open_endpoint(dst_uri)
    tspec = dst.get_spec("docs")
    loose = compare_points(expected_points(src, "docs", Transformer([])), dst, "docs", tspec, ulps=1)
    exact = compare_points(expected_points(src, "docs", Transformer([])), dst, "docs", tspec, ulps=0)
    assert loose["equal"] == N and loose["differs"] == 0
    # without the tolerance, the points that needed it (and only those) differ, on their payload
    assert exact["differs"] == loose["payload_within_ulps"]
    assert all(": payload:" in line for line in exact["first"])
    content = next(c for c in report.checks if c.name == "content")
    assert content.figures["payload_within_ulps"] == loose["payload_within_ulps"]


def test_edge_query_exact_and_ann(tmp_path: Path) -> None:
    """exact=True is a true k-NN; ANN goes through Edge's HNSW (a deliberately weak one is lossy)."""
    pts = _points(400, seed=11)
    text = np.array([p.vectors["text"] for p in pts], dtype=np.float64)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    image = np.array([p.vectors["image"] for p in pts], dtype=np.float64)
    ids = np.array([p.id for p in pts])
    weak = EdgeEndpoint(tmp_path / "weak")
    weak.create_collection("docs", _spec(m=4, ef_construct=4))
    weak.write("docs", pts)
    assert "no HNSW index built" in weak.search_index_note("docs")
    weak.optimize("docs")
    assert "HNSW index" in weak.search_index_note("docs")
    ann_recall = []
    for qi in range(0, 400, 10):
        truth = ids[np.argsort(-(text @ text[qi]))[:10]].tolist()
        hits = weak.query("docs", pts[qi].vectors["text"], using="text", limit=10, exact=True)
        assert [h[0] for h in hits] == truth
        assert np.allclose([h[1] for h in hits], np.sort(text @ text[qi])[::-1][:10], atol=1e-5)
        ann = weak.query("docs", pts[qi].vectors["text"], using="text", limit=10)
        ann_recall.append(len({h[0] for h in ann} & set(truth)) / 10)
        dist = np.linalg.norm(image - image[qi], axis=1)
        e_hits = weak.query("docs", np.asarray(pts[qi].vectors["image"]), using="image", limit=5, exact=True)
        assert [h[0] for h in e_hits] == ids[np.argsort(dist)[:5]].tolist()
        assert e_hits[0][1] == pytest.approx(0.0, abs=1e-5)  # Euclid: a distance, as a server returns
    # m=4, ef_construct=4 over 32-d noise: measured ~0.4 recall@10; a full scan would give 1.0
    assert np.mean(ann_recall) < 0.9
    weak.close()

    unnamed = EdgeEndpoint(tmp_path / "unnamed")
    spec = _spec()
    spec.config["params"] = {"vectors": {"size": 16, "distance": "Dot"}}
    unnamed.create_collection("u", spec)
    unnamed.write("u", [Point(id=p.id, vectors={"": p.vectors["image"]}, payload=None) for p in pts[:50]])
    q = pts[3].vectors["image"]
    hits = unnamed.query("u", q, limit=3, exact=True)
    scores = image[:50] @ np.asarray(q)
    assert [h[0] for h in hits] == ids[:50][np.argsort(-scores)[:3]].tolist()
    unnamed.close()


def test_cli_migrate_from_edge_to_local_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = f"edge:{tmp_path / 'edge'}", str(tmp_path / "local")
    _fill(src)
    close_all()
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["migrate", "--source", src, "--target", dst, "--no-backup", "--report", "rep"])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "rep.json").read_text())
    assert data["collections"][0]["written"] == N
    checks = {c["name"]: c for c in data["checks"]}
    assert all(c["passed"] for c in data["checks"]) and "parity recall@10" in checks
    assert "within 1 ULP" in checks["content"]["detail"] or "bitwise equal" in checks["content"]["detail"]
    res = CliRunner().invoke(app, ["validate", "--source", src, "--target", dst])
    assert res.exit_code == 0, res.output
