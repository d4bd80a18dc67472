"""The tests mirror the package: tests/<family>/ holds the tests of src/qdrant_ops/<family>/, so a
reader finds a module's tests by its path, and a folder that matches nothing fails here."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "src" / "qdrant_ops"

# Folders that are not a package family: the reliability trials (crash, fault, corruption, fuzz:
# each drives several verbs, and benchmarks/trials.py runs the same harnesses at scale) and the
# tests of the benchmark scripts in benchmarks/.
OTHER_FOLDERS = {"reliability", "benchmarks"}


def _folders(root: Path) -> set[str]:
    """Sub-folders of ``root`` as paths relative to it, caches left out."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_dir() and "__pycache__" not in p.parts and not p.name.startswith(".")
    }


def _families() -> set[str]:
    """The package's sub-packages, as paths relative to src/qdrant_ops."""
    return {str(p.parent.relative_to(PACKAGE)) for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}


def test_every_test_folder_mirrors_a_package_family() -> None:
    families = _families()
    stray = sorted(
        f for f in _folders(TESTS) if f not in families and f.split("/")[0] not in OTHER_FOLDERS
    )
    assert not stray, f"test folders that match no package in src/qdrant_ops: {stray}"


def test_test_files_in_a_family_folder_are_test_modules() -> None:
    """Helpers shared by tests live at tests/ (on the path); family folders hold only tests."""
    families = _families()
    odd = sorted(
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if str(p.parent.relative_to(TESTS)) in families
        and not p.name.startswith("test_")
        and p.name != "conftest.py"
    )
    assert not odd, f"non-test modules in family folders: {odd}"


def test_the_package_families_the_tests_cover_exist() -> None:
    # a guard on the guard: if the package moved, the checks above would pass vacuously
    assert {"cli", "data", "endpoints", "format", "migration", "pipeline", "runbook", "snapshot"} <= _families()
