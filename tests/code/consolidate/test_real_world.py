"""consolidate-clients on the patterns of real repositories (docs/real-world.md), each rebuilt as a
synthetic fixture: a local ``qdrant_client.py`` beside a twin, namespace folders, a shadow with no
twin, thin delegating wrappers, ``--canonical`` and the checks' honesty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixture_repos import make_repo, snapshot
from qdrant_ops.cli import app
from qdrant_ops.code.consolidate.checks import interpreter, run_tests
from qdrant_ops.code.consolidate.run import consolidate_clients, restore_consolidation
from qdrant_ops.code.index import RepoIndex

runner = CliRunner()

SINGLETON = 'from qdrant_client import QdrantClient\nclient = QdrantClient(host="localhost", port=6333)\n'

SHADOW_FACTORY = '''from qdrant_client import QdrantClient
from qdrant_client.http.models import VectorParams, Distance

def get_qdrant_client(host='localhost', port=6333, api_key=None):
    client = QdrantClient(url=f'http://{host}:{port}', api_key=api_key)
    name = 'trend_terms'
    if name not in [c.name for c in client.get_collections().collections]:
        client.recreate_collection(
            collection_name=name,
            vectors_config=VectorParams(size=768, distance=Distance.COSINE)
        )
    return client, name
'''

# the same factory rewritten by hand: a near-duplicate (scores 0.67 against SHADOW_FACTORY)
UTILS_FACTORY = '''# helpers for the dashboard
from qdrant_client import QdrantClient
from qdrant_client.http.models import VectorParams, Distance

def get_qdrant_client(host='localhost', port=6333, api_key=None):
    client = QdrantClient(url=f"http://{host}:{port}", api_key=api_key)
    collection_name = 'trend_terms'
    existing = [c.name for c in client.get_collections().collections]
    if collection_name not in existing:
        client.recreate_collection(
            collection_name=collection_name,
            vectors_config=VectorParams(
                size=768,
                distance=Distance.COSINE
            )
        )
    return client, collection_name
'''


def imports(repo: Path, *modules: str) -> dict[str, str | None]:
    """Import each module in a fresh interpreter run from ``repo`` (the real qdrant_client is
    installed in this environment): ``{module: error or None}``."""
    code = (
        "import importlib, json, sys\nout = {}\n"
        "for m in sys.argv[1:]:\n"
        "    try:\n        importlib.import_module(m); out[m] = None\n"
        "    except Exception as e:\n        out[m] = type(e).__name__ + ': ' + str(e)\n"
        "print(json.dumps(out))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(repo)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run([sys.executable, "-c", code, *modules], cwd=repo, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- the owners' fix: a shadow with a twin ---------------------------------------------------------


def _namespace_twin(tmp_path: Path) -> Path:
    """A root qdrant_client.py byte-identical to a module of a namespace folder (no __init__.py)
    that does not shadow; the folder's modules mean the installed package."""
    return make_repo(tmp_path / "r", {
        "qdrant_client.py": SINGLETON,
        "service/qdrant_singleton.py": SINGLETON,
        "service/call_ai.py": "from qdrant_client import QdrantClient\n\n\ndef search(c: QdrantClient):\n    return c\n",
        "app.py": "from service.call_ai import search\nfrom service.qdrant_singleton import client\n",
    })


