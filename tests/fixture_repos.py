"""Fixture repositories for consolidate-clients, built with git inside the tests."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from demo.repo import CLIENT_MODULE, write_files, write_repo

HELPER = CLIENT_MODULE  # the shared Qdrant helper module of the demo repository

# the same code, reformatted, commented, with renamed locals
REFORMATTED = '''from qdrant_client import QdrantClient
DEFAULT_URL = 'http://localhost:6333'

def get_client( url = DEFAULT_URL ):
    # build one
    c = QdrantClient( url = url )
    return c

class VectorStore :
    def __init__(self, url = DEFAULT_URL):
        self.client = get_client( url )
    def search(self, collection, vector, limit = 5):
        return self.client.search( collection, vector, limit = limit )
'''

REQUESTS_CLIENT = '''import requests


class QdrantClient:
    """Talks to Qdrant over plain HTTP."""

    def __init__(self, url):
        self.session = requests.Session()
        self.url = url

    def search(self, collection, body):
        return self.session.post(f"{self.url}/collections/{collection}/points/search", json=body)
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, files: dict[str, str], commit: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if commit:
        return write_repo(root, files, "fixture", branch="main")
    write_files(root, files)
    return root


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file outside .git and caches: a byte-for-byte picture of the tree."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_dir() or rel.startswith(".git/") or "__pycache__" in rel or ".pytest_cache" in rel:
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
