"""The library API: the exact names ``qdrant_ops`` exports, that each resolves to what it says, that
``import qdrant_ops`` stays light, and the README's Python example (backup, then verify)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

import qdrant_ops
from datagen import make_collection
from qdrant_ops.endpoints.open import close_all

EXPORTED = [
    "BackupConfig", "BackupReport", "CheckFailedError", "CheckLegacyConfig", "CheckLegacyReport",
    "CleanupConfig", "CleanupReport", "ConfigError", "ConsolidateConfig", "ConsolidateReport",
    "CorruptBackupError", "CutoverReport", "EndpointConfig", "EndpointError", "GitError",
    "InspectReport", "IntegrityError", "LockedError", "MigrateConfig", "MigrateReport",
    "NotFoundError", "PartialError", "PlanChangedError", "QdrantOpsError", "Report",
    "RestoreConfig", "RestoreReport", "RollbackReport", "RollbackRunReport", "RunReport", "Runbook",
    "SnapshotConfig", "SnapshotReport", "TargetExistsError", "TransientEndpointError",
    "UnsupportedError", "UsageError", "ValidateConfig", "ValidateReport", "VerifyConfig",
    "VerifyReport", "__version__", "backup", "check_legacy", "cleanup_legacy", "close_all",
    "consolidate_clients", "convert_snapshot", "create_snapshots", "delete_snapshot",
    "download_snapshot", "inspect_snapshot", "list_snapshots", "load_runbook", "load_verb_config",
    "migrate", "open_endpoint", "restore", "restore_consolidation", "restore_legacy",
    "restore_snapshot", "rollback_alias", "rollback_run", "run_runbook", "switch_alias", "validate",
    "verify",
]


def test_the_exported_names_are_pinned() -> None:
    assert qdrant_ops.__all__ == EXPORTED == sorted(EXPORTED)
    assert set(EXPORTED) <= set(dir(qdrant_ops))


@pytest.mark.parametrize("name", EXPORTED)
def test_every_name_resolves_to_its_kind(name: str) -> None:
    value = getattr(qdrant_ops, name)
    if name == "__version__":
        assert isinstance(value, str) and value
    elif name.endswith("Error"):
        assert issubclass(value, qdrant_ops.QdrantOpsError)
    elif name.endswith("Report"):
        assert issubclass(value, qdrant_ops.Report)
    elif name[0].isupper():
        assert issubclass(value, BaseModel)
    else:
        assert callable(value)
        if inspect.isfunction(value):
            assert value.__name__ == name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_verb"):
        qdrant_ops.no_such_verb  # type: ignore[attr-defined]  # noqa: B018


def _python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(Path(qdrant_ops.__file__).parents[1]), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_the_package_loads_no_heavy_library() -> None:
    heavy = ("pyarrow", "numpy", "qdrant_client", "libcst", "pydantic", "typer")
    loaded = _python(f"import sys, qdrant_ops; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    assert loaded == "[]"


def test_migrate_is_the_verb_whichever_module_loads_first() -> None:
    # The verb and its package have different names, so importing a submodule rebinds nothing.
    probe = "import inspect; print(inspect.isfunction(qdrant_ops.migrate))"
    assert _python(f"import qdrant_ops, qdrant_ops.migration.config\n{probe}") == "True"
    assert _python(f"import qdrant_ops\n{probe}") == "True"


def test_readme_python_example_backs_up_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_collection(str(tmp_path / "qdrant-data"), "docs", "uuid-named", 50)
    close_all()
    monkeypatch.chdir(tmp_path)

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), scope)  # the README's example, as is
    report, check = scope["report"], scope["check"]
    import qdrant_ops

    assert report.status == "ok" and report.collections[0].points == 50
    assert check.status == "ok" and Path(report.backup_dir, "manifest.json").is_file()
    qdrant_ops.close_all()
