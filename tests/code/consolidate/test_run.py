from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fixture_repos import HELPER, REFORMATTED, REQUESTS_CLIENT, git, make_repo, snapshot
from qdrant_ops.code.consolidate.clients import scan_repository
from qdrant_ops.code.consolidate.duplicates import find_groups, similarity, tokens
from qdrant_ops.code.consolidate.run import consolidate_clients, restore_consolidation
from qdrant_ops.code.index import RepoIndex

NO_TESTS = None


def base_files() -> dict[str, str]:
    return {
        "pkg_a/__init__.py": "",
        "pkg_a/qdrant_helper.py": HELPER,
        "pkg_a/api.py": "from .qdrant_helper import get_client\n\n\ndef handler():\n    return get_client()\n",
        "pkg_a/jobs.py": "from pkg_a.qdrant_helper import VectorStore\n\nSTORE = VectorStore\n",
        "pkg_b/__init__.py": "",
        "pkg_b/qdrant_helper.py": HELPER,  # byte-identical copy
        "pkg_b/search.py": (
            "from pkg_b import qdrant_helper\n"
            "import pkg_b.qdrant_helper\n\n\n"
            "def run():\n"
            "    return qdrant_helper.get_client(), pkg_b.qdrant_helper.DEFAULT_URL\n"
        ),
        "tests/test_search.py": (
            "from unittest import mock\n\nimport pkg_b.search\n\n\n"
            "def test_run():\n"
            "    with mock.patch(\"pkg_b.qdrant_helper.get_client\") as fake:\n"
            "        fake.return_value = 'client'\n"
            "        assert pkg_b.search.run()[0] == 'client'\n"
        ),
        "Makefile": "run:\n\tpython -m pkg_b.qdrant_helper\n\tpython pkg_b/qdrant_helper.py\n",
    }


def test_similarity_survives_reformatting_and_renamed_locals(tmp_path: Path) -> None:
    import libcst as cst

    a, b = cst.parse_module(HELPER), cst.parse_module(REFORMATTED)
    assert similarity(tokens(a), tokens(b)) == 1.0
    other = cst.parse_module("def unrelated(x):\n    return [i * 2 for i in range(x)]\n")
    assert similarity(tokens(a), tokens(other)) < 0.2


def test_detection_groups_and_list(tmp_path: Path) -> None:
    files = base_files()
    files["legacy/__init__.py"] = ""
    files["legacy/store.py"] = REFORMATTED
    files["compat.py"] = "from pkg_a.qdrant_helper import *  # noqa\n"
    files["http_client.py"] = REQUESTS_CLIENT
    repo = make_repo(tmp_path / "r", files)
    index = RepoIndex.build(repo)
    clients = scan_repository(index)
    assert "lookalike" in clients["http_client.py"].kinds
    assert not clients["http_client.py"].is_client
    assert clients["compat.py"].shim_of == "pkg_a/qdrant_helper.py"
    groups, _ = find_groups(index, clients)
    assert len(groups) == 1
    g = groups[0]
    roles = {m.rel: m.role for m in g.members}
    assert roles == {
        "pkg_a/qdrant_helper.py": "canonical",  # most importers
        "pkg_b/qdrant_helper.py": "identical",
        "legacy/store.py": "equivalent",
        "compat.py": "shim",
    }
    report = consolidate_clients(repo, list_only=True)
    text = "\n".join(report.listing_lines())
    assert "canonical pkg_a/qdrant_helper.py" in text
    assert "imported at pkg_b/search.py:1" in text
    assert "uses get_client: pkg_b/search.py:6, tests/test_search.py:7" in text
    assert "look-alike (not qdrant_client, left alone): http_client.py" in text