def test_shadow_with_identical_twin_ends_as_the_owners_fixed_it(tmp_path: Path) -> None:
    repo = _namespace_twin(tmp_path)
    broken = imports(repo, "service.call_ai", "service.qdrant_singleton", "app")
    assert all(err and "QdrantClient" in err for err in broken.values()), broken
    idx = RepoIndex.build(repo)
    ref = idx.imports_of("service/call_ai.py")[0]
    # it means the package: no importer of the local file, but the file that breaks it is named
    assert ref.local_path is None and ref.shadowed_by == "qdrant_client.py"
    assert idx.importers_of("qdrant_client.py") == []
    # the package is what it needs installed
    assert idx.top_level_imports("service/call_ai.py") == {"qdrant_client"}
    assert sorted((f, r.lineno) for f, r in idx.shadowed_importers("qdrant_client.py")) == [
        ("service/call_ai.py", 1), ("service/qdrant_singleton.py", 1)]
    listing = consolidate_clients(repo, list_only=True)
    assert [(m.path, m.role) for m in listing.groups[0].members] == [
        ("service/qdrant_singleton.py", "canonical"), ("qdrant_client.py", "identical")]
    assert "service/call_ai.py:1" in listing.shadow_notes["qdrant_client.py"]
    report = consolidate_clients(repo, test_command=None)
    assert report.status == "ok", report.summary_lines()
    assert report.files_removed == ["qdrant_client.py"]
    assert not (repo / "qdrant_client.py").exists()
    # the tool's own import check covered the modules the shadow broke
    assert report.before is not None and report.before.import_errors["service.call_ai"]
    assert report.after is not None and report.after.import_errors["service.call_ai"] is None
    assert "(service.call_ai, service.qdrant_singleton failed before the change)" in report.checks[-1].detail
    assert report.checks[-1].passed and not report.checks[-1].inconclusive
    assert imports(repo, "service.call_ai", "service.qdrant_singleton", "app") == {
        "service.call_ai": None, "service.qdrant_singleton": None, "app": None}


def test_shadow_with_near_duplicate_twin_is_removed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "qdrant_client.py": SHADOW_FACTORY,
        "qdrant_utils.py": UTILS_FACTORY,
        "dashboard.py": "from qdrant_utils import get_qdrant_client\n\nCLIENT = get_qdrant_client\n",
    })
    assert imports(repo, "qdrant_utils")["qdrant_utils"]
    before = snapshot(repo)
    listing = consolidate_clients(repo, list_only=True)
    g = listing.groups[0]
    assert g.canonical == "qdrant_utils.py"
    dup = next(m for m in g.members if m.path == "qdrant_client.py")
    assert dup.role == "near-duplicate" and 0.6 <= dup.score < 0.9
    result = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--no-tests"])
    assert result.exit_code == 0, result.output
    assert not (repo / "qdrant_client.py").exists()
    assert imports(repo, "qdrant_utils", "dashboard") == {"qdrant_utils": None, "dashboard": None}
    ref = next(line for line in result.output.splitlines() if "undo with:" in line).split("--restore ")[1]
    restore_consolidation(repo, ref.strip())
    assert snapshot(repo) == before


# -- item 5: import resolution as Python does it -----------------------------------------------


def test_namespace_module_code_does_not_see_its_folder(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "pkg/core/store.py": SINGLETON,
        "pkg/data/qdrant_client.py": "from pkg.core.store import client\n",
        "pkg/data/mod.py": "from qdrant_client import QdrantClient\n",
        "pkg/data/tool.py": "from qdrant_client import client\n\nif __name__ == '__main__':\n    print(client)\n",
        "pkg/api.py": "from pkg.core.store import client\n",
        "pkg/data/helper.py": "X = 1\n",
        "pkg/data/json.py": "X = 2\n",
        "pkg/data/uses_helper.py": "from helper import X\nimport json\n",
    }, commit=False)
    idx = RepoIndex.build(repo)
    assert idx.is_module_code("pkg/data/mod.py") and not idx.is_module_code("pkg/data/tool.py")
    # imported as pkg.data.mod, its folder is not on sys.path: the installed package
    assert idx.imports_of("pkg/data/mod.py")[0].local_path is None
    assert idx.imports_of("pkg/data/mod.py")[0].shadowed_by is None
    # run as a script, its own folder comes first: the local file
    assert idx.imports_of("pkg/data/tool.py")[0].local_path == "pkg/data/qdrant_client.py"
    # a bare import only the folder could provide still resolves there (conservative for cleanup);
    # a standard-library name never does
    assert idx.imports_of("pkg/data/uses_helper.py")[0].local_path == "pkg/data/helper.py"
    assert idx.imports_of("pkg/data/uses_helper.py")[1].local_path is None
    report = consolidate_clients(repo, list_only=True)
    assert report.shadowing == ["pkg/data/qdrant_client.py"]
    assert "pkg/data/tool.py:1" in report.shadow_notes["pkg/data/qdrant_client.py"]
    assert "mod.py" not in report.shadow_notes["pkg/data/qdrant_client.py"]


