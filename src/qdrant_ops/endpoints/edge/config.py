"""Collection config <-> Qdrant Edge config, both ways.

The portable form is the one qdrant-client's ``CollectionInfo.config`` dumps (``params.vectors``,
``params.sparse_vectors``, ``hnsw_config``, ``optimizer_config``, ``quantization_config``, ...).
Edge keeps its config in ``<shard>/edge_config.json`` in nearly the same JSON shape, so reading is
a reshaping of that file; writing builds ``qdrant_edge.EdgeConfig`` objects.

What Edge cannot hold (shard/replication settings, WAL sizes, strict mode, metadata, optimizer
fields Edge lacks) is returned as ``carried``: the Edge endpoint keeps it beside the shard so that a
server -> Edge -> server round trip gives back the same config, and says so in the log.
A shard without ``edge_config.json`` (unpacked from a snapshot) has its config derived from its
segments' ``segment.json``.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.base import CollectionSpec, is_vector_params
from qdrant_ops.errors import CorruptBackupError, UnsupportedError

log = logging.getLogger(__name__)

EDGE_CONFIG_FILE = "edge_config.json"
NO_VECTORS = "no vectors (payload only): Qdrant Edge needs at least one dense or sparse vector"
HNSW_DEFAULTS: dict[str, Any] = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000}
_EDGE_OPTIMIZER_KEYS = (
    "deleted_threshold",
    "vacuum_min_vector_number",
    "default_segment_number",
    "max_segment_size",
    "indexing_threshold",
    "prevent_unoptimized",
)
_CARRIED_PARAMS = (
    "shard_number",
    "sharding_method",
    "replication_factor",
    "write_consistency_factor",
    "read_fan_out_factor",
    "read_fan_out_delay_ms",
)
_CARRIED_TOP = ("wal_config", "strict_mode_config", "metadata")


def _q() -> Any:
    try:
        import qdrant_edge
    except ImportError as exc:  # pragma: no cover - the edge extra is part of dev installs
        raise UnsupportedError(
            "edge: endpoints need qdrant-edge-py (pip install 'qdrant-ops[edge]')"
        ) from exc
    return qdrant_edge


def _norm(text: str) -> str:
    return text.replace("_", "").replace("-", "").lower()


def edge_enum(enum: Any, value: Any, what: str) -> Any:
    """The member of an Edge enum named like ``value`` (``max_sim`` -> ``MaxSim``)."""
    wanted = _norm(str(value))
    for name in dir(enum):
        if not name.startswith("_") and _norm(name) == wanted:
            return getattr(enum, name)
    raise UnsupportedError(f"Qdrant Edge has no {what} {value!r}")


def _memory(d: dict[str, Any]) -> Any:
    mem = d.get("memory")
    return edge_enum(_q().Memory, mem, "memory placement") if mem else None


def _hnsw(d: dict[str, Any] | None, base: dict[str, Any] | None = None) -> Any:
    if not d and not base:
        return None
    full = {**HNSW_DEFAULTS, **(base or {}), **(d or {})}
    q = _q()
    return q.HnswIndexConfig(
        m=int(full["m"]),
        ef_construct=int(full["ef_construct"]),
        full_scan_threshold=int(full["full_scan_threshold"]),
        max_indexing_threads=int(full.get("max_indexing_threads") or 0),
        on_disk=full.get("on_disk"),
        payload_m=full.get("payload_m"),
        inline_storage=full.get("inline_storage"),
        memory=_memory(full),
    )


def _quantization(d: dict[str, Any] | None) -> Any:
    if not d:
        return None
    q = _q()
    if "scalar" in d:
        s = d["scalar"]
        return q.ScalarQuantizationConfig(
            type=edge_enum(q.ScalarType, s.get("type", "int8"), "scalar type"),
            quantile=s.get("quantile"),
            always_ram=s.get("always_ram"),
            memory=_memory(s),
        )
    if "product" in d:
        p = d["product"]
        return q.ProductQuantizationConfig(
            compression=edge_enum(q.CompressionRatio, p["compression"], "compression ratio"),
            always_ram=p.get("always_ram"),
            memory=_memory(p),
        )
    if "binary" in d:
        b = d["binary"] or {}
        return q.BinaryQuantizationConfig(
            always_ram=b.get("always_ram"),
            encoding=edge_enum(q.BinaryQuantizationEncoding, b["encoding"], "binary encoding")
            if b.get("encoding")
            else None,
            query_encoding=edge_enum(
                q.BinaryQuantizationQueryEncoding, b["query_encoding"], "binary query encoding"
            )
            if b.get("query_encoding")
            else None,
            memory=_memory(b),
        )
    if "turbo" in d:
        t = d["turbo"] or {}
        return q.TurboQuantQuantizationConfig(
            always_ram=t.get("always_ram"),
            bits=edge_enum(q.TurboQuantBitSize, t["bits"], "turbo bit size") if t.get("bits") else None,
            memory=_memory(t),
        )
    raise UnsupportedError(f"Qdrant Edge cannot hold quantization {sorted(d)}")


def _dense(v: dict[str, Any], global_hnsw: dict[str, Any] | None) -> Any:
    q = _q()
    mv = v.get("multivector_config")
    return q.EdgeVectorParams(
        size=int(v["size"]),
        distance=edge_enum(q.Distance, v["distance"], "distance"),
        on_disk=v.get("on_disk"),
        multivector_config=q.MultiVectorConfig(
            edge_enum(q.MultiVectorComparator, mv.get("comparator", "max_sim"), "multivector comparator")
        )
        if mv
        else None,
        datatype=edge_enum(q.VectorStorageDatatype, v["datatype"], "vector datatype")
        if v.get("datatype")
        else None,
        quantization_config=_quantization(v.get("quantization_config")),
        hnsw_config=_hnsw(v.get("hnsw_config"), global_hnsw) if v.get("hnsw_config") else None,
        memory=_memory(v),
    )


def _sparse(v: dict[str, Any]) -> Any:
    q = _q()
    index = dict(v.get("index") or {})
    modifier = v.get("modifier")
    return q.EdgeSparseVectorParams(
        full_scan_threshold=index.get("full_scan_threshold"),
        on_disk=index.get("on_disk"),
        modifier=edge_enum(q.Modifier, modifier, "sparse modifier")
        if modifier and str(modifier).lower() != "none"
        else None,
        datatype=edge_enum(q.VectorStorageDatatype, index["datatype"], "sparse datatype")
        if index.get("datatype")
        else None,
        memory=_memory(index),
    )


def _memory_of(params: dict[str, Any], key: str) -> Any:
    """``params.payload.memory`` / ``params.id_tracker.memory`` (``payload_memory``: older specs)."""
    value = (params.get(key) or {}).get("memory") or params.get(f"{key}_memory")
    return edge_enum(_q().Memory, value, "memory placement") if value else None


def spec_to_edge(spec: CollectionSpec) -> tuple[Any, dict[str, Any]]:
    """An ``EdgeConfig`` for ``spec``, and the config Edge cannot hold (to carry beside it).
    UnsupportedError for what Edge can neither hold nor carry (``refusals`` lists it first)."""
    q = _q()
    params = spec.params
    cfg = spec.config
    global_hnsw = cfg.get("hnsw_config") or None
    vectors = params.get("vectors")
    edge_vectors: Any = None
    if isinstance(vectors, dict) and is_vector_params(vectors):
        edge_vectors = _dense(vectors, global_hnsw)
    elif isinstance(vectors, dict) and vectors:
        edge_vectors = {name: _dense(v, global_hnsw) for name, v in vectors.items()}
    sparse = params.get("sparse_vectors") or {}
    edge_sparse = {name: _sparse(v or {}) for name, v in sparse.items()} or None
    if not edge_vectors and not edge_sparse:
        # An Edge shard is built around its vector storages; a payload-only collection has none.
        raise UnsupportedError(NO_VECTORS)
    opt = dict(cfg.get("optimizer_config") or {})
    edge_opt = {k: opt[k] for k in _EDGE_OPTIMIZER_KEYS if opt.get(k) is not None}
    config = q.EdgeConfig(
        vectors=edge_vectors,
        sparse_vectors=edge_sparse,
        on_disk_payload=params.get("on_disk_payload"),
        hnsw_config=_hnsw(global_hnsw) if global_hnsw else None,
        quantization_config=_quantization(cfg.get("quantization_config")),
        optimizers=q.EdgeOptimizersConfig(**edge_opt) if edge_opt else None,
        payload_memory=_memory_of(params, "payload"),
        id_tracker_memory=_memory_of(params, "id_tracker"),
    )
    carried: dict[str, Any] = {}
    carried_params = {k: params[k] for k in _CARRIED_PARAMS if params.get(k) is not None}
    if carried_params:
        carried["params"] = carried_params
    for key in _CARRIED_TOP:
        if cfg.get(key):
            carried[key] = copy.deepcopy(cfg[key])
    extra_opt = {k: v for k, v in opt.items() if k not in _EDGE_OPTIMIZER_KEYS and v is not None}
    if extra_opt:
        carried["optimizer_config"] = extra_opt
    return config, carried


def refusals(spec: CollectionSpec) -> list[str]:
    """What of ``spec`` Qdrant Edge cannot hold, one line per feature (empty: Edge takes it all).

    ``restore`` and ``migrate`` ask this for every collection before the first write
    (``endpoints.preflight``), so a collection Edge refuses never leaves a run half written.
    """
    params = spec.params
    if not params.get("vectors") and not params.get("sparse_vectors"):
        return [NO_VECTORS]
    out: list[str] = []
    vectors = params.get("vectors") or {}
    for vname, vp in ([("", vectors)] if "size" in vectors else sorted(vectors.items())):
        if str((vp or {}).get("datatype") or "").lower() == "turbo4":
            # Edge quantizes a turbo4 vector again on every write, so a copy cannot equal its source.
            out.append(f"datatype turbo4 (vector {vname or '(default)'}): Qdrant Edge re-quantizes it on write, "
                       "so the copy would not equal the source")
    try:
        spec_to_edge(spec)
    except UnsupportedError as exc:
        out.append(str(exc))
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        # The engine's own validation of the config it was given; nothing was created.
        text = str(exc).strip()
        out.append(f"Qdrant Edge refuses the config: {text.splitlines()[0] if text else type(exc).__name__}")
    for field_name, schema in sorted(spec.payload_schema.items()):
        try:
            edge_index_schema(schema, field_name)
        except UnsupportedError as exc:
            out.append(str(exc))
    return out


# -- Edge -> portable ---------------------------------------------------------------------------


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _vector_out(v: dict[str, Any]) -> dict[str, Any]:
    out = _drop_none(dict(v))
    for key in ("storage_type", "index"):
        out.pop(key, None)
    return out


def _sparse_out(v: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    index = _drop_none({k: v.get(k) for k in ("full_scan_threshold", "on_disk", "datatype", "memory")})
    if index:
        out["index"] = index
    if v.get("modifier") is not None:
        out["modifier"] = v["modifier"]
    return out


def edge_json_to_config(edge: dict[str, Any], carried: dict[str, Any] | None = None) -> dict[str, Any]:
    """The portable config of a shard from its ``edge_config.json``, with carried keys merged in."""
    params: dict[str, Any] = {}
    vectors = dict(edge.get("vectors") or {})
    if set(vectors) == {""}:
        params["vectors"] = _vector_out(vectors[""])
    else:
        params["vectors"] = {name: _vector_out(v) for name, v in sorted(vectors.items())}
    sparse = dict(edge.get("sparse_vectors") or {})
    if sparse:
        params["sparse_vectors"] = {name: _sparse_out(v or {}) for name, v in sorted(sparse.items())}
    if edge.get("on_disk_payload") is not None:
        params["on_disk_payload"] = edge["on_disk_payload"]
    # Qdrant's own shape for these (``PayloadStorageParams``, ``IdTrackerParams``)
    for key in ("payload", "id_tracker"):
        if edge.get(f"{key}_memory") is not None:
            params[key] = {"memory": edge[f"{key}_memory"]}
    config: dict[str, Any] = {"params": params}
    config["hnsw_config"] = {**HNSW_DEFAULTS, "max_indexing_threads": 0, **_drop_none(edge.get("hnsw_config") or {})}
    opt = _drop_none(dict(edge.get("optimizers") or {}))
    if opt:
        config["optimizer_config"] = opt
    if edge.get("quantization_config"):
        config["quantization_config"] = edge["quantization_config"]
    for key, value in (carried or {}).items():
        if key == "params":
            params.update(value)
        elif key == "optimizer_config":
            config.setdefault("optimizer_config", {}).update(value)
        else:
            config[key] = value
    return config


def config_from_segments(shard_dir: Path) -> dict[str, Any]:
    """An ``edge_config.json``-shaped dict derived from the segments of a shard directory."""
    vectors: dict[str, Any] = {}
    sparse: dict[str, Any] = {}
    hnsw: dict[str, Any] | None = None
    seg_root = shard_dir / "segments"
    files = sorted(seg_root.glob("*/segment.json")) if seg_root.is_dir() else []
    if not files:
        raise CorruptBackupError(f"{shard_dir}: no edge_config.json and no segments", file=shard_dir)
    for path in files:
        try:
            seg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptBackupError(f"{path}: unreadable segment config: {exc}", file=path) from None
        conf = seg.get("config") or {}
        for name, v in (conf.get("vector_data") or {}).items():
            out = _drop_none({k: v.get(k) for k in ("size", "distance", "multivector_config", "datatype", "quantization_config")})
            index = v.get("index") or {}
            if index.get("type") == "hnsw" and index.get("options"):
                hnsw = hnsw or _drop_none(dict(index["options"]))
            if str(v.get("storage_type", "")).lower().endswith("mmap") and "on_disk" not in out:
                out["on_disk"] = "InRam" not in str(v.get("storage_type"))
            vectors.setdefault(name, out)
        for name, v in (conf.get("sparse_vector_data") or {}).items():
            index = v.get("index") or {}
            out = _drop_none({"full_scan_threshold": index.get("full_scan_threshold"), "datatype": index.get("datatype"), "modifier": v.get("modifier")})
            sparse.setdefault(name, out)
    edge: dict[str, Any] = {"vectors": vectors, "sparse_vectors": sparse}
    if hnsw:
        edge["hnsw_config"] = {k: hnsw[k] for k in ("m", "ef_construct", "full_scan_threshold", "max_indexing_threads", "on_disk", "payload_m") if k in hnsw}
    return edge


def read_edge_json(shard_dir: Path) -> dict[str, Any]:
    """The shard's own config file, or one derived from its segments."""
    path = shard_dir / EDGE_CONFIG_FILE
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptBackupError(f"{path}: unreadable Edge config: {exc}", file=path) from None
        if isinstance(data, dict):
            return data
        raise CorruptBackupError(f"{path}: not an Edge config", file=path)
    return config_from_segments(shard_dir)