# Runs the fixture repository's own test suite before and after: over 10 s, so `make test-slow`.
@pytest.mark.slow
def test_consolidation_rewrites_everything(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", base_files())
    report = consolidate_clients(repo, test_command=f"{sys.executable} -m pytest -q -p no:cacheprovider")
    assert report.status == "ok", report.summary_lines()
    assert report.files_removed == ["pkg_b/qdrant_helper.py"]
    assert not (repo / "pkg_b/qdrant_helper.py").exists()
    search = (repo / "pkg_b/search.py").read_text()
    assert "from pkg_a import qdrant_helper\n" in search
    assert "import pkg_a.qdrant_helper\n" in search
    assert "pkg_a.qdrant_helper.DEFAULT_URL" in search
    assert 'mock.patch("pkg_a.qdrant_helper.get_client")' in (repo / "tests/test_search.py").read_text()
    make = (repo / "Makefile").read_text()
    assert "python -m pkg_a.qdrant_helper\n" in make and "python pkg_a/qdrant_helper.py" in make
    # untouched files keep their bytes, git knows about the removal
    assert (repo / "pkg_a/api.py").read_text().startswith("from .qdrant_helper import get_client")
    assert "D  pkg_b/qdrant_helper.py" in git(repo, "status", "--porcelain")
    assert report.after is not None and report.after.tests is not None and report.after.tests.ok
    refs = {(f.path, r.line, r.kind) for f in report.files_changed for r in f.references}
    assert ("tests/test_search.py", 7, "string") in refs and ("pkg_b/search.py", 6, "attribute") in refs
    assert report.backup is not None and report.backup.location.startswith("refs/qdrant-ops/backup-")
    # the backup restores the exact prior state
    restore_consolidation(repo, report.backup.location)
    assert (repo / "pkg_b/qdrant_helper.py").read_text() == HELPER
    assert git(repo, "status", "--porcelain") == ""


def test_relative_imports_follow_the_canonical(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/db/__init__.py": "",
        "app/db/client.py": HELPER,
        "app/db/views.py": "from .client import get_client\nfrom . import client\n",
        "app/db/users.py": "from .client import VectorStore\n",
        "app/search/__init__.py": "",
        "app/search/qdrant.py": HELPER,
        "app/search/views.py": "from .qdrant import get_client as gc\nfrom . import qdrant as q\n",
    }
    repo = make_repo(tmp_path / "r", files)
    report = consolidate_clients(repo, test_command=NO_TESTS, import_check=False)
    assert report.status == "ok", report.summary_lines()
    assert report.files_removed == ["app/search/qdrant.py"]
    views = (repo / "app/search/views.py").read_text()
    assert views == "from ..db.client import get_client as gc\nfrom ..db import client as q\n"


def test_local_qdrant_client_shadow_is_never_canonical(tmp_path: Path) -> None:
    files = {
        "tools/qdrant_client.py": HELPER,  # shadows the package for tools/*
        "tools/load.py": "from qdrant_client import get_client, QdrantClient\n",
        "lib/__init__.py": "",
        "lib/store.py": HELPER,
    }
    repo = make_repo(tmp_path / "r", files)
    index = RepoIndex.build(repo)
    assert index.imports_of("tools/load.py")[0].local_path == "tools/qdrant_client.py"
    report = consolidate_clients(repo, test_command=NO_TESTS, import_check=False)
    assert report.shadowing == ["tools/qdrant_client.py"]
    assert report.groups[0].canonical == "lib/store.py"
    assert report.files_removed == ["tools/qdrant_client.py"]
    # the real package's names stay with the real package; the helper's come from the canonical
    assert (repo / "tools/load.py").read_text() == (
        "from qdrant_client import QdrantClient\nfrom lib.store import get_client\n"
    )


def test_missing_name_blocks_then_merge_missing_copies_it(tmp_path: Path) -> None:
    extended = HELPER + (
        "\n\ndef ensure_collection(name, size=DEFAULT_SIZE):\n"
        "    return get_client().recreate_collection(name, size)\n"
    )
    extended = extended.replace("from qdrant_client import QdrantClient\n",
                                "from qdrant_client import QdrantClient\nfrom os import environ\n")
    extended = extended.replace('DEFAULT_URL = "http://localhost:6333"\n',
                                'DEFAULT_URL = "http://localhost:6333"\nDEFAULT_SIZE = int(environ.get("SIZE", "4"))\n')
    files = {
        "core/__init__.py": "",
        "core/qdrant.py": HELPER,
        "core/a.py": "from core.qdrant import get_client\n",
        "core/b.py": "from core.qdrant import VectorStore\n",
        "etl/__init__.py": "",
        "etl/qdrant.py": extended,
        "etl/load.py": "from etl.qdrant import ensure_collection, get_client\n",
    }
    repo = make_repo(tmp_path / "r", files)
    before = snapshot(repo)
    report = consolidate_clients(repo, test_command=NO_TESTS, import_check=False)
    assert report.decisions[0].blocked and "ensure_collection (etl/load.py:1)" in report.blocked[0]
    assert report.files_removed == [] and snapshot(repo) == before
    report = consolidate_clients(repo, test_command=NO_TESTS, import_check=False, merge_missing=True)
    assert report.status == "ok", report.summary_lines()
    assert report.decisions[0].merged == ["ensure_collection"]
    merged = (repo / "core/qdrant.py").read_text()
    assert "def ensure_collection(name, size=DEFAULT_SIZE):" in merged
    assert "from os import environ\n" in merged and "DEFAULT_SIZE = int(" in merged
    # the canonical module's own text is kept as it was; the import goes after its imports
    assert merged.replace("from os import environ\n", "", 1).startswith(HELPER)
    assert (repo / "etl/load.py").read_text() == "from core.qdrant import ensure_collection, get_client\n"
    compile(merged, "core/qdrant.py", "exec")


# Runs the fixture repository's own test suite before and after: over 10 s, so `make test-slow`.
@pytest.mark.slow
def test_breaking_change_is_reverted_byte_for_byte(tmp_path: Path) -> None:
    files = {
        "core/__init__.py": "",
        "core/qdrant.py": HELPER + "\n\ndef collection():\n    return 'core'\n",
        "core/a.py": "from core.qdrant import get_client\n",
        "svc/__init__.py": "",
        # near-duplicate whose behaviour differs
        "svc/qdrant.py": HELPER + "\n\ndef collection():\n    return 'svc'\n",
        "svc/use.py": "from svc.qdrant import collection\n",
        "tests/test_svc.py": (
            "from svc.use import collection\n\n\n"
            "def test_tag():\n    assert collection() == 'svc'\n\n\n"
            "def test_already_broken():\n    assert 1 == 2\n"
        ),
    }
    repo = make_repo(tmp_path / "r", files)
    (repo / "svc/use.py").write_text("from svc.qdrant import collection  # local edit\n")  # uncommitted
    (repo / "notes.txt").write_text("untracked\n")
    status = git(repo, "status", "--porcelain")
    before = snapshot(repo)
    report = consolidate_clients(repo, test_command=f"{sys.executable} -m pytest -q -p no:cacheprovider")
    assert report.status == "failed" and report.reverted
    assert report.newly_failing == ["tests/test_svc.py::test_tag"]
    assert report.before is not None and report.before.tests is not None
    assert report.before.tests.failed == ["tests/test_svc.py::test_already_broken", ]
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == status
    # the backup kept the uncommitted edit and the untracked file
    assert report.backup is not None
    assert git(repo, "show", f"{report.backup.location}:svc/use.py").endswith("# local edit\n")
    assert git(repo, "show", f"{report.backup.location}:notes.txt") == "untracked\n"


def test_requests_based_qdrant_client_is_left_alone(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "",
        "a/qdrant_client_http.py": REQUESTS_CLIENT,
        "b/__init__.py": "",
        "b/qdrant_client_http.py": REQUESTS_CLIENT,
        "b/use.py": "from b.qdrant_client_http import QdrantClient\n",
    }
    repo = make_repo(tmp_path / "r", files)
    before = snapshot(repo)
    report = consolidate_clients(repo, test_command=NO_TESTS, import_check=False)
    assert report.groups == [] and report.lookalikes == ["a/qdrant_client_http.py", "b/qdrant_client_http.py"]
    assert snapshot(repo) == before


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", base_files())
    (repo / "pkg_a/api.py").write_text("from .qdrant_helper import get_client  # dirty\n")
    before = snapshot(repo)
    refs = git(repo, "for-each-ref")
    report = consolidate_clients(repo, dry_run=True)
    assert report.status == "dry-run"
    assert "--- a/pkg_b/qdrant_helper.py\n+++ /dev/null" in report.diff
    assert '+    with mock.patch("pkg_a.qdrant_helper.get_client") as fake:' in report.diff
    assert snapshot(repo) == before and git(repo, "for-each-ref") == refs
    assert not list(repo.rglob("__pycache__"))


def test_outside_git_backup_is_a_tarball(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", base_files(), commit=False)
    before = snapshot(repo)
    report = consolidate_clients(repo, test_command=NO_TESTS, import_check=False, backup_dir=tmp_path / "bk")
    assert report.status == "ok" and report.backup is not None and report.backup.kind == "tar.gz"
    assert not (repo / "pkg_b/qdrant_helper.py").exists()
    restore_consolidation(repo, report.backup.location)
    assert snapshot(repo) == before


def test_empty_package_is_removed(tmp_path: Path) -> None:
    files = base_files()
    files["old_pkg/__init__.py"] = '"""Old helpers."""\n'
    files["old_pkg/helper.py"] = HELPER
    repo = make_repo(tmp_path / "r", files)
    report = consolidate_clients(repo, test_command=NO_TESTS, import_check=False)
    assert "old_pkg/__init__.py" in report.files_removed
    assert not (repo / "old_pkg").exists()


@pytest.mark.parametrize("canonical", ["pkg_b.qdrant_helper", "pkg_b/qdrant_helper.py"])
def test_canonical_flag_wins(tmp_path: Path, canonical: str) -> None:
    repo = make_repo(tmp_path / "r", base_files())
    report = consolidate_clients(repo, canonical=[canonical], dry_run=True)
    assert report.groups[0].canonical == "pkg_b/qdrant_helper.py"
    assert report.groups[0].reason == "chosen with --canonical"
    assert report.files_removed == ["pkg_a/qdrant_helper.py"]
