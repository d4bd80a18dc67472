"""What qdrant-client is given: upsert requests built from points, and ``create_collection``
keyword arguments and payload indexes built from a collection spec."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from qdrant_ops.endpoints.base import CollectionSpec, Point, SparseValue, is_vector_params

log = logging.getLogger(__name__)


def points_request(points: Sequence[Point]) -> Any:
    """What ``upsert`` is given for ``points``: one ``Batch`` (ids, vectors and payloads as
    columns) when every point holds only the unnamed dense vector and a payload, the common
    page; otherwise a ``PointStruct`` per point. The engine builds a point from a batch row
    itself, so a ``PointStruct`` made here first was built twice."""
    from qdrant_client import models

    vectors: list[Any] = []
    for p in points:
        dense = _only_dense(p) if p.payload is not None else None
        if dense is None:
            return [point_to_struct(q) for q in points]  # sparse, named, multi, no payload
        vectors.append(dense)
    return models.Batch.model_construct(
        ids=[p.id for p in points], vectors=vectors, payloads=[p.payload for p in points]
    )


def _only_dense(p: Point) -> list[Any] | None:
    """The point's vector as a float list when it holds only the unnamed dense vector (the common
    point), else None."""
    v: Any = p.vectors.get("") if len(p.vectors) == 1 else None
    dense = v.tolist() if hasattr(v, "tolist") else v
    if not isinstance(dense, list) or (dense and isinstance(dense[0], list)):
        return None
    return dense


def point_to_struct(p: Point) -> Any:
    from qdrant_client import models

    dense = _only_dense(p)
    if dense is not None:
        return models.PointStruct.model_construct(id=p.id, vector=dense, payload=p.payload)
    vectors: dict[str, Any] = {}
    for k, v in p.vectors.items():
        if isinstance(v, SparseValue):
            vectors[k] = models.SparseVector(indices=list(v.indices), values=list(v.values))
        elif hasattr(v, "tolist"):
            vectors[k] = v.tolist()
        else:
            vectors[k] = v
    vector: Any
    if set(vectors) == {""}:
        vector = vectors[""]
    else:
        vector = vectors
    # Built without pydantic validation: the values are already plain ids, float lists and JSON
    # payloads, and the engine validates every point itself (local mode re-checks each one; a
    # server answers 400). Validating here too cost as much as the embedded engine's own upsert.
    return models.PointStruct.model_construct(id=p.id, vector=vector, payload=p.payload)


def _fields_of(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    allowed = set(model.model_fields)
    return {k: v for k, v in data.items() if k in allowed and v is not None}


def spec_to_create_kwargs(spec: CollectionSpec) -> dict[str, Any]:
    """``create_collection`` keyword arguments that recreate ``spec``."""
    from qdrant_client import models

    params = spec.params
    kwargs: dict[str, Any] = {}
    vectors = params.get("vectors")
    if isinstance(vectors, dict) and is_vector_params(vectors):
        kwargs["vectors_config"] = models.VectorParams.model_validate(
            _fields_of(models.VectorParams, vectors)
        )
    elif isinstance(vectors, dict):
        kwargs["vectors_config"] = {
            k: models.VectorParams.model_validate(_fields_of(models.VectorParams, v))
            for k, v in vectors.items()
        }
    else:
        kwargs["vectors_config"] = {}
    sparse = params.get("sparse_vectors")
    if sparse:
        kwargs["sparse_vectors_config"] = {
            k: models.SparseVectorParams.model_validate(_fields_of(models.SparseVectorParams, v))
            for k, v in sparse.items()
        }
    for key in ("shard_number", "replication_factor", "write_consistency_factor", "on_disk_payload"):
        if params.get(key) is not None:
            kwargs[key] = params[key]
    # payload and id-tracker storage: fields of newer qdrant-client models only
    for key, model_name in (("payload", "PayloadStorageParams"), ("id_tracker", "IdTrackerParams")):
        model = getattr(models, model_name, None)
        if model is not None and isinstance(params.get(key), dict):
            kwargs[key] = model.model_validate(_fields_of(model, params[key]))
    if params.get("sharding_method"):
        kwargs["sharding_method"] = models.ShardingMethod(params["sharding_method"])
    cfg = spec.config
    if cfg.get("hnsw_config"):
        kwargs["hnsw_config"] = models.HnswConfigDiff.model_validate(
            _fields_of(models.HnswConfigDiff, cfg["hnsw_config"])
        )
    if cfg.get("optimizer_config"):
        kwargs["optimizers_config"] = models.OptimizersConfigDiff.model_validate(
            _fields_of(models.OptimizersConfigDiff, cfg["optimizer_config"])
        )
    if cfg.get("wal_config"):
        kwargs["wal_config"] = models.WalConfigDiff.model_validate(
            _fields_of(models.WalConfigDiff, cfg["wal_config"])
        )
    if cfg.get("quantization_config"):
        from pydantic import TypeAdapter

        kwargs["quantization_config"] = TypeAdapter(models.QuantizationConfig).validate_python(
            cfg["quantization_config"]
        )
    if cfg.get("strict_mode_config"):
        kwargs["strict_mode_config"] = models.StrictModeConfig.model_validate(
            _fields_of(models.StrictModeConfig, cfg["strict_mode_config"])
        )
    if cfg.get("metadata"):
        kwargs["metadata"] = cfg["metadata"]
    return kwargs


_LOCAL_SECTIONS = ("hnsw_config", "optimizer_config", "wal_config", "quantization_config", "strict_mode_config")


def local_mode_drops(spec: CollectionSpec, info: Any) -> list[str]:
    """The settings of ``spec`` that local mode, having created the collection (``info``: its
    ``get_collection``), does not report: it has no HNSW, optimizers, WAL, collection-level
    quantization, strict mode, sharding or payload storage of its own, and no payload indexes.
    Its defaults, where they equal what was asked, are not counted."""
    got = json.loads(info.config.model_dump_json(exclude_none=True))
    out: list[str] = []
    for key in _LOCAL_SECTIONS:
        asked = spec.config.get(key)
        held = got.get(key)
        if isinstance(asked, dict) and isinstance(held, dict):
            if any(held.get(k) != v for k, v in asked.items()):
                out.append(key)
        elif asked and asked != held:
            out.append(key)
    held_params = got.get("params") or {}
    for key, value in sorted(spec.params.items()):
        if key not in ("vectors", "sparse_vectors") and value is not None and held_params.get(key) != value:
            out.append(f"params.{key}")
    if spec.payload_schema:
        out.append(f"{len(spec.payload_schema)} payload index(es)")
    return out


def payload_indexes(spec: CollectionSpec) -> list[tuple[str, Any]]:
    """``(field, field_schema)`` of every payload index in ``spec``; ValueError when malformed."""
    out: list[tuple[str, Any]] = []
    for field_name, schema in sorted(spec.payload_schema.items()):
        if not isinstance(schema, dict):
            raise ValueError(f"payload index {field_name!r} is not an object")
        field_schema = _payload_field_schema(schema)
        if field_schema is not None:
            out.append((field_name, field_schema))
    return out


def _payload_field_schema(schema: dict[str, Any]) -> Any:
    """A payload index's ``field_schema`` from ``payload_schema`` as Qdrant reports it."""
    from pydantic import TypeAdapter
    from qdrant_client import models

    params = schema.get("params")
    if params:
        try:
            return TypeAdapter(models.PayloadSchemaParams).validate_python(params)
        except ValueError:
            log.warning("payload index params not understood, using its type only: %s", params)
    data_type = schema.get("data_type")
    return models.PayloadSchemaType(data_type) if data_type else None