# -- payload indexes ----------------------------------------------------------------------------

_INDEX_PARAM_CLASSES = {
    "keyword": "KeywordIndexParams",
    "integer": "IntegerIndexParams",
    "float": "FloatIndexParams",
    "text": "TextIndexParams",
    "bool": "BoolIndexParams",
    "datetime": "DatetimeIndexParams",
    "uuid": "UuidIndexParams",
    "geo": "GeoIndexParams",
}
_SIMPLE_INDEX_KEYS = (
    "is_tenant", "on_disk", "enable_hnsw", "is_principal", "lookup", "range", "min_token_len",
    "max_token_len", "lowercase", "ascii_folding", "phrase_matching", "prefix", "nested",
)
_ENUM_INDEX_KEYS = {"tokenizer": ("TokenizerType", "text tokenizer"), "memory": ("Memory", "memory placement")}


def _index_param(key: str, value: Any) -> Any:
    """One payload-index parameter as Edge takes it; UnsupportedError for one it has no field for."""
    q = _q()
    if key in _SIMPLE_INDEX_KEYS:
        return value
    if key in _ENUM_INDEX_KEYS:
        enum, what = _ENUM_INDEX_KEYS[key]
        return edge_enum(getattr(q, enum), value, what)
    if key == "stopwords":
        if isinstance(value, str):
            return edge_enum(q.Language, value, "stopwords language")
        langs = {edge_enum(q.Language, lang, "stopwords language") for lang in value.get("languages") or []}
        return q.StopwordsSet(languages=langs or None, custom=set(value.get("custom") or []) or None)
    if key == "stemmer" and isinstance(value, dict):
        if value.get("type") == "snowball":
            return q.SnowballParams(edge_enum(q.SnowballLanguage, value.get("language"), "stemmer language"))
        if value.get("type") == "none":
            return q.DisabledStemmer()
    if key == "scoring":
        if isinstance(value, bool):
            return value
        if isinstance(value, dict):
            return q.TextScoringParams(type=edge_enum(q.TextScoringType, value.get("type"), "text scoring"))
    raise UnsupportedError(f"Qdrant Edge has no payload index parameter {key}={value!r}")


