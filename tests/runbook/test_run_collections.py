"""The default runbook covers the source's collections, not the targets of earlier migrations."""

from __future__ import annotations

from pathlib import Path

from datagen import make_collection
from qdrant_ops.migration.config import MigrateConfig
from qdrant_ops.migration.run import migrate
from qdrant_ops.runbook.model import Runbook
from qdrant_ops.runbook.run import default_collections


def test_default_collections_skip_migration_targets(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    make_collection(store, "docs", "int-unnamed", 20)
    make_collection(store, "mail", "uuid-named", 20)
    rb = Runbook.model_validate({"endpoint": {"path": store}, "backup_path": str(tmp_path / "runs")})
    assert default_collections(rb) == ["docs", "mail"]
    migrate(
        MigrateConfig.model_validate(
            {
                "source_qdrant": {"path": store},
                "target_qdrant": {"path": store},
                "backup_path": str(tmp_path / "bk"),
                "backup": False,
                "collections": ["docs"],
                "format_version": "v2",
                "validation": {"samples": 5},
            }
        )
    )
    assert default_collections(rb) == ["docs", "mail"]  # docs_v2 is a migration target


def test_default_collections_without_a_source_is_empty(tmp_path: Path) -> None:
    rb = Runbook.model_validate({"backup_path": str(tmp_path / "runs")})
    assert default_collections(rb) == []
