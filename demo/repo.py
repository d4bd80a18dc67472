"""The demo repository of ``make demo``: what phase 7.2 meets in a real project.

A legacy script referenced from a PowerShell script and a Makefile, two duplicated Qdrant client
modules each with its importers, a small unittest suite, and the plan (``docs/PLAN.md``) whose
checklist the runbook ticks. Created as a git repository with one commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from qdrant_ops.errors import QdrantOpsError

CLIENT_MODULE = '''"""Shared Qdrant helper."""
from qdrant_client import QdrantClient

DEFAULT_URL = "http://localhost:6333"


def get_client(url=DEFAULT_URL):
    client = QdrantClient(url=url)
    return client


class VectorStore:
    def __init__(self, url=DEFAULT_URL):
        self.client = get_client(url)

    def search(self, collection, vector, limit=5):
        return self.client.search(collection, vector, limit=limit)
'''

FILES: dict[str, str] = {
    "scripts/reindex_roadmap.py": '''"""Rebuild roadmap_tasks from the export (legacy, replaced by qdrant-ops migrate)."""
from qdrant_client import QdrantClient


def main() -> None:
    client = QdrantClient(url="http://localhost:6333")
    print(client.get_collections())


if __name__ == "__main__":
    main()
''',
    "scripts/nightly.ps1": "Write-Host 'nightly reindex'\r\npython scripts\\reindex_roadmap.py\r\n",
    "Makefile": "reindex:\n\tpython scripts/reindex_roadmap.py\n\ntest:\n\tpython -m unittest discover -s tests\n",
    "app/__init__.py": "",
    "app/search/__init__.py": "",
    "app/search/qdrant_helper.py": CLIENT_MODULE,
    "app/search/views.py": "from app.search.qdrant_helper import DEFAULT_URL\n\nSEARCH_URL = DEFAULT_URL\n",
    "app/ingest/__init__.py": "",
    "app/ingest/qdrant_helper.py": CLIENT_MODULE,
    "app/ingest/loader.py": "from app.ingest.qdrant_helper import DEFAULT_URL\n\nINGEST_URL = DEFAULT_URL\n",
    "tests/__init__.py": "",
    "tests/test_urls.py": (
        "import unittest\n\nfrom app.ingest.loader import INGEST_URL\nfrom app.search.views import SEARCH_URL\n\n\n"
        "class UrlTest(unittest.TestCase):\n    def test_same_server(self):\n"
        "        self.assertEqual(SEARCH_URL, INGEST_URL)\n"
    ),
    ".gitignore": "__pycache__/\n",
    "docs/PLAN.md": """# Vector search migration plan

## Phase 7.1 Data migration

- [ ] Back up every collection (backup)
- [ ] Migrate to the v2 layout (migrate)
- [ ] Validate counts, content and recall (validate)

## Phase 7.2 Legacy cleanup

- [ ] Archive the legacy scripts (cleanup-legacy)
- [ ] Consolidate the duplicated Qdrant clients (consolidate-clients)
- [ ] No code references archived scripts (check-legacy)
- [ ] Tests pass (tests)
""",
}


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "qdrant-ops demo"),
        "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "demo@qdrant-ops.invalid"),
        "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "qdrant-ops demo"),
        "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", "demo@qdrant-ops.invalid"),
    }
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise QdrantOpsError(f"git {args[0]} failed in {repo}: {proc.stderr.strip()}")


def write_files(root: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (POSIX path relative to ``root`` -> text) as UTF-8, line endings kept as given."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def write_repo(root: Path, files: Mapping[str, str], message: str, *, branch: str | None = None) -> Path:
    """Write ``files`` under ``root`` and commit them all as the first commit of a new git repository."""
    write_files(root, files)
    _git(root, "init", "-q", *(["-b", branch] if branch else []))
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)
    return root


def create_demo_repo(root: Path) -> Path:
    """(Re)create the demo repository at ``root`` and commit it."""
    if root.exists():
        shutil.rmtree(root)
    return write_repo(root, FILES, "demo project before phase 7")
