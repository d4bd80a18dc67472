"""A fixture repository for cleanup-legacy: legacy scripts referenced from everywhere, with git."""

from __future__ import annotations

import os
from pathlib import Path

from demo.repo import write_files
from fixture_repos import git

FILES: dict[str, str] = {
    "scripts/reindex_qdrant.py": '''"""Rebuild the collection from the export (legacy)."""
import os

import yaml
from dotenv import load_dotenv
from qdrant_client import QdrantClient

import qdrant_helpers
import shared_utils


def main() -> None:
    load_dotenv()
    cfg = yaml.safe_load(open("config.yaml"))
    client = QdrantClient(url=os.environ.get("QDRANT_URL", "http://localhost:6333"))
    qdrant_helpers.recreate(client, cfg["collection"])
    shared_utils.log("done")


if __name__ == "__main__":
    main()
''',
    "scripts/export_points.py": '''import sys

import httpx
import requests

import qdrant_helpers

BASE = "http://localhost:6333"


def main() -> int:
    r = requests.post(f"{BASE}/collections/docs/points/scroll", json={"limit": 10})
    httpx.get(BASE)
    qdrant_helpers.dump(r.json(), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
''',
    "scripts/qdrant_helpers.py": '''from bs4 import BeautifulSoup


def recreate(client, name):
    return client, name, BeautifulSoup


def dump(data, out):
    out.write(str(data))
''',
    "scripts/shared_utils.py": '''def log(msg):
    return msg
''',
    "scripts/run_all.ps1": (
        "# Nightly jobs\r\n"
        "python .\\scripts\\reindex_qdrant.py --config config.yaml\r\n"
        "& python \"$PSScriptRoot\\export_points.py\"\r\n"
        "py -3 scripts\\export_points.py > out.json\r\n"
    ),
    "app/__init__.py": "",
    "app/main.py": '''import subprocess
import sys

import requests
from qdrant_client import QdrantClient

from scripts import shared_utils


def export() -> None:
    subprocess.run([sys.executable, "scripts/export_points.py"], check=True)
    subprocess.run([sys.executable, "-m", "scripts.reindex_qdrant"], check=True)
    shared_utils.log(requests.__name__)


def client() -> QdrantClient:
    return QdrantClient(":memory:")
''',
    "Makefile": (
        "reindex:\n\tpython scripts/reindex_qdrant.py --all\n\n"
        "export:\n\tpython -m scripts.export_points\n\n"
        "serve:\n\tuvicorn app.main:app\n"
    ),
    ".github/workflows/nightly.yml": '''name: nightly
on:
  schedule:
    - cron: "0 3 * * *"
jobs:
  reindex:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -r requirements.txt
      - run: python scripts/reindex_qdrant.py
''',
    "README.md": '''# Demo

Export the points with `python scripts/export_points.py`, or see
[the reindex script](scripts/reindex_qdrant.py). The app lives in `app/main.py`.
''',
    "docs/usage.md": "See [export](../scripts/export_points.py) for the old export.\n",
    "requirements.txt": '''# Core runtime
-r requirements-base.txt
requests==2.31.0  # HTTP client
PyYAML>=6.0 ; python_version >= "3.8"  # config files
python-dotenv==1.0.0
uvicorn[standard]==0.30.0

# end
''',
    "requirements-base.txt": '''qdrant-client>=1.9
beautifulsoup4==4.12.3 \\
    --hash=sha256:b80878c9f40111313e55da8ba20bdba06d8fa3969fc68304167741bbf9e082ae
numpy==1.26.4
''',
    "pyproject.toml": '''[project]
name = "demo"
version = "0.1.0"
dependencies = [
    "qdrant-client>=1.9",
    "httpx>=0.27",  # legacy export only
    "PyYAML>=6; python_version >= '3.8'",
]

[project.optional-dependencies]
legacy = ["beautifulsoup4>=4", "python-dotenv"]
dev = ["pytest>=8"]
''',
}


def make_repo(root: Path, *, with_git: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, FILES)
    if with_git:
        git(root, "init", "-q")
        git(root, "config", "commit.gpgsign", "false")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
        # a second commit touching one legacy script, so history has something to follow
        p = root / "scripts/export_points.py"
        p.write_bytes(p.read_bytes().replace(b"limit\": 10", b"limit\": 100"))
        git(root, "commit", "-q", "-am", "export more points")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes, .git excluded."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            full = Path(dirpath) / name
            out[full.relative_to(root).as_posix()] = full.read_bytes()
    return out
