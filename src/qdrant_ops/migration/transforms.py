"""Migration transforms: an ordered list of steps applied to each batch of points.

Steps (config keys, see ``TransformConfig``): ``rename_field``, ``drop_field``, ``set_field``,
``copy_field``, ``cast`` (str/int/float/bool/datetime), ``rename_vector`` (``""`` is the unnamed
vector), ``drop_vector``, ``filter`` (a Qdrant filter, evaluated with qdrant-client's own filter
semantics on the point as the earlier steps left it) and ``python: "module:function"`` (or
``"path/to/file.py:function"``), a batch hook called as ``fn(points)`` or ``fn(points, context)``
that returns the points to write (it may drop points or compute new vectors; for resumes to be exact
it must be deterministic).

Payload field names are dotted paths into nested objects (``author.name``); a top-level key that
itself contains a dot is matched first. A point a step cannot transform (a cast that fails with
``on_error: fail``, a hook that raises) is reported as failed, never silently dropped.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
import json
import logging
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qdrant_ops.endpoints.base import Point, SparseValue
from qdrant_ops.errors import ConfigError
from qdrant_ops.migration.config import CastField, FieldMove, TransformConfig

log = logging.getLogger(__name__)

_MISSING = object()
HookFn = Callable[..., Any]


# -- payload paths -------------------------------------------------------------------------------


def _parts(payload: dict[str, Any], path: str) -> list[str]:
    return [path] if path in payload or "." not in path else path.split(".")


def get_path(payload: dict[str, Any] | None, path: str) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    node: Any = payload or {}
    for part in _parts(payload or {}, path):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    parts = _parts(payload, path)
    node = payload
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def pop_path(payload: dict[str, Any], path: str) -> Any:
    parts = _parts(payload, path)
    node: Any = payload
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return _MISSING
    if not isinstance(node, dict) or parts[-1] not in node:
        return _MISSING
    return node.pop(parts[-1])


# -- casts ----------------------------------------------------------------------------------------

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def cast_value(value: Any, to: str) -> Any:
    """Convert one JSON value; raises ValueError when it cannot convert without losing data."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise ValueError(f"cannot cast a {type(value).__name__} to {to}")
    if to == "str":
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    if to == "int":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                raise ValueError(f"{value!r} is not a whole number")
            return int(value)
        return int(str(value).strip())
    if to == "float":
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        out = float(value)
        if not math.isfinite(out):
            raise ValueError(f"{value!r} is not a finite number")
        return out
    if to == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if to == "datetime":
        return _to_datetime(value)
    raise ValueError(f"unknown cast target {to!r}")


def _to_datetime(value: Any) -> str:
    """RFC 3339 in UTC (``...Z``); numbers are Unix seconds; a naive time is taken as UTC."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a date-time")
    if isinstance(value, (int, float)):
        dt = datetime.fromtimestamp(float(value), tz=UTC)
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- hooks -----------------------------------------------------------------------------------------


def load_hook(spec: str, key: str = "transforms") -> HookFn:
    """Resolve ``module:function`` or ``path/file.py:function``; a bad path is a ConfigError."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(f"python hook {spec!r} must be 'module:function'", key=key)
    try:
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise ConfigError(f"python hook file {target} not found", key=key)
            mod_name = f"qdrant_ops_hook_{abs(hash(str(path.resolve())))}"
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ConfigError(f"cannot load python hook file {target}", key=key)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's hook path
        raise ConfigError(
            f"cannot import python hook {spec!r}: {type(exc).__name__}: {exc}", key=key
        ) from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise ConfigError(f"python hook {spec!r}: {target} has no function {attr!r}", key=key)
    return fn  # type: ignore[no-any-return]


def _wants_context(fn: HookFn) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


# -- the pipeline -------------------------------------------------------------------------------


@dataclass
class PointFailure:
    """A point a step could not transform, with the reason."""

    point: Point
    error: str


@dataclass
class TransformResult:
    points: list[Point]
    filtered: int = 0  # removed by ``filter`` steps (declared)
    dropped: int = 0  # removed by python hooks (validation counts them as lost)
    failures: list[PointFailure] = field(default_factory=list)


@dataclass
class _Step:
    cfg: TransformConfig
    index: int
    filter_model: Any = None
    hook: HookFn | None = None
    hook_context: bool = False


