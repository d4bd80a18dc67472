"""qdrant-ops: back up, migrate, verify and consolidate Qdrant collections and their code.

The library API is the names in ``__all__``: the verbs, their config and report models, and the
errors they raise. Each name is imported on first use, so ``import qdrant_ops`` stays light and
pyarrow, qdrant-client or libcst load only with the verb that needs them.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Arrow's buffers come from malloc, which hands them back to the OS when freed (mimalloc keeps
# them); pyarrow reads this once, on import, so it is set first. A process's own choice is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # verbs
    "backup": "qdrant_ops.data.backup",
    "restore": "qdrant_ops.data.restore",
    "verify": "qdrant_ops.data.verify",
    "migrate": "qdrant_ops.migration.run",
    "validate": "qdrant_ops.migration.validate",
    "switch_alias": "qdrant_ops.migration.cutover",
    "rollback_alias": "qdrant_ops.migration.cutover",
    "cleanup_legacy": "qdrant_ops.code.cleanup.run",
    "restore_legacy": "qdrant_ops.code.cleanup.restore",
    "consolidate_clients": "qdrant_ops.code.consolidate.run",
    "restore_consolidation": "qdrant_ops.code.consolidate.run",
    "check_legacy": "qdrant_ops.code.check_legacy",
    "load_runbook": "qdrant_ops.runbook.run",
    "run_runbook": "qdrant_ops.runbook.run",
    "rollback_run": "qdrant_ops.runbook.rollback",
    "create_snapshots": "qdrant_ops.snapshot.commands",
    "list_snapshots": "qdrant_ops.snapshot.commands",
    "download_snapshot": "qdrant_ops.snapshot.commands",
    "delete_snapshot": "qdrant_ops.snapshot.commands",
    "restore_snapshot": "qdrant_ops.snapshot.commands",
    "inspect_snapshot": "qdrant_ops.snapshot.offline",
    "convert_snapshot": "qdrant_ops.snapshot.offline",
    "open_endpoint": "qdrant_ops.endpoints.open",
    "close_all": "qdrant_ops.endpoints.open",
    "load_verb_config": "qdrant_ops.config.verbs",
    # configs
    "BackupConfig": "qdrant_ops.data.config",
    "RestoreConfig": "qdrant_ops.data.config",
    "VerifyConfig": "qdrant_ops.data.config",
    "MigrateConfig": "qdrant_ops.migration.config",
    "ValidateConfig": "qdrant_ops.migration.config",
    "SnapshotConfig": "qdrant_ops.snapshot.config",
    "CleanupConfig": "qdrant_ops.code.config",
    "ConsolidateConfig": "qdrant_ops.code.config",
    "CheckLegacyConfig": "qdrant_ops.runbook.model",
    "EndpointConfig": "qdrant_ops.endpoints.uri",
    "Runbook": "qdrant_ops.runbook.model",
    # reports
    "Report": "qdrant_ops.reports",
    "BackupReport": "qdrant_ops.data.backup",
    "RestoreReport": "qdrant_ops.data.restore",
    "VerifyReport": "qdrant_ops.data.verify",
    "MigrateReport": "qdrant_ops.migration.report",
    "ValidateReport": "qdrant_ops.migration.report",
    "CutoverReport": "qdrant_ops.migration.cutover",
    "RollbackReport": "qdrant_ops.migration.cutover",
    "CleanupReport": "qdrant_ops.code.cleanup.report",
    "ConsolidateReport": "qdrant_ops.code.consolidate.report",
    "CheckLegacyReport": "qdrant_ops.code.check_legacy",
    "RunReport": "qdrant_ops.runbook.report",
    "RollbackRunReport": "qdrant_ops.runbook.report",
    "SnapshotReport": "qdrant_ops.snapshot.commands",
    "InspectReport": "qdrant_ops.snapshot.offline",
    # errors
    "QdrantOpsError": "qdrant_ops.errors",
    "ConfigError": "qdrant_ops.errors",
    "UsageError": "qdrant_ops.errors",
    "NotFoundError": "qdrant_ops.errors",
    "TargetExistsError": "qdrant_ops.errors",
    "UnsupportedError": "qdrant_ops.errors",
    "LockedError": "qdrant_ops.errors",
    "PlanChangedError": "qdrant_ops.errors",
    "GitError": "qdrant_ops.errors",
    "EndpointError": "qdrant_ops.errors",
    "TransientEndpointError": "qdrant_ops.errors",
    "IntegrityError": "qdrant_ops.errors",
    "CorruptBackupError": "qdrant_ops.errors",
    "CheckFailedError": "qdrant_ops.errors",
    "PartialError": "qdrant_ops.errors",
}

__all__ = [
    "BackupConfig", "BackupReport", "CheckFailedError", "CheckLegacyConfig", "CheckLegacyReport",
    "CleanupConfig", "CleanupReport", "ConfigError", "ConsolidateConfig", "ConsolidateReport",
    "CorruptBackupError", "CutoverReport", "EndpointConfig", "EndpointError", "GitError",
    "InspectReport", "IntegrityError", "LockedError", "MigrateConfig", "MigrateReport",
    "NotFoundError", "PartialError", "PlanChangedError", "QdrantOpsError", "Report",
    "RestoreConfig", "RestoreReport", "RollbackReport", "RollbackRunReport", "RunReport",
    "Runbook", "SnapshotConfig", "SnapshotReport", "TargetExistsError", "TransientEndpointError",
    "UnsupportedError", "UsageError", "ValidateConfig", "ValidateReport", "VerifyConfig",
    "VerifyReport", "__version__", "backup", "check_legacy", "cleanup_legacy", "close_all",
    "consolidate_clients", "convert_snapshot", "create_snapshots", "delete_snapshot",
    "download_snapshot", "inspect_snapshot", "list_snapshots", "load_runbook", "load_verb_config",
    "migrate", "open_endpoint", "restore", "restore_consolidation", "restore_legacy",
    "restore_snapshot", "rollback_alias", "rollback_run", "run_runbook", "switch_alias",
    "validate", "verify",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qdrant_ops' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from qdrant_ops.code.check_legacy import CheckLegacyReport, check_legacy
    from qdrant_ops.code.cleanup.report import CleanupReport
    from qdrant_ops.code.cleanup.restore import restore_legacy
    from qdrant_ops.code.cleanup.run import cleanup_legacy
    from qdrant_ops.code.config import CleanupConfig, ConsolidateConfig
    from qdrant_ops.code.consolidate.report import ConsolidateReport
    from qdrant_ops.code.consolidate.run import consolidate_clients, restore_consolidation
    from qdrant_ops.config.verbs import load_verb_config
    from qdrant_ops.data.backup import backup
    from qdrant_ops.data.backup_report import BackupReport
    from qdrant_ops.data.config import BackupConfig, RestoreConfig, VerifyConfig
    from qdrant_ops.data.restore import RestoreReport, restore
    from qdrant_ops.data.verify import VerifyReport, verify
    from qdrant_ops.endpoints.open import close_all, open_endpoint
    from qdrant_ops.endpoints.uri import EndpointConfig
    from qdrant_ops.errors import (
        CheckFailedError,
        ConfigError,
        CorruptBackupError,
        EndpointError,
        GitError,
        IntegrityError,
        LockedError,
        NotFoundError,
        PartialError,
        PlanChangedError,
        QdrantOpsError,
        TargetExistsError,
        TransientEndpointError,
        UnsupportedError,
        UsageError,
    )
    from qdrant_ops.migration.config import MigrateConfig, ValidateConfig
    from qdrant_ops.migration.cutover import CutoverReport, RollbackReport, rollback_alias, switch_alias
    from qdrant_ops.migration.report import MigrateReport, ValidateReport
    from qdrant_ops.migration.run import migrate
    from qdrant_ops.migration.validate import validate
    from qdrant_ops.reports import Report
    from qdrant_ops.runbook.model import CheckLegacyConfig, Runbook
    from qdrant_ops.runbook.report import RollbackRunReport, RunReport
    from qdrant_ops.runbook.rollback import rollback_run
    from qdrant_ops.runbook.run import load_runbook, run_runbook
    from qdrant_ops.snapshot.commands import (
        SnapshotReport,
        create_snapshots,
        delete_snapshot,
        download_snapshot,
        list_snapshots,
        restore_snapshot,
    )
    from qdrant_ops.snapshot.config import SnapshotConfig
    from qdrant_ops.snapshot.offline import InspectReport, convert_snapshot, inspect_snapshot
