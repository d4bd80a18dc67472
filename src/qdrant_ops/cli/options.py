"""Help texts and option parsers that several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdrant_ops.cli.app import split_csv
from qdrant_ops.config.verbs import load_verb_config
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import UsageError

MIGRATION_CONFIG_HELP = "Migration config (JSON, YAML or TOML; default: $MIGRATION_CONFIG); flags win over it."
MIGRATE_SOURCE_HELP = (
    "Source endpoint: http(s)://host:6333, grpc://host:6334, a local-mode directory, :memory:, edge:DIR; "
    "or, read-only, chroma:PATH, lancedb:PATH, faiss:INDEX, milvus:FILE.db, postgresql://...?table=T."
)
TARGET_HELP = "Target endpoint: http(s)://host:6333, grpc://host:6334, edge:DIR (Qdrant Edge), a local-mode directory or :memory:."
RUNBOOK_HELP = "Runbook file (YAML, JSON or TOML); default: the built-in phase 7."
DEFAULT_FILE = "qdrant-ops-runbook.yaml"


def pairs(values: list[str] | None, flag: str) -> dict[str, str] | None:
    if not values:
        return None
    out: dict[str, str] = {}
    for v in split_csv(values) or []:
        old, sep, new = v.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"{flag} takes old=new, not {v!r}")
        out[old] = new
    return out


def load_migration_config(verb: str, config: Path | None, flags: dict[str, Any], source: str | None, target: str | None,
          api_key: str | None) -> Any:
    for block, uri in (("source_qdrant", source), ("target_qdrant", target)):
        if uri is None and api_key:
            flags[block] = {"api_key": api_key}
    cfg = load_verb_config(verb, file=config, flags=flags)
    for block, uri in (("source_qdrant", source), ("target_qdrant", target)):
        if uri is not None:  # a URI on the command line replaces the file's block entirely
            old = getattr(cfg, block)
            key = api_key or (old.api_key.get_secret_value() if old is not None and old.api_key else None)
            cfg = cfg.model_copy(update={block: endpoint_from_uri(uri, key)})
    return cfg
