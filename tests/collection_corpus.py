"""A corpus of collection configs: every feature qdrant-client's models (1.20) can express.

Each ``Case`` is one feature: ``create_collection`` keyword arguments as a user writes them with
qdrant-client, the payload indexes and aliases to add, and a few points that exercise it. The
round-trip matrix (endpoints/test_collection_matrix.py) and the property-based run (reliability/test_property_run.py,
benchmarks/property_run.py) are built from it.

``spec_of(case)`` is the same collection as qdrant-ops describes it (``CollectionSpec``: the config
as a server's ``get_collection`` reports it), which is how a Qdrant Edge store is given it.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import models as m

from qdrant_ops.endpoints.base import CollectionSpec, Point, SparseValue

MAX_ID = 2**64 - 1


@dataclass
class Case:
    feature: str
    kwargs: dict[str, Any]
    points: list[Point] = field(default_factory=list)
    indexes: dict[str, Any] = field(default_factory=dict)  # field name -> field_schema
    aliases: list[str] = field(default_factory=list)


def _dump(model: Any) -> Any:
    if isinstance(model, dict):
        return {k: _dump(v) for k, v in model.items()}
    return json.loads(model.model_dump_json(exclude_none=True))


def spec_of(case: Case, name: str) -> CollectionSpec:
    """``case`` as a ``CollectionSpec`` (the shape of a server's ``get_collection``)."""
    kw = case.kwargs
    params: dict[str, Any] = {}
    vectors = kw.get("vectors_config")
    params["vectors"] = _dump(vectors) if vectors is not None else {}
    if kw.get("sparse_vectors_config"):
        params["sparse_vectors"] = _dump(kw["sparse_vectors_config"])
    for key in ("shard_number", "replication_factor", "write_consistency_factor", "on_disk_payload"):
        if kw.get(key) is not None:
            params[key] = kw[key]
    if kw.get("sharding_method") is not None:
        params["sharding_method"] = kw["sharding_method"].value
    for key in ("payload", "id_tracker"):
        if kw.get(key) is not None:
            params[key] = _dump(kw[key])
    config: dict[str, Any] = {"params": params}
    for key, out in (
        ("hnsw_config", "hnsw_config"),
        ("optimizers_config", "optimizer_config"),
        ("wal_config", "wal_config"),
        ("quantization_config", "quantization_config"),
        ("strict_mode_config", "strict_mode_config"),
    ):
        if kw.get(key) is not None:
            config[out] = _dump(kw[key])
    if kw.get("metadata"):
        config["metadata"] = kw["metadata"]
    schema = {f: {"data_type": _index_type(s), **({"params": _dump(s)} if not isinstance(s, m.PayloadSchemaType) else {})}
              for f, s in case.indexes.items()}
    return CollectionSpec(name=name, config=config, payload_schema=schema, aliases=list(case.aliases))


def _index_type(schema: Any) -> str:
    if isinstance(schema, m.PayloadSchemaType):
        return str(schema.value)
    return str(schema.type.value if hasattr(schema.type, "value") else schema.type)


# -- points -------------------------------------------------------------------------------------


def _ids(n: int, rng: random.Random, kind: str) -> list[int | str]:
    if kind == "uuid":
        return [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(n)]
    if kind == "mixed":
        return [0, MAX_ID] + [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(n - 2)]
    return [0, MAX_ID] + rng.sample(range(1, 10**12), n - 2)


def _dense(rng: random.Random, size: int, datatype: str | None) -> list[float]:
    if datatype == "uint8":
        return [float(rng.randrange(256)) for _ in range(size)]
    if datatype == "float16":
        # exact in float16, so the stored value is the written one
        return [rng.randrange(-512, 512) / 64 for _ in range(size)]
    return [rng.uniform(-1, 1) for _ in range(size)]


def _payload(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "i": i,
        "score": rng.random() * 100,
        "title": f"The quick brown fox {i} jumps — Tâche 検索",
        "tag": rng.choice(["red", "green", "blue"]),
        "tenant": f"t{i % 3}",
        "loc": {"lon": rng.uniform(-180, 180), "lat": rng.uniform(-90, 90)},
        "when": f"2026-01-{1 + i % 28:02d}T10:00:00Z",
        "uid": str(uuid.UUID(int=i + 1)),
        "flag": i % 2 == 0,
        "deep": {"a": [1, 2.5, None], "b": {"c": "x"}},
    }


def make_points(kwargs: dict[str, Any], n: int, seed: int, ids: str = "int") -> list[Point]:
    """``n`` points fitting the vectors of ``kwargs`` (one of each named vector, sparse too)."""
    rng = random.Random(seed)
    vc = kwargs.get("vectors_config")
    dense: dict[str, m.VectorParams] = {}
    if isinstance(vc, m.VectorParams):
        dense[""] = vc
    elif isinstance(vc, dict):
        dense.update(vc)
    sparse = list(kwargs.get("sparse_vectors_config") or {})
    out: list[Point] = []
    for i, pid in enumerate(_ids(n, rng, ids) if n >= 2 else _ids(2, rng, ids)[:n]):
        vectors: dict[str, Any] = {}
        for name, p in dense.items():
            dt = p.datatype.value if p.datatype is not None else None
            if p.multivector_config is not None:
                vectors[name] = [_dense(rng, p.size, dt) for _ in range(1 + i % 3)]
            else:
                vectors[name] = _dense(rng, p.size, dt)
        for name in sparse:
            idx = sorted(rng.sample(range(1000), 1 + i % 4))
            vectors[name] = SparseValue(idx, [round(rng.uniform(0.1, 2), 3) for _ in idx])
        out.append(Point(id=pid, vectors=vectors, payload=_payload(rng, i)))
    return out


# -- the corpus -----------------------------------------------------------------------------------

D = 4  # dense size: tiny collections keep the matrix fast


def _vp(**kw: Any) -> m.VectorParams:
    return m.VectorParams(size=kw.pop("size", D), distance=kw.pop("distance", m.Distance.COSINE), **kw)


def _cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(feature, create kwargs, extras: indexes / aliases / ids / n)."""
    cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    add = lambda f, kw, **ex: cases.append((f, kw, ex))  # noqa: E731
    # vectors
    add("dense-unnamed", {"vectors_config": _vp()})
    for d in m.Distance:
        add(f"distance-{d.value.lower()}", {"vectors_config": {"v": _vp(distance=d)}})
    add("named-two", {"vectors_config": {"a": _vp(size=3, distance=m.Distance.DOT), "b": _vp(size=5)}})
    turbo = [d for d in m.Datatype if d.value.startswith("turbo")]  # newer qdrant-client releases only
    for dt in (m.Datatype.FLOAT32, m.Datatype.FLOAT16, m.Datatype.UINT8, *turbo):
        add(f"datatype-{dt.value}", {"vectors_config": {"v": _vp(datatype=dt, distance=m.Distance.EUCLID)}})
    add("datatype-float16-with-sparse", {
        "vectors_config": {"f16": _vp(datatype=m.Datatype.FLOAT16, distance=m.Distance.DOT)},
        "sparse_vectors_config": {"s": m.SparseVectorParams()},
    })
    add("sparse-only", {"vectors_config": {}, "sparse_vectors_config": {"s": m.SparseVectorParams()}})
    add("sparse-idf", {"vectors_config": {}, "sparse_vectors_config": {
        "s": m.SparseVectorParams(modifier=m.Modifier.IDF)}})
    add("sparse-index-params", {"vectors_config": {"d": _vp()}, "sparse_vectors_config": {
        "s": m.SparseVectorParams(index=m.SparseIndexParams(full_scan_threshold=500, on_disk=True, datatype=m.Datatype.FLOAT16))}})
    add("multivector-max-sim", {"vectors_config": {"colbert": _vp(multivector_config=m.MultiVectorConfig(
        comparator=m.MultiVectorComparator.MAX_SIM))}})
    add("vector-on-disk", {"vectors_config": {"v": _vp(on_disk=True)}})
    add("on-disk-payload", {"vectors_config": _vp(), "on_disk_payload": True})
    # HNSW
    add("hnsw-collection", {"vectors_config": _vp(), "hnsw_config": m.HnswConfigDiff(
        m=8, ef_construct=64, full_scan_threshold=5000, on_disk=True, payload_m=4)})
    add("hnsw-per-vector", {"vectors_config": {"v": _vp(hnsw_config=m.HnswConfigDiff(m=32, ef_construct=200))}})
    add("hnsw-inline-storage", {"vectors_config": {"v": _vp(hnsw_config=m.HnswConfigDiff(
        m=16, on_disk=True, inline_storage=True))}, "quantization_config": None})
    add("hnsw-memory", {"vectors_config": {"v": _vp(memory=m.Memory.CACHED)}, "hnsw_config": m.HnswConfigDiff(memory=m.Memory.COLD)})
    # quantization
    add("quant-scalar", {"vectors_config": _vp(), "quantization_config": m.ScalarQuantization(
        scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, quantile=0.99, always_ram=True))})
    for c in m.CompressionRatio:
        add(f"quant-product-{c.value}", {"vectors_config": _vp(size=64), "quantization_config": m.ProductQuantization(
            product=m.ProductQuantizationConfig(compression=c, always_ram=False))})
    for enc in m.BinaryQuantizationEncoding:
        for qe in m.BinaryQuantizationQueryEncoding:
            add(f"quant-binary-{enc.value}-{qe.value}", {"vectors_config": _vp(), "quantization_config": m.BinaryQuantization(
                binary=m.BinaryQuantizationConfig(always_ram=True, encoding=enc, query_encoding=qe))})
    for bits in m.TurboQuantBitSize:
        add(f"quant-turbo-{bits.value}", {"vectors_config": _vp(size=8), "quantization_config": m.TurboQuantization(
            turbo=m.TurboQuantQuantizationConfig(bits=bits, always_ram=True))})
    add("quant-per-vector", {"vectors_config": {"v": _vp(quantization_config=m.ScalarQuantization(
        scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8)))}})
    # optimizer, WAL, strict mode, metadata
    add("optimizers", {"vectors_config": _vp(), "optimizers_config": m.OptimizersConfigDiff(
        deleted_threshold=0.3, vacuum_min_vector_number=500, default_segment_number=2, max_segment_size=50000,
        indexing_threshold=10000, flush_interval_sec=7, max_optimization_threads=2, prevent_unoptimized=True)})
    add("wal", {"vectors_config": _vp(), "wal_config": m.WalConfigDiff(wal_capacity_mb=64, wal_segments_ahead=1, wal_retain_closed=2)})
    add("strict-mode", {"vectors_config": _vp(), "strict_mode_config": m.StrictModeConfig(
        enabled=True, max_query_limit=100, unindexed_filtering_retrieve=False, upsert_max_batchsize=1000)})
    add("metadata", {"vectors_config": _vp(), "metadata": {"team": "search", "n": 3, "nested": {"a": [1, None, "x"]}}})
    # sharding, replication, consistency, storage params
    add("sharding-replication", {"vectors_config": _vp(), "shard_number": 3, "replication_factor": 2,
                                 "write_consistency_factor": 2})
    add("sharding-custom", {"vectors_config": _vp(), "sharding_method": m.ShardingMethod.CUSTOM, "shard_number": 1})
    add("payload-id-tracker-memory", {"vectors_config": _vp(), "payload": m.PayloadStorageParams(memory=m.Memory.PINNED),
                                      "id_tracker": m.IdTrackerParams(memory=m.Memory.CACHED)})
    # payload indexes
    text = m.TextIndexParams(type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.WORD, min_token_len=2, max_token_len=20,
                             lowercase=True, ascii_folding=True, phrase_matching=True,
                             stopwords=m.StopwordsSet(languages=[m.Language.ENGLISH], custom=["fox"]),
                             stemmer=m.SnowballParams(type=m.Snowball.SNOWBALL, language=m.SnowballLanguage.ENGLISH),
                             on_disk=True)
    add("index-text", {"vectors_config": _vp()}, indexes={"title": text})
    add("index-text-multilingual", {"vectors_config": _vp()}, indexes={"title": m.TextIndexParams(
        type=m.TextIndexType.TEXT, tokenizer=m.TokenizerType.MULTILINGUAL, stopwords=m.Language.FRENCH)})
    add("index-keyword-tenant", {"vectors_config": _vp()}, indexes={"tenant": m.KeywordIndexParams(
        type=m.KeywordIndexType.KEYWORD, is_tenant=True, on_disk=True)})
    add("index-integer", {"vectors_config": _vp()}, indexes={"i": m.IntegerIndexParams(
        type=m.IntegerIndexType.INTEGER, lookup=True, range=False, is_principal=True)})
    add("index-float", {"vectors_config": _vp()}, indexes={"score": m.FloatIndexParams(type=m.FloatIndexType.FLOAT, on_disk=True)})
    add("index-geo", {"vectors_config": _vp()}, indexes={"loc": m.GeoIndexParams(type=m.GeoIndexType.GEO)})
    add("index-datetime", {"vectors_config": _vp()}, indexes={"when": m.DatetimeIndexParams(
        type=m.DatetimeIndexType.DATETIME, is_principal=True)})
    add("index-uuid", {"vectors_config": _vp()}, indexes={"uid": m.UuidIndexParams(type=m.UuidIndexType.UUID, is_tenant=True)})
    add("index-bool", {"vectors_config": _vp()}, indexes={"flag": m.BoolIndexParams(type=m.BoolIndexType.BOOL)})
    add("index-plain-types", {"vectors_config": _vp()}, indexes={
        "tag": m.PayloadSchemaType.KEYWORD, "i": m.PayloadSchemaType.INTEGER, "flag": m.PayloadSchemaType.BOOL})
    # aliases, shapes, ids
    add("aliases", {"vectors_config": _vp()}, aliases=["live", "prod-search"])
    add("no-vectors", {"vectors_config": {}})
    add("empty-collection", {"vectors_config": {"v": _vp()}}, n=0)
    add("ids-uuid", {"vectors_config": _vp()}, ids="uuid")
    add("ids-mixed", {"vectors_config": {"v": _vp()}}, ids="mixed")
    return cases


def corpus(n: int = 6) -> list[Case]:
    """The corpus: one case per feature, ``n`` points each (``empty-collection`` none)."""
    out: list[Case] = []
    for i, (feature, kwargs, extra) in enumerate(_cases()):
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        count = int(extra.get("n", n))
        points = make_points(kwargs, count, seed=i, ids=str(extra.get("ids", "int")))
        out.append(Case(feature, kwargs, points, dict(extra.get("indexes") or {}), list(extra.get("aliases") or [])))
    return out


CORPUS = corpus()
FEATURES = [c.feature for c in CORPUS]
