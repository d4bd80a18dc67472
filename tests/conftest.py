from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# Git must work in fixture repositories even on a machine with no global identity.
os.environ.setdefault("GIT_AUTHOR_NAME", "qdrant-ops tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@qdrant-ops.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "qdrant-ops tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@qdrant-ops.invalid")


@pytest.fixture(autouse=True)
def _clean_qdrant_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own Qdrant settings."""
    for var in (
        "QDRANT_URL",
        "QDRANT_HOST",
        "QDRANT_PORT",
        "QDRANT_API_KEY",
        "BACKUP_CONFIG",
        "MIGRATION_CONFIG",
        "DRY_RUN",
    ):
        monkeypatch.delenv(var, raising=False)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(autouse=True)
def _close_endpoints() -> object:
    """Every test starts with no open stores and an empty shared :memory: store."""
    from qdrant_ops.endpoints.open import close_all

    close_all()
    yield
    close_all()


@pytest.fixture(params=["memory", "local"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An embedded store URI: the shared ``:memory:`` store, or a local-mode directory."""
    if request.param == "memory":
        return ":memory:"
    return str(tmp_path / "store")


@pytest.fixture
def target_uri(tmp_path: Path) -> str:
    """A second, on-disk embedded store."""
    return str(tmp_path / "target-store")


@pytest.fixture
def sliced_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--parallel N`` slices qdrant-client's local mode as it slices a server's collection (by
    default qdrant-ops scans local mode in one stream, see ``pipeline/scope.py``): tests of the
    slice machinery run it on the embedded engines."""
    import qdrant_ops.pipeline.scope as scope

    monkeypatch.setattr(scope, "ONE_STREAM_KINDS", frozenset())
