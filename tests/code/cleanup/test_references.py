"""The reference scanner: every form of path and module reference, and what it must not match."""

from __future__ import annotations

import codecs

import pytest

from qdrant_ops.code.cleanup.references import ReferenceScanner, Target, apply_hits, file_kind
from qdrant_ops.code.textfiles import decode

NEW = "legacy/python-scripts/scripts/sync_qdrant.py"


def scanner(new_module: str | None = None, runnable: bool = True) -> ReferenceScanner:
    target = Target("scripts/sync_qdrant.py", NEW, ("scripts.sync_qdrant",), new_module, runnable)
    return ReferenceScanner([target], {"sync_qdrant.py": 1})


def rewrite(rel: str, text: str, **kw: object) -> str:
    kind = file_kind(rel)
    assert kind is not None
    return apply_hits(text, scanner(**kw).scan(rel, text, kind))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rel", "before", "after"),
    [
        ("run.sh", "python scripts/sync_qdrant.py --all\n", f"python {NEW} --all\n"),
        ("run.sh", "python ./scripts/sync_qdrant.py\n", f"python ./{NEW}\n"),
        ("run.ps1", "python .\\scripts\\sync_qdrant.py\r\n",
         "python .\\legacy\\python-scripts\\scripts\\sync_qdrant.py\r\n"),
        ("run.ps1", "py -3 Scripts\\Sync_Qdrant.py\n",
         "py -3 legacy\\python-scripts\\scripts\\sync_qdrant.py\n"),
        ("scripts/run.ps1", '& python "$PSScriptRoot\\sync_qdrant.py"\n',
         '& python "$PSScriptRoot\\..\\legacy\\python-scripts\\scripts\\sync_qdrant.py"\n'),
        ("scripts/run.ps1", "python (Join-Path $PSScriptRoot 'sync_qdrant.py')\n",
         "python (Join-Path $PSScriptRoot '../legacy/python-scripts/scripts/sync_qdrant.py')\n"),
        ("scripts/run.bat", "python %~dp0sync_qdrant.py\r\n",
         "python %~dp0..\\legacy\\python-scripts\\scripts\\sync_qdrant.py\r\n"),
        ("run.cmd", "python %ROOT%\\scripts\\sync_qdrant.py\r\n",
         "python %ROOT%\\legacy\\python-scripts\\scripts\\sync_qdrant.py\r\n"),
        ("scripts/go.sh", 'python "$(dirname "$0")/sync_qdrant.py"\n',
         f'python "$(dirname "$0")/../{NEW}"\n'),
        ("Makefile", "sync:\n\t$(PYTHON) $(CURDIR)/scripts/sync_qdrant.py\n",
         f"sync:\n\t$(PYTHON) $(CURDIR)/{NEW}\n"),
        (".gitlab-ci.yml", "script:\n  - python scripts/sync_qdrant.py\n", f"script:\n  - python {NEW}\n"),
        (".github/workflows/ci.yml", "run: python ${{ github.workspace }}/scripts/sync_qdrant.py\n",
         f"run: python ${{{{ github.workspace }}}}/{NEW}\n"),
        ("Dockerfile", "COPY scripts/sync_qdrant.py /app/scripts/sync_qdrant.py\n",
         f"COPY {NEW} /app/scripts/sync_qdrant.py\n"),
        ("tox.ini", "[testenv:sync]\ncommands = python scripts/sync_qdrant.py\n",
         f"[testenv:sync]\ncommands = python {NEW}\n"),
        ("docs/guide.rst", "See ``../scripts/sync_qdrant.py``.\n", f"See ``../{NEW}``.\n"),
        ("tools/run.py", 'runpy.run_path("scripts/sync_qdrant.py")\n', f'runpy.run_path("{NEW}")\n'),
        ("tools/run.py", 'p = "scripts\\\\sync_qdrant.py"\n',
         'p = "legacy\\\\python-scripts\\\\scripts\\\\sync_qdrant.py"\n'),
        ("Makefile", "sync:\n\tpython -m scripts.sync_qdrant --all\n", f"sync:\n\tpython {NEW} --all\n"),
        ("tools/run.py", 'subprocess.run([sys.executable, "-m", "scripts.sync_qdrant"])\n',
         f'subprocess.run([sys.executable, "{NEW}"])\n'),
    ],
)
def test_rewrites(rel: str, before: str, after: str) -> None:
    assert rewrite(rel, before) == after


