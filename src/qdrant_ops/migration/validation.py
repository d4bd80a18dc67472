"""Post-migration validation: exact counts, content digests, and semantic parity.

- count: the target holds exactly the points the migration wrote;
- content: the digest of what was written (computed during the copy, after transforms) equals the
  digest of a fresh scan of the target. Engines rewrite vectors (cosine normalisation), so when the
  bitwise digests differ but ids, payloads and vector shapes agree, the expected points are rebuilt
  (source scan + transforms) and compared with the target point by point, with the tolerances of
  ``compare.py``, whose tolerance follows each target field's datatype (float16/uint8 store fewer
  bits);
- parity: K sample points, chosen reproducibly (the first K of slice 0), are used as queries on both
  sides. recall@k of the target's ANN search against like answers (``parity_truth``): the source's
  own ANN answers where the source has an index, its exact search where it has none, the target's
  exact search when a hook may have changed vectors or the selection; overlap of the two ANN
  results, score drift, and latency p50/p95 on each side.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from qdrant_ops.endpoints.base import CollectionSpec, Endpoint, PageColumns, Point, PointId, VectorField
from qdrant_ops.errors import QdrantOpsError, UnsupportedError
from qdrant_ops.format.columns import normalize_id
from qdrant_ops.format.compare import payload_equal, point_difference
from qdrant_ops.format.integrity import Digest, digest_columns, scan_digest
from qdrant_ops.migration.config import ValidationSettings
from qdrant_ops.migration.transforms import Transformer
from qdrant_ops.pipeline.retry import RetryPolicy, call_with_retry, retrying_scan
from qdrant_ops.reports import Report

log = logging.getLogger(__name__)

Search = Callable[[list[Any], str, int, bool], list[tuple[PointId, float]]]


# -- content -----------------------------------------------------------------------------------


def digest_points(points: Sequence[Point], fields: Sequence[VectorField]) -> Digest:
    # The payloads are at hand: the digest takes them as objects, sparing a JSON round trip.
    return digest_columns(PageColumns.from_points(points), fields)


def expected_points(
    src: Endpoint, name: str, transformer: Transformer, batch_size: int = 1000
) -> Iterator[list[Point]]:
    """The source scanned again and transformed: what the target should hold."""
    for page in retrying_scan(src, name, batch_size=batch_size):
        if page.points:
            yield transformer.apply(page.points).points


def compare_points(
    expected: Iterator[list[Point]],
    dst: Endpoint,
    tname: str,
    tspec: CollectionSpec,
    *,
    ulps: int = 0,
    limit: int = 10,
) -> dict[str, Any]:
    """Every expected point against the target's point with the same id; then extras."""
    fields = tspec.vector_fields()
    out: dict[str, Any] = {"compared": 0, "equal": 0, "missing": 0, "differs": 0, "extra": 0, "first": []}
    if ulps:
        out["payload_within_ulps"] = 0  # equal only thanks to the ULP tolerance (Qdrant Edge)
    seen: set[PointId] = set()
    for batch in expected:
        for start in range(0, len(batch), 256):
            chunk = batch[start : start + 256]
            found = {normalize_id(p.id): p for p in dst.retrieve(tname, [p.id for p in chunk])}
            for p in chunk:
                key = normalize_id(p.id)
                seen.add(key)
                out["compared"] += 1
                other = found.get(key)
                if other is None:
                    out["missing"] += 1
                    if len(out["first"]) < limit:
                        out["first"].append(f"{p.id}: missing from the target")
                    continue
                diff = point_difference(p, other, fields, ulps)
                if diff is None:
                    out["equal"] += 1
                    if ulps and not payload_equal(p.payload or {}, other.payload or {}, 0):
                        out["payload_within_ulps"] += 1
                else:
                    out["differs"] += 1
                    if len(out["first"]) < limit:
                        out["first"].append(f"{diff.id}: {diff.kind}: {diff.detail}")
    count = dst.count(tname)
    if count > len(seen) - out["missing"]:
        for page in retrying_scan(dst, tname, batch_size=1000, with_vectors=False):
            for p in page.points:
                if normalize_id(p.id) not in seen:
                    out["extra"] += 1
                    if len(out["first"]) < limit:
                        out["first"].append(f"{p.id}: only in the target")
    return out