class Transformer:
    """The configured steps, ready to run on batches of points."""

    def __init__(
        self,
        steps: Sequence[TransformConfig],
        *,
        stamp: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.steps: list[_Step] = []
        self.stamp = stamp
        self.context = dict(context or {})
        for i, cfg in enumerate(steps):
            step = _Step(cfg, i)
            key = f"transforms[{i}].{cfg.op}"
            if cfg.filter is not None:
                from pydantic import ValidationError
                from qdrant_client import models

                try:
                    step.filter_model = models.Filter.model_validate(cfg.filter)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(x) for x in first.get("loc", ()))
                    raise ConfigError(
                        f"not a Qdrant filter: {first.get('msg')} at {where or 'top level'}", key=key
                    ) from None
            if cfg.python is not None:
                step.hook = load_hook(cfg.python, key)
                step.hook_context = _wants_context(step.hook)
            self.steps.append(step)

    # -- what the steps do to the collection layout ------------------------------------------

    @property
    def changes_vectors(self) -> bool:
        """True when vector values may differ from the source's (a hook may compute new ones)."""
        return any(s.cfg.python is not None for s in self.steps)

    @property
    def changes_selection(self) -> bool:
        """True when the target may hold fewer (or other) points than the source."""
        return any(s.cfg.filter is not None or s.cfg.python is not None for s in self.steps)

    @property
    def has_hook(self) -> bool:
        return any(s.cfg.python is not None for s in self.steps)

    def vector_renames(self) -> list[tuple[str, str | None]]:
        """``(old, new)`` in order; ``new`` None for a dropped vector."""
        return _renames((s.cfg.rename_vector, s.cfg.drop_vector) for s in self.steps)

    def field_renames(self) -> list[tuple[str, str | None]]:
        """Payload fields renamed (or dropped) in order, to carry payload indexes along."""
        return _renames((s.cfg.rename_field, s.cfg.drop_field) for s in self.steps)

    def describe(self) -> list[str]:
        return [
            f"{s.cfg.op}: {json.dumps(s.cfg.model_dump(by_alias=True, exclude_none=True)[s.cfg.op], ensure_ascii=False)}"
            for s in self.steps
        ]

    # -- running ------------------------------------------------------------------------------

    def apply(self, points: Sequence[Point]) -> TransformResult:
        """Run every step over ``points`` (the caller's objects are modified)."""
        result = TransformResult(points=list(points))
        for step in self.steps:
            if not result.points:
                break
            if step.hook is not None:
                self._run_hook(step, result)
                continue
            kept: list[Point] = []
            for p in result.points:
                try:
                    if self._apply_one(step, p):
                        kept.append(p)
                    else:
                        result.filtered += 1
                except (ValueError, TypeError, OverflowError) as exc:
                    result.failures.append(
                        PointFailure(p, f"transforms[{step.index}].{step.cfg.op}: {exc}")
                    )
            result.points = kept
        if self.stamp is not None:
            for p in result.points:
                if p.payload is None:
                    p.payload = {}
                p.payload["_migration"] = dict(self.stamp)
        return result

    def _run_hook(self, step: _Step, result: TransformResult) -> None:
        hook = step.hook
        if hook is None:
            return
        before = result.points
        try:
            out = hook(before, dict(self.context)) if step.hook_context else hook(before)
            out = list(out) if out is not None else []
        except Exception as exc:  # noqa: BLE001 - a user hook can raise anything; points are kept
            text = f"transforms[{step.index}].python {step.cfg.python}: {type(exc).__name__}: {exc}"
            result.failures.extend(PointFailure(p, text) for p in before)
            result.points = []
            return
        bad = [x for x in out if not isinstance(x, Point)]
        if bad:
            text = (
                f"transforms[{step.index}].python {step.cfg.python} returned "
                f"{type(bad[0]).__name__}, not qdrant_ops.endpoints.base.Point"
            )
            result.failures.extend(PointFailure(p, text) for p in before)
            result.points = []
            return
        result.points = out
        result.dropped += max(0, len(before) - len(out))

    def _apply_one(self, step: _Step, p: Point) -> bool:
        cfg = step.cfg
        if step.filter_model is not None:
            from qdrant_client.local.payload_filters import check_filter

            has_vector = {name: True for name in p.vectors}
            return bool(check_filter(step.filter_model, p.payload or {}, p.id, has_vector))
        if p.payload is None and (cfg.set_field is not None):
            p.payload = {}
        payload = p.payload if p.payload is not None else {}
        if cfg.rename_field is not None:
            value = pop_path(payload, cfg.rename_field.from_)
            if value is not _MISSING:
                set_path(payload, cfg.rename_field.to, value)
        elif cfg.drop_field is not None:
            for name in [cfg.drop_field] if isinstance(cfg.drop_field, str) else cfg.drop_field:
                pop_path(payload, name)
        elif cfg.set_field is not None:
            sf = cfg.set_field
            if sf.only_missing and get_path(payload, sf.field) is not _MISSING:
                return True
            if sf.from_ is not None:
                value = get_path(payload, sf.from_)
                if value is not _MISSING:
                    set_path(payload, sf.field, copy.deepcopy(value))
            else:
                set_path(payload, sf.field, copy.deepcopy(sf.value))
        elif cfg.copy_field is not None:
            value = get_path(payload, cfg.copy_field.from_)
            if value is not _MISSING:
                set_path(payload, cfg.copy_field.to, copy.deepcopy(value))
        elif cfg.cast is not None:
            _cast(payload, cfg.cast)
        elif cfg.rename_vector is not None:
            mv = cfg.rename_vector
            if mv.from_ in p.vectors:
                p.vectors[mv.to] = p.vectors.pop(mv.from_)
        elif cfg.drop_vector is not None:
            for name in [cfg.drop_vector] if isinstance(cfg.drop_vector, str) else cfg.drop_vector:
                p.vectors.pop(name, None)
        return True