@pytest.mark.parametrize(
    ("rel", "text"),
    [
        ("README.md", "https://github.com/org/repo/blob/main/scripts/sync_qdrant.py\n"),
        ("run.sh", "python scripts/sync_qdrant.pyc\n"),
        ("run.sh", "python scripts/sync_qdrant.py.bak\n"),
        ("run.sh", "python old_scripts/sync_qdrant.py\n"),
        ("run.sh", "python scripts/sync_qdrant_v2.py\n"),
        ("Dockerfile", "CMD python /app/scripts/sync_qdrant.py\n"),
        ("run.sh", "python -m scripts.sync_qdrant_v2\n"),
        ("run.sh", "python scripts/sync_qdrant.py\n".replace("scripts/", "other/")),
    ],
)
def test_leaves_alone(rel: str, text: str) -> None:
    assert rewrite(rel, text) == text


def test_module_form_uses_the_dotted_name_when_the_archive_is_importable() -> None:
    text = "python -m scripts.sync_qdrant\n"
    assert rewrite("run.sh", text, new_module="legacy.scripts.sync_qdrant") == (
        "python -m legacy.scripts.sync_qdrant\n"
    )


def test_module_with_relative_imports_is_left_for_a_human() -> None:
    hits = scanner(runnable=False).scan("run.sh", "python -m scripts.sync_qdrant\n", "shell")
    assert len(hits) == 1 and hits[0].replacement is None
    assert "relative imports" in hits[0].note


def test_entry_point_is_reported_not_rewritten() -> None:
    text = '[project.scripts]\nsync = "scripts.sync_qdrant:main"\n'
    hits = scanner().scan("pyproject.toml", text, "config")
    assert [(h.kind, h.line, h.replacement) for h in hits] == [("entry-point", 2, None)]


def test_bare_name_is_reported_with_its_line() -> None:
    hits = scanner().scan("README.md", "# Tools\n\nRun sync_qdrant.py nightly.\n", "docs")
    assert [(h.kind, h.line, h.column, h.replacement) for h in hits] == [("name", 3, 5, None)]


def test_positions_are_file_line_column() -> None:
    text = "a\nb\n  python scripts/sync_qdrant.py\n"
    (hit,) = scanner().scan("run.sh", text, "shell")
    assert (hit.file, hit.line, hit.column) == ("run.sh", 3, 10)


def test_file_kinds() -> None:
    assert file_kind("x/Build.PS1") == "powershell"
    assert file_kind("tools/x.psm1") == "powershell"
    assert file_kind("GNUmakefile") == "make"
    assert file_kind("rules.mk") == "make"
    assert file_kind("Dockerfile.prod") == "docker"
    assert file_kind(".github/workflows/ci.yaml") == "yaml"
    assert file_kind("setup.cfg") == "config"
    assert file_kind("a.zsh") == "shell"
    assert file_kind("requirements.txt") is None
    assert file_kind("image.png") is None


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + "python .\\scripts\\sync_qdrant.py\r\n".encode("utf-16-le"),
        codecs.BOM_UTF8 + b"python scripts/sync_qdrant.py\n",
        b"echo caf\xe9\npython scripts/sync_qdrant.py\n",
    ],
)
def test_encodings_round_trip_and_rewrite(data: bytes) -> None:
    tf = decode(data)
    assert tf is not None and tf.encode(tf.text) == data
    new = apply_hits(tf.text, scanner().scan("run.ps1", tf.text, "powershell"))
    out = tf.encode(new)
    assert out.startswith(tf.bom) and out != data
    assert decode(out) is not None and "legacy" in decode(out).text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("rel", "text", "found"),
    [
        ("setup.cfg", "[options.entry_points]\nconsole_scripts =\n    sync = scripts.sync_qdrant:main\n", 1),
        ("setup.py", 'entry_points={"console_scripts": ["sync=scripts.sync_qdrant:main"]}\n', 1),
        ("tools/x.py", "def f(scripts.sync_qdrant: int) -> None: ...\n", 0),
        ("tools/x.py", 'ep = "scripts.sync_qdrant:main"\n', 0),
    ],
)
def test_entry_points_only_in_packaging_files(rel: str, text: str, found: int) -> None:
    kind = file_kind(rel)
    assert kind is not None
    hits = [h for h in scanner().scan(rel, text, kind) if h.kind == "entry-point"]
    assert len(hits) == found


def test_name_only_mentions_skip_python_and_generic_names() -> None:
    assert scanner().scan("tools/x.py", 'print("sync_qdrant.py")\n', "python") == []
    generic = ReferenceScanner([Target("scripts/main.py", "legacy/scripts/main.py")], {"main.py": 1})
    assert generic.scan("README.md", "Run main.py\n", "docs") == []
