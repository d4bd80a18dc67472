"""Configs of migrate and validate: target layout, transforms, validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from qdrant_ops.config.base import Model
from qdrant_ops.endpoints.uri import EndpointConfig
from qdrant_ops.errors import ConfigError

# -- migrate / validate ------------------------------------------------------------------------


class FieldMove(Model):
    """``{from, to}``: a payload field (dotted path for nested keys) or a vector name."""

    from_: str = Field(alias="from")
    to: str


class SetField(Model):
    """``{field, value}`` sets a constant; ``{field, from}`` copies another field's value."""

    field: str
    value: Any = None
    from_: str | None = Field(default=None, alias="from")
    only_missing: bool = False

    @model_validator(mode="after")
    def _source(self) -> SetField:
        if self.from_ is not None and "value" in self.model_fields_set:
            raise ValueError("give value or from, not both")
        return self


class CastField(Model):
    """Convert a payload field's value; ``on_error`` says what a value that cannot convert does."""

    field: str
    to: Literal["str", "int", "float", "bool", "datetime"]
    on_error: Literal["fail", "null", "keep"] = "fail"


class TransformConfig(Model):
    """One step of ``transforms``: exactly one of these keys."""

    rename_field: FieldMove | None = None
    drop_field: str | list[str] | None = None
    set_field: SetField | None = None
    copy_field: FieldMove | None = None
    cast: CastField | None = None
    rename_vector: FieldMove | None = None
    drop_vector: str | list[str] | None = None
    filter: dict[str, Any] | None = None
    python: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TransformConfig:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            names = ", ".join(type(self).model_fields)
            raise ValueError(f"a transform takes exactly one of: {names}")
        return self

    @property
    def op(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)


class VectorSettings(Model):
    """Per-vector settings of the target, merged over the source's (``size``/``distance`` add one)."""

    size: int | None = Field(default=None, ge=1)
    distance: Literal["Cosine", "Euclid", "Dot", "Manhattan"] | None = None
    on_disk: bool | None = None
    datatype: Literal["float32", "float16", "uint8"] | None = None
    hnsw_config: dict[str, Any] | None = None
    quantization_config: dict[str, Any] | None = None
    multivector_config: dict[str, Any] | None = None


class SparseVectorSettings(Model):
    modifier: Literal["none", "idf"] | None = None
    index: dict[str, Any] | None = None


class PayloadIndexSettings(Model):
    """Payload indexes to add (field -> type or full params) and to drop."""

    add: dict[str, str | dict[str, Any]] = Field(default_factory=dict)
    drop: list[str] = Field(default_factory=list)


class CollectionTargetConfig(Model):
    """Target collection settings; each is merged over the source collection's."""

    name: str | None = None
    hnsw_config: dict[str, Any] | None = None
    optimizers_config: dict[str, Any] | None = None
    quantization_config: dict[str, Any] | None = None
    on_disk_payload: bool | None = None
    shard_number: int | None = Field(default=None, ge=1)
    replication_factor: int | None = Field(default=None, ge=1)
    write_consistency_factor: int | None = Field(default=None, ge=1)
    strict_mode_config: dict[str, Any] | None = None
    vectors: dict[str, VectorSettings] = Field(default_factory=dict)
    sparse_vectors: dict[str, SparseVectorSettings] = Field(default_factory=dict)
    payload_indexes: PayloadIndexSettings = Field(default_factory=PayloadIndexSettings)


class TargetConfig(CollectionTargetConfig):
    """Defaults for every target collection, and per-collection overrides under ``collections``.

    ``name`` may use ``{name}`` and ``{format_version}``; by default the target keeps the source's
    name on another store and is ``{name}_{format_version}`` on the same store.
    """

    collections: dict[str, CollectionTargetConfig] = Field(default_factory=dict)


class ValidationSettings(Model):
    """Post-migration checks: exact counts, content digests, and semantic parity thresholds."""

    content: bool = True
    parity: bool = True
    k: int = Field(default=10, ge=1, le=1000)
    samples: int = Field(default=50, ge=1, le=10_000)
    min_recall: float = Field(default=0.95, ge=0, le=1)
    min_overlap: float | None = Field(default=None, ge=0, le=1)
    max_score_drift: float | None = Field(default=None, ge=0)
    max_latency_p95_ms: float | None = Field(default=None, gt=0)


class MigrateConfig(Model):
    """``qdrant-ops migrate``: the plan's migration config, extended (see README)."""

    source_qdrant: EndpointConfig | None = None
    target_qdrant: EndpointConfig | None = None
    backup_path: str = "./backups/migration"
    state_path: str | None = None
    collections: list[str] = Field(default_factory=list)
    # Points per scroll page and write; None: sized from the vectors (pipeline/sizing.py).
    batch_size: int | None = Field(default=None, ge=1, le=100_000)
    max_batch_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    parallel: int = Field(default=1, ge=1, le=64)
    validate_after: bool = True
    dry_run: bool = False
    backup: bool = True
    on_exists: Literal["fail", "replace", "append"] = "fail"
    restart: bool = False
    continue_on_error: bool = False
    max_retries: int = Field(default=6, ge=0, le=100)
    format_version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    stamp_payload: bool = False
    # The migration record in each target collection's metadata (``migration``: source, tool,
    # transforms, digest, validation); off leaves the target's config exactly the source's.
    stamp: bool = True
    target: TargetConfig = Field(default_factory=TargetConfig)
    transforms: list[TransformConfig] = Field(default_factory=list)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    switch_alias: str | None = None
    # The source collections' aliases, recreated on the target collections (another store only).
    aliases: Literal["copy", "none"] = "copy"
    drop_source: bool = False

    def source_endpoint(self) -> EndpointConfig:
        if self.source_qdrant is None or not self.source_qdrant.is_set:
            raise ConfigError("no source given: use --source or source_qdrant in the config")
        return self.source_qdrant

    def target_endpoint(self) -> EndpointConfig:
        if self.target_qdrant is None or not self.target_qdrant.is_set:
            raise ConfigError("no target given: use --target or target_qdrant in the config")
        return self.target_qdrant


class ValidateConfig(MigrateConfig):
    """``qdrant-ops validate``: reads the same file as migrate and checks what it produced."""


def overlay_dry_run_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """``DRY_RUN=true`` means ``--dry-run`` (the plan's convention)."""
    value = env.get("DRY_RUN", "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        data["dry_run"] = True
    elif value in ("0", "false", "no", "off"):
        data["dry_run"] = False
    elif value:
        raise ConfigError(f"DRY_RUN must be true or false, not {env['DRY_RUN']!r}")