def check_content(
    report: Report,
    collection: str,
    *,
    written: Digest,
    dst: Endpoint,
    tname: str,
    tspec: CollectionSpec,
    rebuild: Callable[[], Iterator[list[Point]]],
    ulps: int = 0,
    batch_size: int = 1000,
    dropped: int = 0,
) -> bool:
    """Count and content checks; returns True when both pass.

    ``dropped`` counts points a python hook removed: unlike a declared ``filter`` they are points
    lost, and fail the count check.
    """
    fields = tspec.vector_fields()
    count = dst.count(tname)
    ok_count = count == written.count and dropped == 0
    detail = f"{count} points in {tname}, {written.count} written"
    if dropped:
        detail += f"; {dropped} source point(s) dropped by a python hook"
    report.check(
        "count", ok_count, detail,
        collection=collection, figures={"target": count, "written": written.count, "dropped_by_hook": dropped},
    )
    actual = scan_digest(dst, tname, fields, batch_size)
    figures: dict[str, Any] = {"written": f"{written.full:032x}", "target": f"{actual.full:032x}"}
    if actual == written:
        report.check("content", True, f"bitwise equal digests {actual.full:032x}", collection=collection, figures=figures)
        return ok_count
    result = compare_points(rebuild(), dst, tname, tspec, ulps=ulps)
    figures.update({k: v for k, v in result.items() if k != "first"})
    ok = (
        result["missing"] == 0 and result["differs"] == 0 and result["extra"] == 0
        and result["compared"] == written.count == count
    )
    if ok:
        why = (
            f"payload floats compared within {ulps} ULP because Qdrant Edge is an endpoint: "
            f"{result.get('payload_within_ulps', 0)} point(s) equal only within it; "
            if ulps else ""
        )
        detail = (
            f"bitwise digests differ (the engine rewrites vectors); all {result['compared']} points "
            f"equal point by point ({why}vectors within tolerance)"
        )
    else:
        detail = (
            f"{result['missing']} missing, {result['extra']} extra, {result['differs']} differ of "
            f"{result['compared']} expected" + (f"; first: {'; '.join(result['first'][:3])}" if result["first"] else "")
        )
    report.check("content", ok, detail, collection=collection, figures=figures)
    return ok_count and ok


# -- semantic parity ----------------------------------------------------------------------------


def searcher(ep: Endpoint, collection: str) -> Search:
    """A search function over ``ep``: its own ``query`` method, or qdrant-client's query_points."""
    own = getattr(ep, "query", None)
    if callable(own):

        def via_endpoint(vector: list[Any], using: str, k: int, exact: bool) -> list[tuple[PointId, float]]:
            return list(own(collection, vector, using=using, limit=k, exact=exact))

        return via_endpoint
    client = getattr(ep, "client", None)
    if client is None or not hasattr(client, "query_points"):
        raise UnsupportedError(f"{ep.info().display} cannot run search queries")

    def via_client(vector: list[Any], using: str, k: int, exact: bool) -> list[tuple[PointId, float]]:
        from qdrant_client import models

        res = call_with_retry(lambda: client.query_points(
            collection,
            query=vector,
            using=using or None,
            limit=k,
            with_payload=False,
            search_params=models.SearchParams(exact=True) if exact else None,
        ), RetryPolicy(), what=f"query {collection}")
        return [(p.id, float(p.score)) for p in res.points]

    return via_client


def sample_points(ep: Endpoint, name: str, k: int, batch_size: int = 256) -> list[Point]:
    """K points chosen reproducibly: the first K of slice 0 of ``count // 2K`` slices."""
    count = ep.count(name)
    if count == 0:
        return []
    total = max(1, count // (2 * k))  # slice 0 then holds about 2K points: enough for K
    slice_ = (0, total) if total > 1 and ep.info().supports_slice else None
    out: list[Point] = []
    for page in retrying_scan(ep, name, batch_size=min(batch_size, max(k, 16)), slice_=slice_):
        out.extend(page.points)
        if len(out) >= k:
            break
    return out[:k]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def _tied(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, rtol=1e-6, atol=1e-9))


