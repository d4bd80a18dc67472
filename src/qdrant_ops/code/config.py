"""Configs of cleanup-legacy and consolidate-clients."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from qdrant_ops.config.base import Model


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
