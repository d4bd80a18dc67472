"""The ``qdrant-ops`` command: a thin typer layer over the library verbs, one module per command."""

# isort: skip_file
from __future__ import annotations

# Importing a command's module registers it; the order here is the order of ``--help``.
from qdrant_ops.cli import backup, restore, verify  # noqa: F401
from qdrant_ops.cli import migrate, validate, cutover, rollback  # noqa: F401
from qdrant_ops.cli import cleanup_legacy, consolidate_clients  # noqa: F401
from qdrant_ops.cli import init, run, runs, check_legacy  # noqa: F401
from qdrant_ops.cli import config, snapshot  # noqa: F401
from qdrant_ops.cli import backups, forget, prune, unlock  # noqa: F401
from qdrant_ops.cli.app import app, main

__all__ = ["app", "main"]