def edge_index_schema(schema: dict[str, Any], field_name: str = "") -> Any:
    """The Edge field-index schema for a payload-schema entry as Qdrant reports it, or None.

    Every parameter is given to Edge or refused (UnsupportedError naming the index and Qdrant
    Edge): an index silently built without its tokenizer or stemmer would answer other queries."""
    q = _q()
    data_type = str(schema.get("data_type") or (schema.get("params") or {}).get("type") or "")
    if not data_type:
        return None
    where = f"payload index {field_name!r} ({data_type})" if field_name else f"payload index ({data_type})"
    raw = {k: v for k, v in (schema.get("params") or {}).items() if k != "type" and v is not None}
    try:
        params = {k: _index_param(k, v) for k, v in raw.items()}
        # Params given (even only their type) are kept as params: Qdrant reports the two apart.
        if not isinstance(schema.get("params"), dict) or data_type not in _INDEX_PARAM_CLASSES:
            return edge_enum(q.PayloadSchemaType, data_type, "payload index type")
        try:
            return getattr(q, _INDEX_PARAM_CLASSES[data_type])(**params)
        except (TypeError, ValueError) as exc:
            raise UnsupportedError(f"Qdrant Edge does not take {sorted(raw)}: {exc}") from None
    except UnsupportedError as exc:
        raise UnsupportedError(f"{where}: {exc}") from None