def _renames(
    steps: Iterable[tuple[FieldMove | None, str | list[str] | None]],
) -> list[tuple[str, str | None]]:
    """``(old, new)`` for each step's rename, ``(name, None)`` for each name it drops, in order."""
    out: list[tuple[str, str | None]] = []
    for rename, drop in steps:
        if rename is not None:
            out.append((rename.from_, rename.to))
        elif drop is not None:
            names = [drop] if isinstance(drop, str) else drop
            out.extend((n, None) for n in names)
    return out


def _cast(payload: dict[str, Any], cfg: CastField) -> None:
    value = get_path(payload, cfg.field)
    if value is _MISSING:
        return
    try:
        set_path(payload, cfg.field, cast_value(value, cfg.to))
    except (ValueError, TypeError, OverflowError) as exc:
        if cfg.on_error == "null":
            set_path(payload, cfg.field, None)
        elif cfg.on_error == "fail":
            # Transforms.apply turns it into this point's failure (dead letter, exit 4), and the
            # sample run before any write into a ConfigError: it never reaches the CLI as is.
            raise ValueError(f"field {cfg.field!r}: cannot cast {value!r} to {cfg.to}: {exc}") from None


def _numbers(v: list[Any]) -> bool:
    return all(type(x) is float or type(x) is int for x in v)


def _clone_vector(v: Any) -> Any:
    """A copy of a vector no step can change through the original: lists of numbers (dense, or
    the rows of a multi-vector) and a sparse vector's lists copied as lists (numbers are
    immutable; ``deepcopy`` visited each one), anything else deep-copied."""
    if type(v) is list:
        if _numbers(v):
            return list(v)
        if all(type(row) is list and _numbers(row) for row in v):
            return [list(row) for row in v]
    if isinstance(v, SparseValue) and type(v.indices) is list and type(v.values) is list:
        if _numbers(v.indices) and _numbers(v.values):
            return SparseValue(list(v.indices), list(v.values))
    return copy.deepcopy(v)


def clone_points(points: Sequence[Point]) -> list[Point]:
    """Deep copies (dry-run shows points before and after the steps)."""
    return [
        Point(p.id, {k: _clone_vector(v) for k, v in p.vectors.items()}, copy.deepcopy(p.payload))
        for p in points
    ]


def originals_for(transformer: Transformer, points: Sequence[Point]) -> list[Point]:
    """What ``points`` are before ``transformer.apply`` changes them, as cheaply as is safe.

    With no steps, ``apply`` changes a point only by setting ``payload["_migration"]`` (a new
    top-level key, or a new payload dict): a shallow payload copy keeps the original intact, where a
    deep copy of every vector and payload cost more than the scroll and the upsert together.
    """
    if transformer.steps:
        return clone_points(points)
    if transformer.stamp is None:
        return list(points)
    return [Point(p.id, p.vectors, None if p.payload is None else dict(p.payload)) for p in points]
