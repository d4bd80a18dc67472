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
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from qdrant_ops.config.base import _UNSET, M
from qdrant_ops.errors import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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
    except yaml.MarkedYAMLError as exc:
        # str(exc) starts with the context ("while parsing a block mapping"), not the line.
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = exc.problem or exc.context or type(exc).__name__
        raise ConfigError(f"cannot parse config: {where}{what}", file=p) from None
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


def masked_dump(cfg: BaseModel) -> dict[str, Any]:
    """The config as plain data, secrets shown as ``**********``."""
    data: dict[str, Any] = json.loads(cfg.model_dump_json())  # SecretStr dumps masked
    return data


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()
