"""The ``qdrant-ops`` command: a thin typer layer over the library verbs."""

from __future__ import annotations

from qdrant_ops.cli import config_cmd, data  # noqa: F401  (registers commands)
from qdrant_ops.cli import migrate as _migrate  # noqa: F401  (registers commands)
from qdrant_ops.cli import cleanup_legacy  # noqa: F401  (registers cleanup-legacy)
from qdrant_ops.cli import snapshot as _snapshot  # noqa: F401  (registers snapshot)
from qdrant_ops.cli import consolidate  # noqa: F401  (registers consolidate-clients)
from qdrant_ops.cli import runbook as _runbook  # noqa: F401  (registers init/run/runs/check-legacy)
from qdrant_ops.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