def test_qdrant_client_py_nothing_resolves_to_is_not_a_shadow(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "backend/core/__init__.py": "",
        "backend/core/database/__init__.py": "from .qdrant_client import qdrant\n",
        "backend/core/database/qdrant_client.py": (
            "from qdrant_client import AsyncQdrantClient\n\nqdrant = AsyncQdrantClient(url='http://q')\n"),
        "backend/core/factory.py": "from core.database import qdrant\n",
        "backend/app/repo.py": "from qdrant_client import AsyncQdrantClient, models\n",
    }, commit=False)
    report = consolidate_clients(repo, list_only=True)
    assert report.shadowing == []
    assert not any("shadows" in line for line in report.listing_lines())


def test_unparsable_shadow_is_still_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "qdrant_client.py": "class QdrantClient:\n    def search(self:\n        pass\n",
        "main.py": "from qdrant_client import QdrantClient\n\nQdrantClient()\n",
    }, commit=False)
    report = consolidate_clients(repo, list_only=True)
    assert report.shadowing == ["qdrant_client.py"]
    assert "does not parse" in report.shadow_notes["qdrant_client.py"]
    assert any(line.startswith("shadows the qdrant_client package") and "main.py:1" in line
               for line in report.listing_lines())
    # renamed, it would still not compile: no rename is proposed, and the real run changes nothing
    assert report.renames == []
    assert consolidate_clients(repo, test_command=None).status == "ok"
    assert (repo / "qdrant_client.py").is_file() and not (repo / "qdrant_utils.py").exists()


# -- item 6: a shadow with no twin is renamed; thin wrappers are shims --------------------------


def _no_twin(tmp_path: Path, commit: bool = True) -> Path:
    return make_repo(tmp_path / "r", {
        "qdrant_client.py": (
            "from qdrant_client import QdrantClient\n\n\n"
            "def ensure_collection(name):\n    return QdrantClient(url='http://x'), name\n\n\n"
            "def get_qdrant_stats():\n    return {}\n"
        ),
        "main.py": "from qdrant_client import ensure_collection, get_qdrant_stats\n\nSTATS = get_qdrant_stats\n",
        "Makefile": "check:\n\tpython qdrant_client.py\n",
        "pkg/__init__.py": "",
        "pkg/qdrant_client.py": "def helper():\n    return 1\n",
        "pkg/use.py": "from .qdrant_client import helper\nfrom qdrant_client import QdrantClient\n",
    }, commit=commit)


def test_shadow_without_twin_is_renamed_with_its_importers(tmp_path: Path) -> None:
    repo = _no_twin(tmp_path)
    assert imports(repo, "main")["main"]
    before = snapshot(repo)
    dry = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "--- /dev/null\n+++ b/qdrant_utils.py" in dry.output
    assert "+from qdrant_utils import ensure_collection, get_qdrant_stats" in dry.output
    assert "+\tpython qdrant_utils.py" in dry.output
    # pkg/qdrant_client.py is pkg.qdrant_client: nothing loads it for the package, so it stays
    assert "pkg/" not in dry.output
    assert snapshot(repo) == before
    listing = consolidate_clients(repo, list_only=True)
    assert [(r.old, r.new) for r in listing.renames] == [("qdrant_client.py", "qdrant_utils.py")]
    assert "shadows the installed qdrant_client package" in listing.renames[0].reason
    report = consolidate_clients(repo, test_command=None)
    assert report.status == "ok", report.summary_lines()
    assert (repo / "qdrant_utils.py").read_text().startswith("from qdrant_client import QdrantClient\n")
    assert not (repo / "qdrant_client.py").exists()
    assert imports(repo, "main") == {"main": None}
    # pkg/use.py means the package too: the root file broke it, and it imports after
    assert report.after is not None and report.after.import_errors == {"main": None, "pkg.use": None}
    assert report.before is not None and report.before.import_errors["pkg.use"]
    assert report.backup is not None
    restore_consolidation(repo, report.backup.location)
    assert snapshot(repo) == before


def test_relative_import_of_a_renamed_shadow_stays_relative(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "__init__.py": "from .qdrant_client import VectorDBClient\n",
        "qdrant_client.py": "from qdrant_client.http import models\n\n\nclass VectorDBClient:\n    m = models\n",
        "app.py": "from qdrant_client import QdrantClient\n",
    }, commit=False)
    report = consolidate_clients(repo, dry_run=True)
    assert "+from .qdrant_utils import VectorDBClient" in report.diff


