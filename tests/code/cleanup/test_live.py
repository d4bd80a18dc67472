"""cleanup-legacy on the patterns real repositories showed: live code is never archived.

Every repository here is synthetic, written for the pattern it reproduces (issue 24's corpus:
an app started by ``module:attr``, ``--detect`` proposing scripts commands run, a refused script
dragging its imports along, commands run from a sub-directory, a shadowing ``qdrant_client.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from demo.repo import write_files
from legacy_fixtures import git, snapshot
from qdrant_ops.cli import app
from qdrant_ops.code.check_legacy import check_legacy
from qdrant_ops.code.cleanup.run import cleanup_legacy
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.errors import UsageError
from qdrant_ops.runbook.model import CheckLegacyConfig

ARCH = "legacy/python-scripts"
QDRANT_MAIN = (
    "from qdrant_client import QdrantClient\n\n"
    "if __name__ == '__main__':\n    QdrantClient(url='http://localhost:6333').get_collections()\n"
)


def make(root: Path, files: dict[str, str], *, commit: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, files)
    if commit:
        git(root, "init", "-q")
        git(root, "config", "commit.gpgsign", "false")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "fixture")
    return root


def run(repo: Path, *scripts: str, **kw: Any) -> Any:
    return cleanup_legacy(CleanupConfig(repo=str(repo), scripts=list(scripts), **kw))


# -- item 1: an application started by ``module:attr`` is live ---------------------------------

SERVED = {  # a FastAPI app in a subfolder, started by a Dockerfile in another one (WORKDIR mapped)
    "backend/core/__init__.py": "",
    "backend/api/__init__.py": "",
    "backend/core/server.py": (
        "from fastapi import FastAPI\nfrom api.routes import router\n\n"
        "def build():\n    app = FastAPI()\n    app.include_router(router)\n    return app\n\napp = build()\n"),
    "backend/api/routes.py": "import semver\nfrom fastapi import APIRouter\n\nrouter = APIRouter()\n",
    "backend/main.py": (
        "import click\nimport uvicorn\n\n@click.command()\ndef serve():\n"
        "    uvicorn.run(\"core.server:app\")\n\nif __name__ == '__main__':\n    serve()\n"),
    "backend/seed.py": "import numpy\nfrom qdrant_client import QdrantClient\n" + QDRANT_MAIN,
    "backend/requirements.txt": "fastapi\nuvicorn\nclick\nsemver\nnumpy\nqdrant-client\n",
    "docker/Dockerfile": ("FROM python:3.11\nCOPY ./backend/ /srv/\nWORKDIR /srv\n"
                          "CMD [\"uvicorn\", \"core.server:app\", \"--port\", \"9010\"]\n"),
}


def test_an_app_started_by_a_dockerfile_is_never_archived_nor_its_helpers_or_requirements(
        tmp_path: Path) -> None:
    repo = make(tmp_path / "r", SERVED, commit=True)
    report = run(repo, "backend/main.py", "backend/core/server.py", "backend/seed.py")
    assert {m.source for m in report.moved} == {"backend/main.py", "backend/seed.py"}
    assert (repo / "backend/core/server.py").is_file() and (repo / "backend/api/routes.py").is_file()
    refused = {p.path: p.reason for p in report.unhandled}
    assert "started by docker/Dockerfile:4 (`core.server:app`, run in backend/)" in refused["backend/core/server.py"]
    reqs = (repo / "backend/requirements.txt").read_text()
    assert "fastapi" in reqs and "semver" in reqs and "uvicorn" in reqs  # the app still needs them
    assert "numpy" not in reqs  # only the seed script, which left, used it
    assert check_legacy(CheckLegacyConfig(repo=str(repo))).status == "ok"


def test_every_named_script_refused_is_exit_2_with_one_line(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", SERVED)
    before = snapshot(repo)
    with pytest.raises(UsageError, match="every named script was refused"):
        run(repo, "backend/core/server.py")
    with pytest.raises(UsageError, match="every named script was refused"):
        run(repo, "backend/core/server.py", detect=True)  # named and detected: still nothing done
    assert run(repo, "backend/core/server.py", dry_run=True, force=True).moved  # --force archives
    result = CliRunner().invoke(app, ["cleanup-legacy", "--repo", str(repo), "backend/core/server.py"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "backend/core/server.py: an application entry point: started by " in result.stderr
    assert "started by docker/Dockerfile:4 (`core.server:app`, run in backend/)" in result.stderr
    assert snapshot(repo) == before


@pytest.mark.parametrize(
    ("rel", "text", "where"),
    [
        ("Makefile", "serve:\n\tuvicorn web.api:app --reload\n", "Makefile:2"),
        ("run.sh", "#!/bin/sh\nexec gunicorn -w 4 web.api:app\n", "run.sh:2"),
        ("start.ps1", "hypercorn web.api:app --bind 0.0.0.0:8000\r\n", "start.ps1:1"),
        ("start.bat", "@echo off\r\ndaphne web.api:app\r\n", "start.bat:2"),
        (".github/workflows/ci.yml", "jobs:\n  a:\n    steps:\n      - run: uvicorn web.api:app &\n",
         ".github/workflows/ci.yml:4"),
        ("Dockerfile", 'FROM python\nCOPY . /app\nWORKDIR /app\nENTRYPOINT ["gunicorn", "web.api:app"]\n',
         "Dockerfile:4"),
        ("docker-compose.yml", "services:\n  api:\n    command: uvicorn web.api:app --host 0.0.0.0\n",
         "docker-compose.yml:3"),
        ("Procfile", "web: gunicorn -k uvicorn.workers.UvicornWorker web.api:app\n", "Procfile:1"),
        ("package.json", '{"scripts": {"api": "uvicorn web.api:app --port 8000"}}\n', "package.json:1"),
        ("deploy/api.service", "[Service]\nExecStart=/opt/venv/bin/uvicorn web.api:app\n",
         "deploy/api.service:2"),
        ("tox.ini", "[testenv:serve]\ncommands = uvicorn web.api:app\n", "tox.ini:2"),
        ("worker.sh", "celery -A web.api worker --loglevel info\n", "worker.sh:1"),
        (".flaskenv", "FLASK_APP=web.api\n", ".flaskenv:1"),
        ("README.md", "Start it with `uvicorn web.api:app`.\n", "README.md:1"),
        ("Dockerfile", 'COPY . /app\nWORKDIR /app\nCMD ["streamlit", "run", "web/api.py"]\n', "Dockerfile:3"),
        ("web/Makefile", "dev:\n\tfastapi dev --port 8001 api.py\n", "web/Makefile:2"),
    ],
)
def test_module_attr_starts_are_found_in_every_kind_of_command_file(
        tmp_path: Path, rel: str, text: str, where: str) -> None:
    repo = make(tmp_path / "r", {
        "web/__init__.py": "", "web/api.py": "def app(environ, start):\n    return []\n", rel: text})
    with pytest.raises(UsageError, match=f"started by {where} "):
        run(repo, "web/api.py", dry_run=True)


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"pyproject.toml": '[project]\nname = "p"\n[project.scripts]\nweb = "web.api:main"\n'},
         "a packaging entry point (pyproject.toml:4"),
        ({"pyproject.toml": '[tool.poetry]\nname = "p"\n[tool.poetry.scripts]\nweb = "web.api:main"\n'},
         "a packaging entry point (pyproject.toml:4"),
        ({"web/api.py": "from flask import Flask\n\napp = Flask(__name__)\n"},
         "builds an application object (Flask() at line 3)"),
    ],
)
def test_packaging_entry_points_and_app_builders_are_entry_points(
        tmp_path: Path, files: dict[str, str], why: str) -> None:
    repo = make(tmp_path / "r", {"web/__init__.py": "", "web/api.py": "def main():\n    pass\n",
                                 "tools/once.py": QDRANT_MAIN, **files})
    report = run(repo, "web/api.py", "tools/once.py", dry_run=True)
    assert [m.source for m in report.moved] == ["tools/once.py"]
    assert any(p.path == "web/api.py" and why in p.reason for p in report.unhandled)


def test_force_archives_an_entry_point_and_reports_every_start_of_it(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", {
        "agents/__init__.py": "", "agents/demo.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "Makefile": "serve:\n\tuvicorn agents.demo:app --port 8000\n",
        "Procfile": "web: gunicorn agents.demo:app\n"}, commit=True)
    report = run(repo, "agents/demo.py", force=True)
    assert [m.source for m in report.moved] == ["agents/demo.py"]
    starts = {(r.file, r.line, r.action) for r in report.references if r.kind == "entry-point"}
    assert starts == {("Makefile", 2, "unhandled"), ("Procfile", 1, "unhandled")}
    found = check_legacy(CheckLegacyConfig(repo=str(repo)))
    assert found.status == "failed"
    assert {(f.file, f.line, f.kind) for f in found.findings} == {
        ("Makefile", 2, "archived entry point"), ("Procfile", 1, "archived entry point")}


# -- item 2: helpers move only when nothing live needs them ------------------------------------

def test_a_refused_script_keeps_what_it_imports(tmp_path: Path) -> None:
    # app/ has no __init__.py: a namespace package, as in the corpus
    repo = make(tmp_path / "r", {
        "app/main.py": "from fastapi import FastAPI\nfrom app.ingestion import ingest\napp = FastAPI()\n",
        "app/ingestion.py": "from app.registry import register\n\ndef ingest(x):\n    return register(x)\n",
        "app/registry.py": "def register(x):\n    return x\n",
        "tools/old.py": "from app.registry import register\n" + QDRANT_MAIN,
    })
    report = run(repo, "app/ingestion.py", "app/registry.py", "tools/old.py")
    assert [m.source for m in report.moved] == ["tools/old.py"]
    assert (repo / "app/registry.py").is_file() and (repo / "app/ingestion.py").is_file()
    reasons = {p.path: p.reason for p in report.unhandled}
    assert "app/main.py:2" in reasons["app/ingestion.py"]
    assert "app/ingestion.py:1" in reasons["app/registry.py"]
    assert report.helpers_kept == []  # refused scripts are not listed again as kept helpers


def test_helpers_that_a_command_runs_or_that_are_entry_points_stay(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", {
        "scripts/old.py": ("import common\nimport web\nimport only_old\nfrom qdrant_client import QdrantClient\n"
                           + QDRANT_MAIN),
        "scripts/common.py": "import yaml\n\ndef load():\n    return yaml\n",
        "scripts/web.py": "from flask import Flask\napp = Flask(__name__)\n",
        "scripts/only_old.py": "import tqdm\n",
        "Makefile": "config:\n\tpython scripts/common.py\n",
        "requirements.txt": "pyyaml\nflask\ntqdm\nqdrant-client\n",
    }, commit=True)
    report = run(repo, "scripts/old.py", dry_run=True)
    assert {m.source: m.kind for m in report.moved} == {"scripts/old.py": "script",
                                                        "scripts/only_old.py": "helper"}
    kept = {h.path: h.reason for h in report.helpers_kept}
    assert kept["scripts/common.py"] == "run by a command that stays: Makefile:2"
    assert kept["scripts/web.py"].startswith("an application entry point: builds an application object")
    assert {r.distribution for r in report.requirements_removed} == {"tqdm", "qdrant-client"}
    plan = "\n".join(report.plan_lines())
    assert "helpers (moved only when nothing that stays needs them):" in plan
    assert "  keep scripts/common.py  [run by a command that stays: Makefile:2]" in plan
    assert "  move (git mv) scripts/only_old.py" in plan


# -- item 3: ``--detect`` knows what is in use -------------------------------------------------

IN_USE = {
    "agents/__init__.py": "",
    "agents/demo.py": ("import uvicorn\nfrom fastapi import FastAPI\nfrom qdrant_client import QdrantClient\n\n"
                       "app = FastAPI()\nclient = QdrantClient(url='http://localhost:6333')\n\n"
                       "if __name__ == '__main__':\n    uvicorn.run(app)\n"),
    "seed.py": QDRANT_MAIN,
    "pipelines/ingest.py": QDRANT_MAIN,
    "jobs/nightly.py": QDRANT_MAIN,
    "tools/one_off.py": QDRANT_MAIN,
    "Makefile": "serve:\n\tuvicorn agents.demo:app --port 8000\nseed:\n\tpython seed.py\n",
    "run.sh": 'case "$1" in\n  seed) python seed.py;;\nesac\n',
    "Procfile": "web: gunicorn -k uvicorn.workers.UvicornWorker agents.demo:app\n",
    "docker-compose.yml": ('services:\n  ingestion:\n    build: .\n'
                           '    command: bash -c "sleep 60 && python pipelines/ingest.py"\n'),
    "package.json": '{"scripts": {"nightly": "python -m jobs.nightly"}}\n',
    "README.md": "Run `python tools/one_off.py` once.\n",
    # a report an earlier run left in the repository records the past: not a command
    "cleanup1.json": '{"schema": "qdrant-ops/cleanup-legacy", "text": "python tools/one_off.py"}\n',
}


def test_detect_marks_candidates_in_use_and_yes_never_selects_them(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", IN_USE, commit=True)
    report = run(repo, detect=True, yes=True)
    found = {c.path: (c.selected, c.reasons[-1]) for c in report.candidates}
    assert found["seed.py"] == (False, "in use (referenced by Makefile:4, run.sh:2)")
    assert found["pipelines/ingest.py"] == (False, "in use (referenced by docker-compose.yml:4)")
    assert found["jobs/nightly.py"] == (False, "in use (referenced by package.json:1)")
    assert found["agents/demo.py"][0] is False
    assert found["agents/demo.py"][1].startswith("in use (an entry point: started by Makefile:2 (`agents.demo:app`)")
    assert found["tools/one_off.py"][0] is True  # documented and reported, but no command runs it
    assert [m.source for m in report.moved] == ["tools/one_off.py"]
    assert (repo / "seed.py").is_file() and (repo / "agents/demo.py").is_file()


# -- item 4: rewrites relative to where the command runs ---------------------------------------

def test_rewrites_follow_the_directory_each_command_runs_in(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", {
        "backend/scripts/__init__.py": "",
        "backend/scripts/loader.py": QDRANT_MAIN,
        "backend/Makefile": ("seed:\n\tpython3 -m scripts.loader\nseed2:\n\tpython3 scripts/loader.py\n"
                             "seed3:\n\tcd .. && python3 backend/scripts/loader.py\n"
                             "seed4:\n\tcd scripts && python3 loader.py\n"),
        ".github/workflows/seed.yml": ("jobs:\n  seed:\n    runs-on: ubuntu-latest\n    steps:\n"
                                       "      - uses: actions/checkout@v4\n"
                                       "      - name: seed\n        working-directory: backend\n"
                                       "        run: python -m scripts.loader\n"
                                       "      - run: python backend/scripts/loader.py\n"),
        ".github/workflows/defaults.yml": ("defaults:\n  run:\n    working-directory: ./backend\n"
                                           "jobs:\n  seed:\n    steps:\n      - run: python -m scripts.loader\n"),
        "backend/bin/seed.sh": '#!/bin/sh\ncd "$(dirname "$0")"\npython ../scripts/loader.py\n',
        "backend/bin/seed2.sh": '#!/bin/sh\ncd "$(dirname "$0")/.."\npython -m scripts.loader\n',
        "backend/bin/seed.ps1": "Set-Location $PSScriptRoot\r\npython ..\\scripts\\loader.py\r\n",
        "backend/bin/seed.bat": "cd /d %~dp0\r\npython ..\\scripts\\loader.py\r\n",
    }, commit=True)
    run(repo, "backend/scripts/loader.py")
    new = f"{ARCH}/backend/scripts/loader.py"
    assert (repo / "backend/Makefile").read_text() == (
        f"seed:\n\tpython3 ../{new}\nseed2:\n\tpython3 ../{new}\n"
        f"seed3:\n\tcd .. && python3 {new}\nseed4:\n\tcd scripts && python3 ../../{new}\n")
    ci = (repo / ".github/workflows/seed.yml").read_text()
    assert f"        run: python ../{new}\n" in ci and f"      - run: python {new}\n" in ci
    assert (repo / ".github/workflows/defaults.yml").read_text().endswith(f"      - run: python ../{new}\n")
    assert (repo / "backend/bin/seed.sh").read_text().endswith(f"python ../../{new}\n")
    assert (repo / "backend/bin/seed2.sh").read_text().endswith(f"python ../{new}\n")  # runs in backend/
    win = "..\\..\\" + new.replace("/", "\\")
    assert (repo / "backend/bin/seed.ps1").read_bytes().decode().endswith(f"python {win}\r\n")
    assert (repo / "backend/bin/seed.bat").read_bytes().decode().endswith(f"python {win}\r\n")


# -- corpus patterns: a shadowing qdrant_client.py, CI files with odd names, Python imports -----

def test_importers_that_mean_the_package_do_not_pin_a_shadowing_qdrant_client(tmp_path: Path) -> None:
    shadow = "from qdrant_client import QdrantClient\nclient = QdrantClient(host='localhost', port=6333)\n"
    repo = make(tmp_path / "r", {
        "qdrant_client.py": shadow,
        "service/qdrant_singleton.py": shadow,
        "service/call_ai.py": "from qdrant_client import QdrantClient\n\ndef search(c: QdrantClient):\n    return c\n",
        "app.py": "from service.call_ai import search\nfrom service.qdrant_singleton import client\n",
    })
    report = run(repo, "qdrant_client.py", dry_run=True)
    assert [m.source for m in report.moved] == ["qdrant_client.py"]
    assert any("shadows the qdrant_client package" in n and "service/call_ai.py:1" in n for n in report.notes)
    (repo / "uses_it.py").write_text("from qdrant_client import ensure_collection\n")
    with pytest.raises(UsageError, match=r"uses_it.py:1"):
        run(repo, "qdrant_client.py", dry_run=True)


def test_cleanup_rewrites_what_check_legacy_would_flag(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", {
        "ingest.py": QDRANT_MAIN,
        ".github/workflows/cron.yml:": "jobs:\n  a:\n    steps:\n      - run: python ingest.py\n",
        "bin/nightly": "#!/bin/sh\npython ingest.py\n",
    }, commit=True)
    report = run(repo, "ingest.py")
    assert {(r.file, r.action) for r in report.references} == {
        (".github/workflows/cron.yml:", "rewritten"), ("bin/nightly", "rewritten")}
    assert check_legacy(CheckLegacyConfig(repo=str(repo))).status == "ok"


def test_check_legacy_finds_python_imports_of_an_archived_module(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", {
        "helper.py": "def f():\n    return 1\n",
        "pkg/jobs/util.py": "def g():\n    return 2\n",
        "pkg/jobs/run.py": "from .util import g\n",
        "pkg/jobs/side.py": "import util\n",
        "elsewhere/other.py": "import util\n",
        "app.py": "from helper import f\nprint(f())\nimport pkg.jobs.util\n",
    }, commit=True)
    run(repo, "helper.py", "pkg/jobs/util.py", force=True)
    found = check_legacy(CheckLegacyConfig(repo=str(repo)))
    assert found.status == "failed"
    assert {(f.file, f.line) for f in found.findings} == {
        ("app.py", 1), ("app.py", 3), ("pkg/jobs/run.py", 1), ("pkg/jobs/side.py", 1)}
    assert {f.kind for f in found.findings} == {"archived module"}


@pytest.mark.parametrize("call", ['uvicorn.run("web.api:app")', 'uvicorn.run(\n    app="web.api:app", port=1)'])
def test_a_python_script_that_starts_a_server_names_an_entry_point(tmp_path: Path, call: str) -> None:
    repo = make(tmp_path / "r", {"web/__init__.py": "", "web/api.py": "def app(): ...\n",
                                 "serve.py": f"import uvicorn\n{call}\n"})
    with pytest.raises(UsageError, match=r"started by serve.py:2 \(`web.api:app`\)"):
        run(repo, "web/api.py", dry_run=True)


def test_a_workdir_that_merges_several_copied_folders_is_not_guessed(tmp_path: Path) -> None:
    from qdrant_ops.code.cleanup.commands import app_refs

    root = make(tmp_path / "r", {"deployment/main.py": "", "pipelines/x.py": "", "backend/a.py": ""})
    merged = "WORKDIR /app\nCOPY deployment ./\nCOPY pipelines ./\nCMD [\"uvicorn\", \"deployment.main:app\"]\n"
    single = "COPY ./backend/ /srv/\nWORKDIR /srv/sub\nCMD uvicorn core.server:app\n"
    assert [r.cwd for r in app_refs(root, "Dockerfile", merged, "docker")] == [None]
    assert [r.cwd for r in app_refs(root, "Dockerfile", single, "docker")] == ["backend/sub"]


def test_a_streamlit_app_archived_with_force_is_one_finding_per_line(tmp_path: Path) -> None:
    repo = make(tmp_path / "r", {"web/app.py": "import streamlit as st\nst.title('x')\n",
                                 "Makefile": "ui:\n\tstreamlit run web/app.py --server.port 8501\n"},
                commit=True)
    with pytest.raises(UsageError, match=r"started by Makefile:2 \(`web/app.py`\)"):
        run(repo, "web/app.py")
    run(repo, "web/app.py", force=True, references="report")
    found = check_legacy(CheckLegacyConfig(repo=str(repo)))
    assert [(f.file, f.line, f.kind) for f in found.findings] == [("Makefile", 2, "archived script")]


def test_compose_services_run_in_their_working_dir_mapped_to_the_repository(tmp_path: Path) -> None:
    """A compose service's ``working_dir`` (or its image's ``WORKDIR``) is a container path: it is
    mapped back through the service's bind mounts and its Dockerfile's ``COPY``."""
    repo = make(tmp_path / "r", {
        "backend/scripts/__init__.py": "",
        "backend/scripts/loader.py": QDRANT_MAIN,
        "docker/Dockerfile": "FROM python:3.11\nCOPY . /srv\nWORKDIR /srv/backend\n",
        "docker-compose.yml": (
            "services:\n"
            "  built:\n    build:\n      context: .\n      dockerfile: docker/Dockerfile\n"
            "    command: python scripts/loader.py\n"
            "  mounted:\n    image: python:3.11\n    working_dir: /app/backend\n"
            "    volumes:\n      - .:/app:ro\n    command: python -m scripts.loader\n"
            "  long:\n    image: python:3.11\n    working_dir: /code\n"
            "    volumes:\n      - type: bind\n        source: ./backend\n        target: /code\n"
            "    command: [\"python\", \"scripts/loader.py\"]\n"
            "  plain:\n    image: python:3.11\n    command: python backend/scripts/loader.py\n"),
    }, commit=True)
    run(repo, "backend/scripts/loader.py")
    new = f"{ARCH}/backend/scripts/loader.py"
    text = (repo / "docker-compose.yml").read_text()
    assert text.count(f"python ../{new}") == 2, text  # built, mounted: they run in backend/
    assert f'["python", "../{new}"]' in text, text  # long: /code is backend/
    assert f"command: python {new}\n" in text, text  # plain: the repository root
