"""Config models for every verb, and how they are loaded.

Order of precedence, lowest first: the model's defaults, a config file (JSON, YAML or TOML, chosen
by suffix; ``${VAR}`` and ``${VAR:-default}`` expanded in every string), environment variables
(``QDRANT_URL``, ``QDRANT_HOST``, ``QDRANT_PORT``, ``QDRANT_API_KEY``), then command-line flags.

An unset variable in an optional field leaves the field unset; in a required field it is an error
naming the variable, the key and the file. Unknown keys and wrong types are errors naming the key
and the file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from qdrant_ops.errors import ConfigError

ENV_URL = "QDRANT_URL"
ENV_HOST = "QDRANT_HOST"
ENV_PORT = "QDRANT_PORT"
ENV_API_KEY = "QDRANT_API_KEY"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNSET = object()

M = TypeVar("M", bound=BaseModel)


class Model(BaseModel):
    """Base for every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------------------------
# Endpoints


class EndpointConfig(Model):
    """Where points live: ``{url}``, ``{host, port, ...}`` or ``{path}``, each with api_key/timeout.

    ``url`` also accepts ``:memory:``, ``edge:DIR`` and a plain directory path, so every form an
    endpoint can take on the command line works in a config file too.
    """

    url: str | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    https: bool | None = None
    grpc_port: int | None = Field(default=None, ge=1, le=65535)
    prefer_grpc: bool = False
    path: str | None = None
    api_key: SecretStr | None = None
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> EndpointConfig:
        forms = [x for x in (self.url, self.host, self.path) if x]
        if len(forms) > 1:
            raise ValueError("give only one of url, host or path")
        return self

    @property
    def is_set(self) -> bool:
        return bool(self.url or self.host or self.path)

    def kind(self) -> Literal["remote", "local", "memory", "edge"]:
        if self.path:
            return "memory" if self.path == ":memory:" else "local"
        if self.host:
            return "remote"
        url = self.url or ""
        if url == ":memory:":
            return "memory"
        if url.startswith("edge:"):
            return "edge"
        if re.match(r"^(https?|grpcs?)://", url):
            return "remote"
        return "local"

    def display(self) -> str:
        """The endpoint as a string safe to log: never holds credentials."""
        if self.path:
            return self.path
        if self.host:
            scheme = "https" if self.https else "http"
            port = self.port or 6333
            return f"{scheme}://{self.host}:{port}"
        return redact_url(self.url or "")


def redact_url(url: str) -> str:
    """Drop user:password and query parameters (api keys travel there) from a URL."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def endpoint_from_uri(uri: str, api_key: str | None = None) -> EndpointConfig:
    """An endpoint from a command-line URI: http(s)/grpc URL, ``:memory:``, ``edge:DIR`` or a path."""
    key = SecretStr(api_key) if api_key else None
    if uri == ":memory:" or uri.startswith(("http://", "https://", "grpc://", "grpcs://", "edge:")):
        return EndpointConfig(url=uri, api_key=key)
    return EndpointConfig(path=uri, api_key=key)


def endpoint_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Endpoint fields given by QDRANT_URL / QDRANT_HOST / QDRANT_PORT / QDRANT_API_KEY."""
    out: dict[str, Any] = {}
    if env.get(ENV_URL):
        url = env[ENV_URL]
        out.update(endpoint_from_uri(url).model_dump(exclude_none=True, exclude={"prefer_grpc"}))
    elif env.get(ENV_HOST):
        out["host"] = env[ENV_HOST]
        if env.get(ENV_PORT):
            out["port"] = env[ENV_PORT]
    if env.get(ENV_API_KEY):
        out["api_key"] = env[ENV_API_KEY]
    return out


def merge_endpoint(base: EndpointConfig | None, override: Mapping[str, Any]) -> EndpointConfig:
    """Overlay endpoint fields; a new location (url/host/path) replaces the old one entirely."""
    data = base.model_dump(exclude_none=True) if base else {}
    if any(override.get(k) for k in ("url", "host", "path")):
        for k in ("url", "host", "path", "port", "https", "grpc_port"):
            data.pop(k, None)
    for k, v in override.items():
        if v is not None:
            data[k] = v.get_secret_value() if isinstance(v, SecretStr) else v
    return EndpointConfig.model_validate(data)


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
    max_differences: int = Field(default=20, ge=1)
    batch_size: int = Field(default=1000, ge=1, le=100_000)


class SnapshotConfig(Model):
    """``qdrant-ops snapshot ...``: Qdrant's native snapshots, per collection, node and shard."""

    endpoint: EndpointConfig | None = None
    nodes: list[str] = Field(default_factory=list)
    collections: list[str] = Field(default_factory=list)
    shards: bool = False
    output: str = "./snapshots"
    download: bool = False
    delete_after_download: bool = False
    priority: Literal["snapshot", "replica", "no_sync"] = "snapshot"
    checksum: str | None = None
    timeout: float = Field(default=3600.0, gt=0)

    def server(self) -> EndpointConfig:
        if self.endpoint is None or not self.endpoint.is_set:
            raise ConfigError("no endpoint given: use --url, QDRANT_URL or a config file")
        return self.endpoint