def test_only_byte_compilation_is_inconclusive(tmp_path: Path) -> None:
    # a qdrant_client.py nothing imports, which imports the package itself: renamed, but no test
    # and no module to import can show the change kept anything working
    repo = make_repo(tmp_path / "r", {
        "qdrant_client.py": "from qdrant_client import QdrantClient\n\nclient = QdrantClient(':memory:')\n",
    })
    report = consolidate_clients(repo, test_command=None)
    assert [(r.old, r.new) for r in report.renames] == [("qdrant_client.py", "qdrant_utils.py")]
    check = report.checks[-1]
    assert check.inconclusive and "only byte-compilation could run" in check.detail


def test_renamed_shadow_restores_from_a_tar_backup(tmp_path: Path) -> None:
    repo = _no_twin(tmp_path, commit=False)
    before = snapshot(repo)
    report = consolidate_clients(repo, test_command=None, backup_dir=tmp_path / "bk")
    assert report.backup is not None and report.backup.kind == "tar.gz"
    assert (repo / "qdrant_utils.py").is_file()
    restore_consolidation(repo, report.backup.location)
    assert snapshot(repo) == before


def test_delegating_wrapper_is_a_shim_and_consolidated(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "core/__init__.py": "",
        "core/qdrant.py": (
            "from qdrant_client import QdrantClient\n\nDEFAULT_URL = 'http://localhost:6333'\n\n\n"
            "def get_client(url=DEFAULT_URL, api_key=None):\n"
            "    return QdrantClient(url=url, api_key=api_key)\n"
        ),
        "vector_db.py": "from core.qdrant import get_client\n\n\ndef make_client():\n    return get_client()\n",
        "ingest.py": "from vector_db import make_client\n\nCLIENT = make_client\n",
        "serve.py": "from core.qdrant import get_client\n",
        "compat.py": "from core.qdrant import get_client\n\nconnect = get_client\n",
        "worker.py": "from compat import connect\n",
        # a constant taken from the client module is data, not a wrapper
        "settings.py": "from core.qdrant import DEFAULT_URL\n\nURL = DEFAULT_URL\n",
        "job.py": "from settings import URL\n",
        # a handler nothing imports is an entry point, not a shim
        "api.py": "from core.qdrant import get_client\n\n\ndef handler():\n    return get_client()\n",
    })
    listing = consolidate_clients(repo, list_only=True)
    assert [(m.path, m.role) for m in listing.groups[0].members] == [
        ("core/qdrant.py", "canonical"), ("compat.py", "shim"), ("vector_db.py", "shim")]
    report = consolidate_clients(repo, test_command=None)
    assert report.status == "ok", report.summary_lines()
    assert report.files_removed == ["compat.py", "vector_db.py"]
    assert (repo / "worker.py").read_text() == "from core.qdrant import get_client as connect\n"
    assert (repo / "ingest.py").read_text() == (
        "from core.qdrant import get_client as make_client\n\nCLIENT = make_client\n")
    assert (repo / "api.py").is_file()
    assert imports(repo, "ingest") == {"ingest": None}


# -- item 7: honest checks ---------------------------------------------------------------------


def test_canonical_that_cannot_be_one_exits_2_with_the_reason(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "qdrant_client.py": SHADOW_FACTORY,
        "qdrant_utils.py": UTILS_FACTORY,
        "dashboard.py": "from qdrant_utils import get_qdrant_client\n",
        "README.md": "# app\n",
    })
    cases = {
        "README.md": "not a Python module",
        "dashboard.py": "not a Qdrant client module",
        "qdrant_client.py": "shadows the qdrant_client package",
        "nothing_here.py": "not a module or file of this repository",
    }
    for value, why in cases.items():
        result = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--dry-run", "--canonical", value])
        assert result.exit_code == 2, (value, result.output)
        assert why in result.output, (value, result.output)
        assert "Traceback" not in result.output
    ok = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--list", "--canonical", "qdrant_utils"])
    assert ok.exit_code == 0 and "chosen with --canonical" in ok.output


