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