def parity_figures(
    queries: Sequence[Any],
    *,
    target_ann: Callable[[Any], list[tuple[PointId, float]]],
    source_ann: Callable[[Any], list[tuple[PointId, float]]],
    truth: Callable[[Any], list[tuple[PointId, float]]],
    k: int,
    per_query: dict[str, list[float]] | None = None,
) -> dict[str, float]:
    """recall@k, overlap, score drift and latencies over ``queries``.

    ``per_query``, when given, receives each query's recall, largest score drift and latencies
    (the HTML report charts their distributions).
    """
    recalls: list[float] = []
    overlaps: list[float] = []
    drifts: list[float] = []
    lat_t: list[float] = []
    lat_s: list[float] = []
    for q in queries:
        t0 = time.perf_counter()
        t_res = target_ann(q)
        t1 = time.perf_counter()
        s_res = source_ann(q)
        t2 = time.perf_counter()
        lat_t.append((t1 - t0) * 1000)
        lat_s.append((t2 - t1) * 1000)
        exact = truth(q)
        truth_ids = {normalize_id(i): s for i, s in exact}
        t_ids = {normalize_id(i): s for i, s in t_res}
        s_ids = {normalize_id(i) for i, _ in s_res}
        denom = min(k, len(truth_ids))
        if denom:
            hits = set(t_ids) & set(truth_ids)
            if len(exact) >= k:
                # A neighbour scored as the k-th true one is as near: ties at the cut are broken
                # by each engine its own way, and taking the other one is no miss.
                cut = exact[-1][1]
                hits |= {i for i, sc in t_ids.items() if i not in truth_ids and _tied(sc, cut)}
            recalls.append(min(len(hits), denom) / denom)
        denom_o = min(k, max(len(s_ids), len(t_ids)))
        if denom_o:
            overlaps.append(len(set(t_ids) & s_ids) / denom_o)
        q_drifts = [abs(t_ids[i] - truth_ids[i]) for i in set(t_ids) & set(truth_ids)]
        drifts.extend(q_drifts)
        if per_query is not None:
            if denom:
                per_query.setdefault("recall", []).append(round(recalls[-1], 4))
            if q_drifts:
                per_query.setdefault("score_drift", []).append(float(f"{max(q_drifts):.3g}"))
            per_query.setdefault("target_latency_ms", []).append(round(lat_t[-1], 3))
            per_query.setdefault("source_latency_ms", []).append(round(lat_s[-1], 3))
    return {
        "queries": float(len(queries)),
        "recall": float(np.mean(recalls)) if recalls else 1.0,
        "min_recall_seen": float(min(recalls)) if recalls else 1.0,
        "overlap": float(np.mean(overlaps)) if overlaps else 1.0,
        "score_drift_mean": float(np.mean(drifts)) if drifts else 0.0,
        "score_drift_max": float(max(drifts)) if drifts else 0.0,
        "target_latency_p50_ms": _pct(lat_t, 50),
        "target_latency_p95_ms": _pct(lat_t, 95),
        "source_latency_p50_ms": _pct(lat_s, 50),
        "source_latency_p95_ms": _pct(lat_s, 95),
    }


def parity_truth(src: Endpoint, name: str, against_target: bool) -> tuple[str, bool, str]:
    """What the target's ANN answers are measured against: ``(label, exact, why)``.

    Like with like: an indexed source's own ANN answers, so that an HNSW target is not failed for
    being approximate where the source is too; exact search where the source has no index.
    """
    if against_target:
        return "target exact search", True, "a hook or filter may have changed vectors or the selection"
    count = getattr(src, "indexed_vectors", None)
    try:
        indexed = int(count(name)) if callable(count) else None
    except QdrantOpsError:
        indexed = None
    if indexed:
        return "source ANN search", False, f"the source searches an HNSW index ({indexed} indexed vectors)"
    if indexed == 0:
        why = "the source has no ANN index (local mode, or no HNSW built yet): its search is exact"
    else:
        why = "the source's index is unknown: exact search is the ground truth"
    return "source exact search", True, why


