"""Configs of backup, restore and verify."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr

from qdrant_ops.config.base import Model
from qdrant_ops.endpoints.uri import EndpointConfig, endpoint_from_uri, merge_endpoint
from qdrant_ops.errors import ConfigError

# --------------------------------------------------------------------------------------------
# Verb configs


class BackupConfig(Model):
    """``qdrant-ops backup``. Accepts the plan's flat ``qdrant_host``/``qdrant_port`` form."""

    qdrant_host: str | None = None
    qdrant_port: int | None = Field(default=None, ge=1, le=65535)
    qdrant_api_key: SecretStr | None = None
    qdrant_url: str | None = None
    source: EndpointConfig | None = None
    backup_path: str = "./backups/qdrant"
    collections: list[str] = Field(default_factory=list)
    verify_integrity: bool = True
    compression_level: int = Field(default=3, ge=1, le=22)
    # Points per scroll page and row group; None: sized from the vectors (pipeline/sizing.py).
    batch_size: int | None = Field(default=None, ge=1, le=100_000)
    parallel: int = Field(default=1, ge=1, le=64)
    rows_per_file: int = Field(default=50_000, ge=1)
    tar: bool = False
    snapshot: bool = False
    # A backup of nothing is refused unless asked for: a mistyped source must not look like one.
    allow_empty: bool = False
    # Point level: write only what changed since the newest backup in backup_path (chain.py).
    incremental: bool = False

    def source_endpoint(self) -> EndpointConfig:
        flat: dict[str, Any] = {}
        if self.qdrant_url:
            flat.update(endpoint_from_uri(self.qdrant_url).model_dump(exclude_none=True))
        elif self.qdrant_host:
            flat["host"] = self.qdrant_host
            if self.qdrant_port:
                flat["port"] = self.qdrant_port
        if self.qdrant_api_key is not None:
            flat["api_key"] = self.qdrant_api_key
        endpoint = merge_endpoint(self.source, flat)
        if not endpoint.is_set:
            raise ConfigError("no source given: use --source, QDRANT_URL or a config file")
        return endpoint


class RestoreConfig(Model):
    """``qdrant-ops restore``."""

    target: EndpointConfig | None = None
    backup: str | None = None
    collections: list[str] = Field(default_factory=list)
    rename: dict[str, str] = Field(default_factory=dict)
    suffix: str = ""
    on_exists: Literal["fail", "skip", "replace", "append"] = "fail"
    # Points per write; by default chosen for the target (pipeline.sizing.write_batch).
    batch_size: int | None = Field(default=None, ge=1, le=100_000)
    parallel: int = Field(default=1, ge=1, le=64)
    continue_on_error: bool = False
    max_retries: int = Field(default=6, ge=0, le=100)

    def target_endpoint(self) -> EndpointConfig:
        if self.target is None or not self.target.is_set:
            raise ConfigError("no target given: use --target, QDRANT_URL or a config file")
        return self.target


class VerifyConfig(Model):
    """``qdrant-ops verify``."""

    backup: str | None = None
    against: EndpointConfig | None = None
    source: EndpointConfig | None = None
    target: EndpointConfig | None = None
    collections: list[str] = Field(default_factory=list)
    rename: dict[str, str] = Field(default_factory=dict)
    suffix: str = ""
    full: bool = False
    read_data_subset: str | None = None  # n/t, x% or N: read only that sample of a backup's files
    max_differences: int = Field(default=20, ge=1)
    batch_size: int = Field(default=1000, ge=1, le=100_000)
