"""The verb registry: each verb's config model, the variable naming its file, and its env overlay."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qdrant_ops.code.config import CleanupConfig, ConsolidateConfig
from qdrant_ops.config.base import M, Model
from qdrant_ops.config.loading import load_config
from qdrant_ops.data.config import BackupConfig, RestoreConfig, VerifyConfig
from qdrant_ops.endpoints.uri import endpoint_from_env
from qdrant_ops.errors import ConfigError
from qdrant_ops.migration.config import MigrateConfig, ValidateConfig, overlay_dry_run_env
from qdrant_ops.snapshot.config import SnapshotConfig


def overlay_endpoint_env(key: str) -> Callable[[dict[str, Any], Mapping[str, str]], None]:
    """An ``env_overlay`` that puts QDRANT_* variables into the endpoint block ``key``."""

    def apply(data: dict[str, Any], env: Mapping[str, str]) -> None:
        fields = endpoint_from_env(env)
        if not fields:
            return
        block = data.get(key)
        block = dict(block) if isinstance(block, dict) else {}
        if any(f in fields for f in ("url", "host", "path")):
            for k in ("url", "host", "path", "port", "https", "grpc_port"):
                block.pop(k, None)
        block.update(fields)
        data[key] = block

    return apply


def overlay_backup_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """Backup configs may use the plan's flat ``qdrant_*`` keys; the environment overrides them."""
    fields = endpoint_from_env(env)
    if not fields:
        return
    if any(f in fields for f in ("url", "host", "path")):
        for k in ("qdrant_host", "qdrant_port", "qdrant_url", "source"):
            data.pop(k, None)
        data["source"] = {k: v for k, v in fields.items()}
    elif "api_key" in fields:
        data["qdrant_api_key"] = fields["api_key"]


# --------------------------------------------------------------------------------------------
# The verb registry: model, the variable naming its config file, and where QDRANT_* go.


class VerbSpec:
    def __init__(
        self,
        model: type[Model],
        env_file_var: str | None = None,
        env_overlay: Callable[[dict[str, Any], Mapping[str, str]], None] | None = None,
    ) -> None:
        self.model = model
        self.env_file_var = env_file_var
        self.env_overlay = env_overlay


VERBS: dict[str, VerbSpec] = {
    "backup": VerbSpec(BackupConfig, "BACKUP_CONFIG", overlay_backup_env),
    "restore": VerbSpec(RestoreConfig, None, overlay_endpoint_env("target")),
    "verify": VerbSpec(VerifyConfig, None, None),
    "consolidate-clients": VerbSpec(ConsolidateConfig, None, None),
    "cleanup-legacy": VerbSpec(CleanupConfig, None, None),
    "snapshot": VerbSpec(SnapshotConfig, None, overlay_endpoint_env("endpoint")),
    "migrate": VerbSpec(MigrateConfig, "MIGRATION_CONFIG", overlay_dry_run_env),
    "validate": VerbSpec(ValidateConfig, "MIGRATION_CONFIG", None),
}


def load_verb_config(
    verb: str,
    *,
    file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Model:
    """Load the config of a registered verb with its own env file variable and env overlay."""
    spec = VERBS.get(verb)
    if spec is None:
        raise ConfigError(f"unknown verb {verb!r}; known: {', '.join(sorted(VERBS))}")
    return load_config(
        spec.model,
        file=file,
        env_file_var=spec.env_file_var,
        flags=flags,
        env=env,
        env_overlay=spec.env_overlay,
    )


def load_typed(
    verb: str,
    model: type[M],
    *,
    file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> M:
    """``load_verb_config`` for callers that know the model they expect."""
    cfg = load_verb_config(verb, file=file, flags=flags, env=env)
    if not isinstance(cfg, model):
        raise ConfigError(f"verb {verb!r} is registered with {type(cfg).__name__}, not {model.__name__}")
    return cfg