def _param_out(value: Any) -> Any:
    """An Edge index parameter in Qdrant's JSON shape (enums by their snake-less lower name)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (set, frozenset, list, tuple)):
        return sorted(_param_out(v) for v in value)
    kind = type(value).__name__
    if kind == "StopwordsSet":
        return _drop_none({"languages": _param_out(value.languages), "custom": _param_out(value.custom)})
    if kind == "SnowballParams":
        return {"type": "snowball", "language": _param_out(value.language)}
    if kind == "DisabledStemmer":
        return {"type": "none"}
    if kind == "TextScoringParams":
        return {"type": _param_out(value.type)}
    return _norm(str(value).rsplit(".", 1)[-1])


_INDEX_OUT_KEYS = (*_SIMPLE_INDEX_KEYS, *_ENUM_INDEX_KEYS, "stopwords", "stemmer", "scoring")


def payload_schema_out(info: Any) -> dict[str, Any]:
    """``ShardInfo.payload_schema`` in Qdrant's ``payload_schema`` shape."""
    out: dict[str, Any] = {}
    for field_name, idx in sorted(info.payload_schema.items()):
        data_type = _norm(str(idx.data_type).rsplit(".", 1)[-1])
        entry: dict[str, Any] = {"data_type": data_type, "points": int(idx.points)}
        if idx.params is not None:
            params = {key: _param_out(getattr(idx.params, key, None)) for key in _INDEX_OUT_KEYS}
            entry["params"] = {"type": data_type, **_drop_none(params)}
        out[field_name] = entry
    return out