def check_parity(
    report: Report,
    collection: str,
    *,
    src: Endpoint,
    name: str,
    dst: Endpoint,
    tname: str,
    tspec: CollectionSpec,
    vector_names: dict[str, str],
    against_target: bool,
    settings: ValidationSettings,
) -> bool:
    """Semantic parity of every dense and multi vector; returns True when every threshold holds.

    ``vector_names`` maps a target vector name to the source's; ``against_target`` makes the
    target's exact search the ground truth (vectors or selection changed by a hook or filter).
    """
    try:
        search_t = searcher(dst, tname)
        search_s = searcher(src, name)
    except UnsupportedError as exc:
        report.notes.append(f"{collection}: semantic parity skipped: {exc}")
        return True
    fields = [f for f in tspec.vector_fields() if f.kind in ("dense", "multi")]
    skipped = [f.name for f in tspec.vector_fields() if f.kind == "sparse"]
    if skipped:
        report.notes.append(
            f"{collection}: sparse vectors {', '.join(skipped)} are not part of semantic parity "
            "(sparse search is exact on both sides; the content check covers them)"
        )
    for ep, cname in ((dst, tname), (src, name)):
        index_note = getattr(ep, "search_index_note", None)
        if callable(index_note):
            report.notes.append(str(index_note(cname)))
    sample = sample_points(dst, tname, settings.samples)
    if not sample:
        report.notes.append(f"{collection}: semantic parity skipped: the target is empty")
        return True
    k = settings.k
    ok_all = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # local mode: "search_params has no effect"
        for f in fields:
            src_name = vector_names.get(f.name)
            if src_name is None and not against_target:
                continue
            queries = [_as_query(p.vectors[f.name]) for p in sample if f.name in p.vectors]
            if not queries:
                continue
            using_t = f.name
            using_s = src_name if src_name is not None else f.name
            can_source = src_name is not None
            none: Callable[[Any], list[tuple[PointId, float]]] = _no_results
            truth, exact, why = parity_truth(src, name, against_target)
            if against_target:
                truth_fn = _bound(search_t, using_t, k, True)
            else:
                truth_fn = _bound(search_s, using_s, k, exact)
            per_query: dict[str, list[float]] = {}
            figs = parity_figures(
                queries,
                target_ann=_bound(search_t, using_t, k, False),
                source_ann=_bound(search_s, using_s, k, False) if can_source else none,
                truth=truth_fn,
                k=k,
                per_query=per_query,
            )
            if not can_source:
                per_query.pop("source_latency_ms", None)  # no source search ran: those are not latencies
            label = f.name or "(unnamed)"
            figs_r = {key: round(v, 4) for key, v in figs.items()}
            ok = figs["recall"] >= settings.min_recall
            report.check(
                f"parity recall@{k}",
                ok,
                f"vector {label}: {figs['recall']:.4f} against {truth} ({why}) over {len(queries)} queries "
                f"(min {settings.min_recall}); overlap {figs['overlap']:.4f}, score drift "
                f"{figs['score_drift_mean']:.2e} mean / {figs['score_drift_max']:.2e} max; latency p50/p95 "
                f"target {figs['target_latency_p50_ms']:.2f}/{figs['target_latency_p95_ms']:.2f} ms, "
                f"source {figs['source_latency_p50_ms']:.2f}/{figs['source_latency_p95_ms']:.2f} ms",
                collection=collection,
                figures={"vector": f.name, "k": k, "truth": truth, "truth_reason": why,
                         "min_recall": settings.min_recall, **figs_r, "per_query": per_query},
            )
            if not ok and truth == "source exact search":
                note = exact_gap_note(queries, _bound(search_t, using_t, k, True), truth_fn, k, collection, label)
                if note:
                    report.notes.append(note)
            ok_all = ok_all and ok
            if settings.min_overlap is not None and can_source:
                good = figs["overlap"] >= settings.min_overlap
                report.check(
                    "parity overlap", good, f"vector {label}: {figs['overlap']:.4f} (min {settings.min_overlap})",
                    collection=collection, figures={"vector": f.name, "overlap": figs_r["overlap"]},
                )
                ok_all = ok_all and good
            if settings.max_score_drift is not None:
                good = figs["score_drift_max"] <= settings.max_score_drift
                report.check(
                    "parity score drift", good,
                    f"vector {label}: max {figs['score_drift_max']:.2e} (max allowed {settings.max_score_drift})",
                    collection=collection, figures={"vector": f.name, "score_drift_max": figs["score_drift_max"]},
                )
                ok_all = ok_all and good
            if settings.max_latency_p95_ms is not None:
                good = figs["target_latency_p95_ms"] <= settings.max_latency_p95_ms
                report.check(
                    "parity latency", good,
                    f"vector {label}: target p95 {figs['target_latency_p95_ms']:.2f} ms "
                    f"(max {settings.max_latency_p95_ms} ms)",
                    collection=collection, figures={"vector": f.name, "p95_ms": figs_r["target_latency_p95_ms"]},
                )
                ok_all = ok_all and good
    return ok_all


def exact_gap_note(
    queries: Sequence[Any],
    target_exact: Callable[[Any], list[tuple[PointId, float]]],
    source_exact: Callable[[Any], list[tuple[PointId, float]]],
    k: int,
    collection: str,
    label: str,
) -> str | None:
    """One line when a failed recall gate comes only from comparing an approximate target with
    an exactly searched source: the target's own exact search then gives the source's answers."""
    figs = parity_figures(queries, target_ann=target_exact, source_ann=_no_results, truth=source_exact, k=k)
    if figs["recall"] < 0.999:
        return None
    return (
        f"{collection}: recall gate on vector {label} failed only because the source was searched "
        f"exactly: the target's exact search returns the source's answers (recall {figs['recall']:.4f}), "
        "so the data agree; the gap is the target's HNSW approximation, large on random-like vectors"
    )


def _no_results(q: Any) -> list[tuple[PointId, float]]:
    return []


def _bound(search: Search, using: str, k: int, exact: bool) -> Callable[[Any], list[tuple[PointId, float]]]:
    def run(q: Any) -> list[tuple[PointId, float]]:
        return search(q, using, k, exact)

    return run


def _as_query(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, list) and v and hasattr(v[0], "tolist"):
        return [x.tolist() for x in v]
    return v
