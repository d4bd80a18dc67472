"""A phase-7 fixture: an embedded store with small collections, and a git repository holding a
legacy script referenced from a PowerShell script and a Makefile, plus two duplicated client
modules and a test suite."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from demo.data import create_demo_collections
from demo.repo import CLIENT_MODULE, write_repo
from fixture_repos import git  # noqa: F401  (used by the runbook tests)
from qdrant_ops.endpoints.open import open_endpoint
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.format.integrity import Digest, scan_digest

CLIENT = CLIENT_MODULE  # the shared Qdrant helper module of the demo repository

REPO_FILES: dict[str, str] = {
    "scripts/old_reindex.py": '''"""Rebuild the collection (legacy)."""
from qdrant_client import QdrantClient


def main() -> None:
    client = QdrantClient(url="http://localhost:6333")
    client.get_collections()


if __name__ == "__main__":
    main()
''',
    "scripts/run_all.ps1": "Write-Host 'reindex'\r\npython scripts\\old_reindex.py\r\n",
    "Makefile": "reindex:\n\tpython scripts/old_reindex.py\n",
    "app/__init__.py": "",
    "app/search/__init__.py": "",
    "app/search/qdrant_helper.py": CLIENT,
    "app/ingest/__init__.py": "",
    "app/ingest/qdrant_helper.py": CLIENT,
    "app/search/views.py": "from app.search.qdrant_helper import DEFAULT_URL\n\nURL = DEFAULT_URL\n",
    "app/ingest/loader.py": "from app.ingest.qdrant_helper import DEFAULT_URL\n\nURL = DEFAULT_URL\n",
    "tests/test_app.py": (
        "from app.search.views import URL\nfrom app.ingest.loader import URL as U2\n\n\n"
        "def test_urls():\n    assert URL == U2\n"
    ),
    "docs/PLAN.md": """# Migration plan

## Phase 7.1 Data migration

- [ ] Back up every collection (backup)
- [ ] Migrate to the new layout (migrate)
- [ ] Validate recall and counts
- [ ] Something done by hand

## Phase 7.2 Legacy cleanup

- [ ] Archive legacy scripts (cleanup-legacy)
- [ ] Consolidate the Qdrant clients (consolidate-clients)
- [ ] No references left (check-legacy)
- [x] Already done item
""",
}


def make_repo(root: Path) -> Path:
    files = {**REPO_FILES, ".gitignore": "__pycache__/\n.pytest_cache/\nbackups/\n"}
    return write_repo(root, files, "initial", branch="main")


def make_store(path: Path, points: int = 60) -> dict[str, int]:
    ep = open_endpoint(str(path))
    return create_demo_collections(ep, points=points)


def file_bytes(root: Path) -> dict[str, bytes]:
    """Every file's bytes under ``root`` (.git and caches excluded)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith((".git/", "backups/")) and "__pycache__" not in rel \
                and ".pytest_cache" not in rel:
            out[rel] = p.read_bytes()
    return out


def store_digests(path: Path) -> dict[str, str]:
    ep = open_endpoint(endpoint_from_uri(str(path)))
    out = {}
    for name in sorted(ep.list_collections()):
        d: Digest = scan_digest(ep, name, ep.get_spec(name).vector_fields())
        out[name] = f"{d.full:032x}:{ep.count(name)}"
    return out


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def runbook_data(store: Path, repo: Path, backups: Path) -> dict[str, object]:
    """A phase-7 runbook over the fixture (small, fast: no test run inside consolidate)."""
    return {
        "endpoint": {"path": str(store)},
        "collections": ["roadmap_tasks", "emails"],
        "backup_path": str(backups),
        "repo": str(repo),
        "prerequisites": {"min_free_gb": 0.01},
        "phases": [
            {"id": "7.1", "title": "Data migration", "steps": [
                {"id": "backup", "kind": "backup"},
                {"id": "migrate", "kind": "migrate", "config": {"validation": {"samples": 5}}},
                {"id": "validate", "kind": "validate", "plan_items": ["Validate recall"],
                 "config": {"validation": {"samples": 5}}},
            ]},
            {"id": "7.2", "title": "Legacy cleanup", "steps": [
                {"id": "cleanup-legacy", "kind": "cleanup-legacy",
                 "config": {"scripts": ["scripts/old_reindex.py"]}},
                {"id": "consolidate-clients", "kind": "consolidate-clients", "config": {"run_tests": False}},
                {"id": "check-legacy", "kind": "check-legacy"},
                {"id": "tests", "kind": "tests",
                 "config": {"command": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]}},
            ]},
        ],
    }
