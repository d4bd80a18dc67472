from __future__ import annotations

from pathlib import Path

from qdrant_ops.code.index import RepoIndex


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def test_package_module_names_and_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/db.py": "from qdrant_client import QdrantClient\nimport requests\n",
            "app/api/__init__.py": "",
            "app/api/views.py": (
                "import os\n"
                "from ..db import QdrantClient as QC\n"
                "from . import helpers\n"
                "from app import db\n"
                "import app.db as dbmod\n"
            ),
            "app/api/helpers.py": "import yaml\n",
        },
    )
    idx = RepoIndex.build(tmp_path)
    assert idx.module_for_path("app/db.py") == "app.db"
    assert idx.module_for_path("app/__init__.py") == "app"
    assert idx.path_for_module("app.api.views") == "app/api/views.py"
    refs = idx.imports_of("app/api/views.py")
    assert [r.module for r in refs] == ["os", "app.db", "app.api", "app", "app.db"]
    assert [r.lineno for r in refs] == [1, 2, 3, 4, 5]
    rel_db = refs[1]
    assert rel_db.relative and rel_db.level == 2 and rel_db.names == ("QdrantClient",)
    assert rel_db.asnames == {"QdrantClient": "QC"} and rel_db.local_path == "app/db.py"
    assert refs[2].submodules == {"helpers": "app/api/helpers.py"}
    assert refs[3].submodules == {"db": "app/db.py"}
    assert refs[4].alias == "dbmod" and refs[4].names == ()
    assert refs[0].local_path is None
    # the real qdrant_client is outside the repository
    assert idx.imports_of("app/db.py")[0].local_path is None
    importers = {(rel, ref.lineno) for rel, ref in idx.importers_of("app.db")}
    assert importers == {("app/api/views.py", 2), ("app/api/views.py", 4), ("app/api/views.py", 5)}
    assert idx.importers_of("app/db.py") == idx.importers_of("app.db")
    assert idx.top_level_imports("app/db.py") == {"qdrant_client", "requests"}
    assert idx.top_level_imports("app/api/views.py") == set()
    assert idx.top_level_imports("app/api/helpers.py") == {"yaml"}


def test_src_layout_and_namespace_packages(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname='x'\n",
            "src/company/search/__init__.py": "",
            "src/company/search/client.py": "X = 1\n",
            "tests/test_client.py": "from company.search.client import X\n",
        },
    )
    idx = RepoIndex.build(tmp_path)
    assert "src" in idx.roots
    assert idx.module_for_path("src/company/search/client.py") == "company.search.client"
    ref = idx.imports_of("tests/test_client.py")[0]
    assert ref.local_path == "src/company/search/client.py"


def test_local_qdrant_client_shadows_only_beside_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "scripts/qdrant_client.py": "class QdrantClient: ...\n",
            "scripts/load.py": "from qdrant_client import QdrantClient\n",
            "pkg/__init__.py": "",
            "pkg/qdrant_client.py": "x = 1\n",
            "pkg/uses.py": "from qdrant_client import QdrantClient\n",
            "other/run.py": "from qdrant_client import QdrantClient\n",
        },
    )
    idx = RepoIndex.build(tmp_path)
    assert idx.imports_of("scripts/load.py")[0].local_path == "scripts/qdrant_client.py"
    # inside a regular package, `qdrant_client` is the absolute (real) package
    assert idx.imports_of("pkg/uses.py")[0].local_path is None
    assert idx.imports_of("other/run.py")[0].local_path is None
    assert idx.module_for_path("pkg/qdrant_client.py") == "pkg.qdrant_client"
    assert idx.top_level_imports("other/run.py") == {"qdrant_client"}
    assert idx.top_level_imports("scripts/load.py") == set()


def test_service_package_base_and_preferred_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "services/api/app/__init__.py": "",
            "services/api/app/store.py": "S = 1\n",
            "services/api/app/main.py": "from app.store import S\n",
            "services/worker/job.py": "from app.store import S\n",
        },
    )
    idx = RepoIndex.build(tmp_path)
    assert idx.imports_of("services/api/app/main.py")[0].local_path == "services/api/app/store.py"
    # the package base is only on the path of code below it
    assert idx.imports_of("services/worker/job.py")[0].local_path is None
    assert idx.module_for_path("services/api/app/store.py") == "app.store"
    assert "services.api.app.store" in idx.names_for_path("services/api/app/store.py")
    assert idx.import_name_for("services/api/app/store.py", "services/api/app/main.py") == "app.store"


def test_main_guard_parse_errors_and_excludes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "tool.py": "def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n",
            "lib.py": "if '__main__' == __name__: pass\n",
            "plain.py": "x = 1\n",
            "broken.py": "print 'python 2'\n",
            "legacy/old.py": "x = 1\n",
            ".venv/lib/site.py": "x = 1\n",
            "node_modules/a.py": "x = 1\n",
            "pkg/__pycache__/x.py": "x = 1\n",
        },
    )
    idx = RepoIndex.build(tmp_path, exclude=["legacy"])
    assert sorted(idx.files) == ["broken.py", "lib.py", "plain.py", "tool.py"]
    assert idx.has_main_guard("tool.py") and idx.has_main_guard("lib.py")
    assert not idx.has_main_guard("plain.py") and not idx.has_main_guard("broken.py")
    assert idx.files["broken.py"].module is None and idx.files["broken.py"].error
    assert idx.parse_errors.keys() == {"broken.py"}
    assert idx.files["tool.py"].module is not None
    assert idx.files["tool.py"].source == (tmp_path / "tool.py").read_text()
    idx2 = RepoIndex.build(tmp_path, exclude=["legacy/*.py", "*/nothing"])
    assert "legacy/old.py" not in idx2.files


def test_nested_imports_keep_line_numbers(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "m.py": (
                '"""doc: from qdrant_client import QdrantClient"""\n'
                "try:\n"
                "    import ujson as json\n"
                "except ImportError:  # fallback\n"
                "    import json\n"
                "\n"
                "def f():\n"
                "    from qdrant_client import (\n"
                "        QdrantClient,\n"
                "    )\n"
                "    return QdrantClient\n"
            )
        },
    )
    idx = RepoIndex.build(tmp_path)
    refs = idx.imports_of("m.py")
    assert [(r.module, r.lineno) for r in refs] == [("ujson", 3), ("json", 5), ("qdrant_client", 8)]
    assert refs[0].bound_name() == "json"
    assert idx.top_level_imports("m.py") == {"ujson", "qdrant_client"}
