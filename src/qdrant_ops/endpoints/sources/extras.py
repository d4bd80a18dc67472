"""Each source's client comes with an optional extra: a missing one names the extra to install."""

from __future__ import annotations

import importlib
from typing import Any

from qdrant_ops.errors import UsageError


def require(module: str, extra: str) -> Any:
    """Import ``module``; when it is not installed, a one-line error naming ``qdrant-ops[extra]`` (exit 2)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"reading this source needs the {module!r} package: pip install 'qdrant-ops[{extra}]'"
        ) from None