class CleanupConfig(Model):
    """``qdrant-ops cleanup-legacy``: archive legacy scripts, update references, prune requirements."""

    repo: str = "."
    scripts: list[str] = Field(default_factory=list)
    detect: bool = False
    yes: bool = False
    archive_path: str = "legacy/python-scripts"
    references: Literal["rewrite", "report"] = "rewrite"
    prune_requirements: bool = True
    allow_list: list[str] = Field(default_factory=list)
    import_map: dict[str, list[str]] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    dry_run: bool = False
    force: bool = False
    verbose: bool = False
    restore: bool = False


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
    target: TargetConfig = Field(default_factory=TargetConfig)
    transforms: list[TransformConfig] = Field(default_factory=list)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    switch_alias: str | None = None
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




class ConsolidateConfig(Model):
    """``qdrant-ops consolidate-clients``."""

    repo: str = "."
    canonical: list[str] = Field(default_factory=list)
    merge_missing: bool = False
    dry_run: bool = False
    backup: bool = True
    backup_dir: str | None = None
    test_command: str = "python -m pytest -q"
    run_tests: bool = True
    test_timeout: float = Field(default=900, gt=0)
    exclude: list[str] = Field(default_factory=list)
    min_similarity: float = Field(default=0.6, gt=0, le=1)
    python: str | None = None
    import_check: bool = True


# --------------------------------------------------------------------------------------------
# Loading


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a JSON, YAML or TOML file into a dict (no expansion)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", file=p) from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigError("unknown config format: use .json, .yaml, .yml or .toml", file=p)
    except ConfigError:
        raise
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot parse config: {first}", file=p) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a config file must hold a mapping at its top level", file=p)
    return data


def expand_vars(
    data: Any, env: Mapping[str, str], path: str = ""
) -> tuple[Any, dict[str, str]]:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string.

    Returns the expanded data, with keys whose value used an unset variable removed, and a map
    ``key path -> variable name`` of those removals.
    """
    missing: dict[str, str] = {}

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for k, v in node.items():
                sub = f"{where}.{k}" if where else str(k)
                val = walk(v, sub)
                if val is not _UNSET:
                    out[k] = val
            return out
        if isinstance(node, list):
            items = [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
            return [v for v in items if v is not _UNSET]
        if isinstance(node, str):
            unset: list[str] = []

            def sub_var(m: re.Match[str]) -> str:
                name, default = m.group(1), m.group(2)
                if name in env:
                    return env[name]
                if default is not None:
                    return default
                unset.append(name)
                return ""

            value = _VAR.sub(sub_var, node)
            if unset:
                missing[where] = unset[0]
                return _UNSET
            return value
        return node

    return walk(data, path), missing


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc if not (isinstance(x, str) and x.startswith("function-")))


def _named_config_error(message: str, *, key: str | None, file: str | Path | None) -> ConfigError:
    """A ConfigError whose message already names key and file."""
    err = ConfigError(message)
    err.fields = {"key": key, "file": str(file) if file else None}
    return err


def validate_model(
    model: type[M],
    data: Mapping[str, Any],
    *,
    file: str | Path | None = None,
    missing_vars: Mapping[str, str] | None = None,
) -> M:
    """Validate ``data`` into ``model``; every failure becomes one ConfigError line."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        errors = exc.errors()
        missing_vars = missing_vars or {}
        for err in errors:
            key = _loc(tuple(err.get("loc", ())))
            if err.get("type") == "missing" and key in missing_vars:
                raise ConfigError(
                    f"environment variable {missing_vars[key]} is not set", key=key, file=file
                ) from None
        parts = []
        for err in errors[:3]:
            key = _loc(tuple(err.get("loc", ())))
            msg = "unknown key" if err.get("type") == "extra_forbidden" else str(err.get("msg", "invalid value"))
            parts.append(f"key '{key}': {msg}" if key else msg)
        if len(errors) > 3:
            parts.append(f"and {len(errors) - 3} more")
        first_key = _loc(tuple(errors[0].get("loc", ()))) if errors else None
        where = f" (in {file})" if file else ""
        raise _named_config_error("; ".join(parts) + where, key=first_key, file=file) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ConfigError(f"invalid config: {exc}", file=file) from None


def load_config(
    model: type[M],
    *,
    file: str | Path | None = None,
    env_file_var: str | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    env_overlay: Callable[[dict[str, Any], Mapping[str, str]], None] | None = None,
) -> M:
    """Build a verb's config: defaults < file < environment < flags.

    ``env_file_var`` names a variable that gives the config file when ``file`` is not set
    (``BACKUP_CONFIG``, ``MIGRATION_CONFIG``). ``env_overlay`` puts QDRANT_* variables where the
    model keeps its endpoint. ``flags`` holds only flags the user gave (None values are skipped).
    """
    env = os.environ if env is None else env
    if file is None and env_file_var and env.get(env_file_var):
        file = env[env_file_var]
    data: dict[str, Any] = {}
    missing: dict[str, str] = {}
    if file is not None:
        raw = read_config_file(file)
        data, missing = expand_vars(raw, env)
    if env_overlay is not None:
        env_overlay(data, env)
    for key, value in (flags or {}).items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return validate_model(model, data, file=file, missing_vars=missing)


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


def masked_dump(cfg: BaseModel) -> dict[str, Any]:
    """The config as plain data, secrets shown as ``**********``."""
    data: dict[str, Any] = json.loads(cfg.model_dump_json())  # SecretStr dumps masked
    return data


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


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
