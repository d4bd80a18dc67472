"""Planning a migration: target names, the target collection's spec, config diffs, and the checks
that must pass before anything is written (settings Qdrant would refuse, transforms whose output
does not fit the target, an existing target with other vector dimensions).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

from qdrant_ops.endpoints.base import CollectionSpec, Point, SparseValue, VectorField, is_vector_params
from qdrant_ops.errors import ConfigError, UsageError
from qdrant_ops.migration.config import CollectionTargetConfig, MigrateConfig, TargetConfig
from qdrant_ops.migration.transforms import Transformer

METADATA_KEY = "migration"


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def settings_for(target: TargetConfig, name: str) -> CollectionTargetConfig:
    """The defaults of ``target`` with ``target.collections[name]`` merged over them."""
    base = target.model_dump(by_alias=True, exclude={"collections"}, exclude_unset=True)
    over = target.collections.get(name)
    data = deep_merge(base, over.model_dump(by_alias=True, exclude_unset=True) if over else {})
    return CollectionTargetConfig.model_validate(data)


def target_name(cfg: MigrateConfig, name: str, same_store: bool) -> str:
    settings = settings_for(cfg.target, name)
    fv = cfg.format_version or ""
    if settings.name:
        if "{format_version}" in settings.name and not fv:
            raise ConfigError("target.name uses {format_version} but format_version is not set", key="target.name")
        try:
            return settings.name.format(name=name, format_version=fv)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"bad target name pattern: {exc}", key="target.name") from None
    if not same_store:
        return name
    if not fv:
        raise ConfigError(
            "source and target are the same store: set format_version (target becomes "
            "<name>_<format_version>) or target.name"
        )
    return f"{name}_{fv}"


# -- the target spec ----------------------------------------------------------------------------


def _validate(model: Any, data: Any, key: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ()))
        raise ConfigError(f"{err.get('msg')}" + (f" at {where}" if where else ""), key=key) from None


def _vectors_of(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    vectors = params.get("vectors")
    if isinstance(vectors, dict) and is_vector_params(vectors):
        return {"": dict(vectors)}
    if isinstance(vectors, dict):
        return {k: dict(v) for k, v in vectors.items()}
    return {}


def build_target_spec(
    source: CollectionSpec,
    settings: CollectionTargetConfig,
    transformer: Transformer,
    tname: str,
    metadata: dict[str, Any] | None,
) -> CollectionSpec:
    """The target collection: the source's config, vector renames, then the settings merged over;
    ``metadata`` is the migration record added to its metadata (None: none is added)."""
    from qdrant_client import models

    config = copy.deepcopy(source.config)
    params = dict(config.get("params") or {})
    dense = _vectors_of(params)
    sparse = {k: dict(v) for k, v in (params.get("sparse_vectors") or {}).items()}
    for i, (old, new) in enumerate(transformer.vector_renames()):
        key = f"transforms (rename_vector/drop_vector #{i + 1})"
        if old in dense:
            vec = dense.pop(old)
            if new is not None:
                if new in dense or new in sparse:
                    raise ConfigError(f"vector {new!r} already exists", key=key)
                dense[new] = vec
        elif old in sparse:
            svec = sparse.pop(old)
            if new is not None:
                if new in dense or new in sparse or new == "":
                    raise ConfigError(f"cannot rename sparse vector {old!r} to {new!r}", key=key)
                sparse[new] = svec
        else:
            raise ConfigError(
                f"unknown vector {old or '(unnamed)'!r}; {source.name} has "
                f"{', '.join(repr(n) for n in [*dense, *sparse]) or 'no vectors'}",
                key=key,
            )
    for vname, vs in settings.vectors.items():
        key = f"target.vectors.{vname or '(unnamed)'}"
        over = vs.model_dump(exclude_unset=True)
        if vname in sparse:
            raise ConfigError("a sparse vector: set it under target.sparse_vectors", key=key)
        if vname not in dense:
            if vs.size is None or vs.distance is None:
                raise ConfigError(
                    f"no vector {vname!r} in the migrated layout; give size and distance to add one",
                    key=key,
                )
            dense[vname] = {}
        vector_models: tuple[tuple[str, Any], ...] = (
            ("hnsw_config", models.HnswConfigDiff),
            ("quantization_config", models.QuantizationConfig),
            ("multivector_config", models.MultiVectorConfig),
        )
        for sub, model in vector_models:
            if over.get(sub) is not None:
                _validate(model, over[sub], f"{key}.{sub}")
        merged = deep_merge(dense[vname], {k: v for k, v in over.items() if v is not None and k != "quantization_config"})
        if "quantization_config" in over:
            merged.pop("quantization_config", None)
            if over["quantization_config"] is not None:
                merged["quantization_config"] = over["quantization_config"]
        dense[vname] = merged
    for sname, ss in settings.sparse_vectors.items():
        key = f"target.sparse_vectors.{sname}"
        if sname in dense:
            raise ConfigError("a dense vector: set it under target.vectors", key=key)
        over = ss.model_dump(exclude_none=True)
        if "index" in over:
            _validate(models.SparseIndexParams, over["index"], f"{key}.index")
        sparse[sname] = deep_merge(sparse.get(sname, {}), over)
    if "" in dense and len(dense) > 1:
        raise ConfigError("the unnamed vector cannot sit beside named vectors; rename it", key="transforms")
    params["vectors"] = dense[""] if set(dense) == {""} else dense
    if sparse:
        params["sparse_vectors"] = sparse
    else:
        params.pop("sparse_vectors", None)
    for k in ("on_disk_payload", "shard_number", "replication_factor", "write_consistency_factor"):
        v = getattr(settings, k)
        if v is not None:
            params[k] = v
    config["params"] = params
    collection_models: tuple[tuple[str, str, Any], ...] = (
        ("hnsw_config", "hnsw_config", models.HnswConfigDiff),
        ("optimizers_config", "optimizer_config", models.OptimizersConfigDiff),
        ("strict_mode_config", "strict_mode_config", models.StrictModeConfig),
    )
    for attr, cfg_key, model in collection_models:
        value = getattr(settings, attr)
        if value is not None:
            _validate(model, value, f"target.{attr}")
            config[cfg_key] = deep_merge(config.get(cfg_key) or {}, value)
    if "quantization_config" in settings.model_fields_set:
        config.pop("quantization_config", None)
        if settings.quantization_config is not None:
            _validate(models.QuantizationConfig, settings.quantization_config, "target.quantization_config")
            config["quantization_config"] = settings.quantization_config
    if metadata is not None:
        config["metadata"] = {**(config.get("metadata") or {}), METADATA_KEY: metadata}
    schema = copy.deepcopy(source.payload_schema)
    for old, new in transformer.field_renames():
        if old in schema:
            entry = schema.pop(old)
            if new is not None:
                schema[new] = entry
    for fname in settings.payload_indexes.drop:
        schema.pop(fname, None)
    for fname, ftype in settings.payload_indexes.add.items():
        key = f"target.payload_indexes.add.{fname}"
        if isinstance(ftype, str):
            _validate(models.PayloadSchemaType, ftype, key)
            schema[fname] = {"data_type": ftype}
        else:
            _validate(models.PayloadSchemaParams, ftype, key)
            schema[fname] = {"data_type": ftype.get("type"), "params": ftype}
    return CollectionSpec(name=tname, config=config, payload_schema=schema)


# -- checks -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _fields_by_name(fields: tuple[VectorField, ...]) -> dict[str, VectorField]:
    return {f.name: f for f in fields}


def misfit(p: Point, fields: Sequence[VectorField]) -> str | None:
    """Why ``p`` does not fit a collection with ``fields``, or None."""
    by_name = _fields_by_name(tuple(fields))
    for name, value in p.vectors.items():
        f = by_name.get(name)
        label = name or "(unnamed)"
        if f is None:
            known = ", ".join(repr(n or "(unnamed)") for n in by_name) or "none"
            return f"point {p.id}: unknown vector {label!r} (the target has {known})"
        if f.kind == "sparse":
            if not isinstance(value, SparseValue):
                return f"point {p.id}: vector {label!r} must be sparse"
            continue
        if isinstance(value, SparseValue):
            return f"point {p.id}: vector {label!r} is sparse, the target's is {f.kind}"
        rows = list(value) if f.kind == "multi" else [value]
        for row in rows:
            try:
                size = len(row)
            except TypeError:
                return f"point {p.id}: vector {label!r} has the wrong shape for a {f.kind} vector"
            if size != f.size:
                return f"point {p.id}: vector {label!r} has size {size}, the target's is {f.size}"
    return None


def check_layout_compatible(existing: CollectionSpec, wanted: CollectionSpec) -> None:
    """Appending into an existing target: its vectors must be those the migration writes."""
    have = {f.name: f for f in existing.vector_fields()}
    want = {f.name: f for f in wanted.vector_fields()}
    for name, f in want.items():
        label = name or "(unnamed)"
        h = have.get(name)
        if h is None:
            raise UsageError(f"target {existing.name} has no vector {label!r}")
        if (h.kind, h.size) != (f.kind, f.size):
            raise UsageError(
                f"target {existing.name}: vector {label!r} is {h.kind} of dimension {h.size}, "
                f"the migration writes {f.kind} of dimension {f.size}"
            )


# -- diffs ---------------------------------------------------------------------------------------


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, dict) and data:
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = data
    return out


def config_diff(source: CollectionSpec, target: CollectionSpec) -> list[dict[str, Any]]:
    """``[{path, source, target}]`` for every setting that differs (metadata left out)."""
    a = _flatten({k: v for k, v in source.config.items() if k != "metadata"})
    b = _flatten({k: v for k, v in target.config.items() if k != "metadata"})
    a.update({f"payload_index.{k}": v.get("data_type") for k, v in source.payload_schema.items()})
    b.update({f"payload_index.{k}": v.get("data_type") for k, v in target.payload_schema.items()})
    out = []
    for path in sorted(set(a) | set(b)):
        if a.get(path, "<unset>") != b.get(path, "<unset>"):
            out.append({"path": path, "source": a.get(path), "target": b.get(path)})
    return out


def not_applied(requested: CollectionSpec, actual: CollectionSpec) -> list[str]:
    """Settings the target engine reports differently from what was asked (e.g. local mode)."""
    want = _flatten({k: v for k, v in requested.config.items() if k != "metadata"})
    have = _flatten({k: v for k, v in actual.config.items() if k != "metadata"})
    return sorted(p for p, v in want.items() if have.get(p, "<unset>") != v)