def test_python_option_and_the_projects_own_environment(tmp_path: Path) -> None:
    repo = _namespace_twin(tmp_path)
    bad = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--no-tests", "--python", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "not an executable file" in bad.output
    good = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--no-tests", "--python", sys.executable])
    assert good.exit_code == 0, good.output
    assert f"checks ran on {sys.executable} (--python)" in good.output
    plain = tmp_path / "plain"
    plain.mkdir()
    assert interpreter(plain)[1].startswith("the interpreter qdrant-ops runs on")
    for env_dir, label in ((".venv", "environment .venv/"), (".tox/py311", "tox environment .tox/py311")):
        proj = tmp_path / env_dir.replace("/", "_")
        (proj / env_dir / "bin").mkdir(parents=True)
        (proj / env_dir / "pyvenv.cfg").write_text("home = /usr\n")
        (proj / env_dir / "bin" / "python").symlink_to(sys.executable)
        python, where = interpreter(proj)
        assert python == str(proj / env_dir / "bin" / "python") and label in where
    (tmp_path / ".venv" / "uv.lock").write_text("version = 1\n")
    assert "uv environment .venv/" in interpreter(tmp_path / ".venv")[1]


def test_poetry_environment_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "cache" / "proj-py3.11"
    (env / "bin").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /usr\n")
    (env / "bin" / "python").symlink_to(sys.executable)
    tools = tmp_path / "tools"
    tools.mkdir()
    poetry = tools / "poetry"
    poetry.write_text(f"#!/bin/sh\n[ \"$1 $2 $3\" = 'env info -p' ] && echo {env}\n")
    poetry.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text("[tool.poetry]\nname = 'x'\n")
    python, where = interpreter(proj)
    assert python == str(env / "bin" / "python") and where == f"the project's Poetry environment {env}"


def _twin_with_tests(tmp_path: Path, test_file: str, extra: dict[str, str] | None = None) -> Path:
    helper = "from qdrant_client import QdrantClient\n\n\ndef get_client():\n    return QdrantClient(url='http://x')\n"
    files = {
        "svc/__init__.py": "", "svc/qdrant_helper.py": helper, "svc/api.py": "from svc.qdrant_helper import get_client\n",
        "jobs/__init__.py": "", "jobs/qdrant_helper.py": helper,
        "jobs/nightly.py": "from jobs.qdrant_helper import get_client\n",
        "tests/test_a.py": test_file,
    }
    files.update(extra or {})
    return make_repo(tmp_path / "r", files)


def test_baseline_that_cannot_collect_is_inconclusive_never_pass(tmp_path: Path) -> None:
    repo = _twin_with_tests(tmp_path, "import not_installed_pkg_xyz\n\n\ndef test_a():\n    pass\n")
    report = consolidate_clients(repo, python=sys.executable, test_timeout=120)
    check = report.checks[-1]
    assert check.inconclusive and not check.passed
    assert "could not collect (exit 2)" in check.detail
    assert report.status == "ok"
    assert "| consolidation keeps what worked | inconclusive |" in report.to_markdown()
    assert any(line.startswith("  INCONCLUSIVE") for line in report.summary_lines())


def test_counts_come_from_the_runners_summary_when_stderr_follows(tmp_path: Path) -> None:
    conftest = (
        "import atexit, sys\n\n"
        "atexit.register(lambda: sys.stderr.write('DeprecationWarning: late\\nmore\\n' * 15))\n"
    )
    repo = _twin_with_tests(tmp_path, "def test_a():\n    pass\n\n\ndef test_b():\n    pass\n",
                            {"tests/conftest.py": conftest})
    run = run_tests(repo, "python -m pytest -q", [""], sys.executable, 120)
    assert run.exit_code == 0 and run.counts == {"passed": 2}
    unit = tmp_path / "u"
    (unit / "tests").mkdir(parents=True)
    (unit / "tests" / "test_u.py").write_text(
        "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_x(self):\n        pass\n")
    urun = run_tests(unit, "python -m unittest discover -s tests", [""], sys.executable, 120)
    assert urun.counts == {"passed": 1, "failed": 0}


def test_report_json_names_the_shadow_and_why(tmp_path: Path) -> None:
    repo = _namespace_twin(tmp_path)
    out = tmp_path / "rep"
    result = runner.invoke(app, ["consolidate-clients", "--repo", str(repo), "--list", "--report", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "rep.json").read_text())
    assert data["shadowing"] == ["qdrant_client.py"]
    assert "mean the installed package" in data["shadow_notes"]["qdrant_client.py"]
