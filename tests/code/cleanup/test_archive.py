"""cleanup-legacy end to end on a fixture repository built with git."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from legacy_fixtures import FILES, git, make_repo, snapshot
from qdrant_ops.code.cleanup.run import cleanup_legacy
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.errors import NotFoundError, TargetExistsError, UsageError

LEGACY = ["scripts/reindex_qdrant.py", "scripts/export_points.py"]
ARCH = "legacy/python-scripts"


def run(repo: Path, **kw: Any) -> Any:
    kw.setdefault("scripts", LEGACY)
    return cleanup_legacy(CleanupConfig(repo=str(repo), **kw))


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def read(repo: Path, rel: str) -> str:
    return (repo / rel).read_bytes().decode("utf-8")


def test_moves_scripts_and_helper_with_git_mv_and_history(repo: Path) -> None:
    before = snapshot(repo)
    report = run(repo)
    assert report.status == "ok"
    for rel in [*LEGACY, "scripts/qdrant_helpers.py"]:
        assert not (repo / rel).exists()
        assert (repo / ARCH / rel).read_bytes() == before[rel]
    moved = {m.source: m for m in report.moved}
    assert moved["scripts/qdrant_helpers.py"].kind == "helper"
    assert all(m.method == "git mv" for m in report.moved)
    staged = git(repo, "status", "--porcelain")
    assert f"R  scripts/export_points.py -> {ARCH}/scripts/export_points.py" in staged
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "archive legacy scripts")
    log = git(repo, "log", "--follow", "--format=%s", "--", f"{ARCH}/scripts/export_points.py")
    assert log.split("\n")[:3] == ["archive legacy scripts", "export more points", "initial"]


def test_helper_shared_with_remaining_code_stays(repo: Path) -> None:
    report = run(repo)
    assert (repo / "scripts/shared_utils.py").read_bytes() == FILES["scripts/shared_utils.py"].encode()
    assert not (repo / ARCH / "scripts/shared_utils.py").exists()
    kept = {h.path: h.reason for h in report.helpers_kept}
    assert "app/main.py" in kept["scripts/shared_utils.py"]
    assert "scripts/shared_utils.py" not in {m.source for m in report.moved}


def test_references_rewritten_in_every_kind_of_file(repo: Path) -> None:
    report = run(repo)
    new = f"{ARCH}/scripts"
    ps1 = (repo / "scripts/run_all.ps1").read_bytes().decode()
    assert ps1 == (
        "# Nightly jobs\r\n"
        "python .\\legacy\\python-scripts\\scripts\\reindex_qdrant.py --config config.yaml\r\n"
        "& python \"$PSScriptRoot\\..\\legacy\\python-scripts\\scripts\\export_points.py\"\r\n"
        "py -3 legacy\\python-scripts\\scripts\\export_points.py > out.json\r\n"
    )
    make = read(repo, "Makefile")
    assert f"\tpython {new}/reindex_qdrant.py --all\n" in make
    assert f"\tpython {new}/export_points.py\n" in make  # python -m scripts.export_points
    assert "\tuvicorn app.main:app\n" in make
    assert read(repo, ".github/workflows/nightly.yml").endswith(f"      - run: python {new}/reindex_qdrant.py\n")
    readme = read(repo, "README.md")
    assert f"`python {new}/export_points.py`" in readme
    assert f"[the reindex script]({new}/reindex_qdrant.py)" in readme
    assert "`app/main.py`" in readme
    assert read(repo, "docs/usage.md") == f"See [export](../{new}/export_points.py) for the old export.\n"
    main = read(repo, "app/main.py")
    assert f'subprocess.run([sys.executable, "{new}/export_points.py"], check=True)' in main
    assert f'subprocess.run([sys.executable, "{new}/reindex_qdrant.py"], check=True)' in main
    where = {(r.file, r.line) for r in report.references if r.action == "rewritten"}
    assert where == {
        ("scripts/run_all.ps1", 2), ("scripts/run_all.ps1", 3), ("scripts/run_all.ps1", 4),
        ("Makefile", 2), ("Makefile", 5), (".github/workflows/nightly.yml", 11),
        ("README.md", 3), ("README.md", 4), ("docs/usage.md", 1),
        ("app/main.py", 11), ("app/main.py", 12),
    }


def test_requirements_pruned_preserving_everything_else(repo: Path) -> None:
    report = run(repo)
    assert read(repo, "requirements.txt") == (
        "# Core runtime\n"
        "-r requirements-base.txt\n"
        "requests==2.31.0  # HTTP client\n"
        "uvicorn[standard]==0.30.0\n"
        "\n"
        "# end\n"
    )
    assert read(repo, "requirements-base.txt") == "qdrant-client>=1.9\nnumpy==1.26.4\n"
    assert read(repo, "pyproject.toml") == FILES["pyproject.toml"].replace(
        '    "httpx>=0.27",  # legacy export only\n', ""
    ).replace("    \"PyYAML>=6; python_version >= '3.8'\",\n", "").replace(
        'legacy = ["beautifulsoup4>=4", "python-dotenv"]', "legacy = []"
    )
    removed = {(r.file, r.distribution) for r in report.requirements_removed}
    assert removed == {
        ("requirements.txt", "pyyaml"), ("requirements.txt", "python-dotenv"),
        ("requirements-base.txt", "beautifulsoup4"),
        ("pyproject.toml", "httpx"), ("pyproject.toml", "pyyaml"),
        ("pyproject.toml", "beautifulsoup4"), ("pyproject.toml", "python-dotenv"),
    }
    reasons = {r.distribution: r.reason for r in report.requirements_removed}
    assert "scripts/reindex_qdrant.py:4 (import yaml)" in reasons["pyyaml"]
    kept = {r.distribution: r.reason for r in report.requirements_kept}
    assert "app/main.py" in kept["requests"] and "app/main.py" in kept["qdrant-client"]


def test_archive_index_documents_every_file(repo: Path) -> None:
    original = snapshot(repo)
    commits = {rel: git(repo, "log", "-1", "--format=%H", "--", rel).strip() for rel in LEGACY}
    report = run(repo)
    doc = read(repo, f"{ARCH}/ARCHIVE.md")
    for rel in [*LEGACY, "scripts/qdrant_helpers.py"]:
        sha = hashlib.sha256(original[rel]).hexdigest()
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{rel}` |"))
        assert f"| `{ARCH}/{rel}` |" in row and f"`{sha}`" in row
    export_row = next(line for line in doc.splitlines() if line.startswith("| `scripts/export_points.py`"))
    assert commits["scripts/export_points.py"][:12] in export_row
    assert "named as legacy" in export_row
    assert report.started_at.date().isoformat() in export_row
    helper_row = next(line for line in doc.splitlines() if line.startswith("| `scripts/qdrant_helpers.py`"))
    assert "imported only by archived code" in helper_row
    assert f"qdrant-ops cleanup-legacy --restore --archive-path {ARCH}" in doc
    assert f"git mv {ARCH}/scripts/export_points.py scripts/export_points.py" in doc
    reqs = read(repo, f"{ARCH}/requirements.txt").splitlines()
    for line in ["python-dotenv==1.0.0", "requests==2.31.0", "qdrant-client>=1.9", "httpx>=0.27",
                 "beautifulsoup4==4.12.3"]:
        assert line in reqs
    assert any(line.startswith("PyYAML") for line in reqs)
    index = json.loads(read(repo, f"{ARCH}/archive-index.json"))
    assert index["format"] == "qdrant-ops/legacy-archive"
    assert {m["source"] for m in index["runs"][0]["moves"]} == {*LEGACY, "scripts/qdrant_helpers.py"}


def test_dry_run_changes_nothing(repo: Path) -> None:
    before = snapshot(repo)
    report = run(repo, dry_run=True)
    assert report.status == "dry-run"
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert len(report.moved) == 3
    diffs = {d.path: d.diff for d in report.diffs}
    assert "-python-dotenv==1.0.0\n" in diffs["requirements.txt"]
    assert f"+\tpython {ARCH}/scripts/reindex_qdrant.py --all\n" in diffs["Makefile"]
    assert f"{ARCH}/ARCHIVE.md" in diffs


@pytest.mark.parametrize("commit_between", [False, True])
def test_restore_returns_the_original_bytes(repo: Path, commit_between: bool) -> None:
    before = snapshot(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    run(repo)
    assert snapshot(repo) != before
    if commit_between:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "archive")
    report = cleanup_legacy(CleanupConfig(repo=str(repo), restore=True))
    assert report.status == "ok", report.unhandled
    assert snapshot(repo) == before
    assert not (repo / "legacy").exists()
    assert git(repo, "diff", head, "--stat") == ""
    if not commit_between:
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_restore_keeps_later_edits_to_a_rewritten_file(repo: Path) -> None:
    run(repo)
    readme = repo / "README.md"
    readme.write_bytes(readme.read_bytes() + b"\nA line added after archiving.\n")
    report = cleanup_legacy(CleanupConfig(repo=str(repo), restore=True, force=True))
    assert report.status == "ok"
    assert read(repo, "README.md") == FILES["README.md"] + "\nA line added after archiving.\n"


def test_dirty_tree_is_refused(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n", encoding="utf-8")
    before = snapshot(repo)
    with pytest.raises(UsageError, match="uncommitted changes .*README.md.*--force"):
        run(repo)
    assert snapshot(repo) == before
    report = run(repo, force=True)
    assert report.status == "ok"
    assert any("uncommitted" in n for n in report.notes)


def test_existing_archive_entry_needs_force(repo: Path) -> None:
    target = repo / ARCH / "scripts/export_points.py"
    target.parent.mkdir(parents=True)
    target.write_text("old copy\n", encoding="utf-8")
    with pytest.raises(TargetExistsError, match="--force"):
        run(repo)
    assert (repo / "scripts/export_points.py").exists()
    report = run(repo, force=True)
    assert report.status == "ok"
    assert target.read_bytes() == FILES["scripts/export_points.py"].encode().replace(
        b'limit": 10', b'limit": 100')


def test_report_mode_lists_references_and_changes_none(repo: Path) -> None:
    report = run(repo, references="report", prune_requirements=False)
    assert read(repo, "Makefile") == FILES["Makefile"]
    assert read(repo, "requirements.txt") == FILES["requirements.txt"]
    refs = [r for r in report.references if r.file == "Makefile"]
    assert [(r.line, r.action) for r in refs] == [(2, "reported"), (5, "reported")]
    assert any("pruning is off" in r.reason for r in report.requirements_kept)


def test_detect_proposes_and_archives_only_with_yes(repo: Path) -> None:
    before = snapshot(repo)
    report = run(repo, scripts=[], detect=True)
    found = {c.path: c.reasons for c in report.candidates}
    assert set(found) == set(LEGACY)
    assert any("imports qdrant_client" in r for r in found["scripts/reindex_qdrant.py"])
    assert any("HTTP calls to Qdrant" in r for r in found["scripts/export_points.py"])
    assert not report.moved and snapshot(repo) == before
    report = run(repo, scripts=["scripts/export_points.py"], detect=True)
    assert [m.source for m in report.moved if m.kind == "script"] == ["scripts/export_points.py"]
    assert (repo / "scripts/reindex_qdrant.py").exists()


def test_detect_with_yes_archives_only_candidates_no_command_runs(repo: Path) -> None:
    (repo / "tools").mkdir()
    (repo / "tools/once.py").write_text(FILES["scripts/reindex_qdrant.py"].replace("import qdrant_helpers\n", ""))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a one-off script")
    report = run(repo, scripts=[], detect=True, yes=True)
    assert {m.source for m in report.moved if m.kind == "script"} == {"tools/once.py"}
    found = {c.path: (c.selected, c.reasons[-1]) for c in report.candidates}
    assert found["scripts/export_points.py"] == (
        False, "in use (referenced by Makefile:5, app/main.py:11, scripts/run_all.ps1:3, scripts/run_all.ps1:4)")
    assert found["scripts/reindex_qdrant.py"] == (
        False, "in use (referenced by .github/workflows/nightly.yml:11, Makefile:2, app/main.py:12, scripts/run_all.ps1:2)")
    assert found["tools/once.py"][0] is True


def test_script_imported_by_remaining_code_is_not_archived(repo: Path) -> None:
    report = run(repo, scripts=["scripts/shared_utils.py", "scripts/export_points.py"])
    assert (repo / "scripts/shared_utils.py").exists()
    assert any(p.path == "scripts/shared_utils.py" and "app/main.py" in p.reason for p in report.unhandled)


def test_bad_selections(repo: Path) -> None:
    with pytest.raises(NotFoundError):
        run(repo, scripts=["scripts/nope.py"])
    with pytest.raises(UsageError, match="nothing to archive"):
        run(repo, scripts=[])
    with pytest.raises(UsageError, match="not a Python script"):
        run(repo, scripts=["scripts/run_all.ps1"])
    report = run(repo, scripts=["scripts/reindex_*.py", "tools/*.py"], dry_run=True)
    assert [m.source for m in report.moved if m.kind == "script"] == ["scripts/reindex_qdrant.py"]
    assert any("matched no Python file" in p.reason for p in report.unhandled)


def test_plain_move_outside_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "plain", with_git=False)
    before = snapshot(repo)
    report = run(repo)
    assert report.status == "ok" and not report.git
    assert all(m.method == "move" for m in report.moved)
    assert (repo / ARCH / "scripts/export_points.py").is_file()
    assert "| - |" in read(repo, f"{ARCH}/ARCHIVE.md")  # no last commit without git
    cleanup_legacy(CleanupConfig(repo=str(repo), restore=True))
    assert snapshot(repo) == before


def test_restore_without_an_index_is_an_error(repo: Path) -> None:
    with pytest.raises(NotFoundError, match="archive-index.json"):
        cleanup_legacy(CleanupConfig(repo=str(repo), restore=True))


def test_second_run_extends_the_index_and_restore_undoes_both(repo: Path) -> None:
    before = snapshot(repo)
    run(repo, scripts=["scripts/export_points.py"])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "archive export")
    report = run(repo, scripts=["scripts/reindex_qdrant.py"])
    assert [m.source for m in report.moved] == ["scripts/reindex_qdrant.py", "scripts/qdrant_helpers.py"]
    index = json.loads(read(repo, f"{ARCH}/archive-index.json"))
    assert [len(r["moves"]) for r in index["runs"]] == [1, 2]
    doc = read(repo, f"{ARCH}/ARCHIVE.md")
    assert "| `scripts/export_points.py` |" in doc and "| `scripts/reindex_qdrant.py` |" in doc
    restored = cleanup_legacy(CleanupConfig(repo=str(repo), restore=True))
    assert restored.status == "ok", restored.unhandled
    assert snapshot(repo) == before


def test_restore_refuses_a_file_changed_where_it_was_edited(repo: Path) -> None:
    run(repo)
    make = repo / "Makefile"
    make.write_text(make.read_text().replace("python legacy/", "python3 legacy/"))
    report = cleanup_legacy(CleanupConfig(repo=str(repo), restore=True, force=False))
    assert report.status == "failed"
    assert any(p.path == "Makefile" and "--force" in p.reason for p in report.unhandled)
    assert (repo / f"{ARCH}/archive-index.json").exists()  # kept, so the restore can be rerun
    report = cleanup_legacy(CleanupConfig(repo=str(repo), restore=True, force=True))
    assert report.status == "ok"
    assert read(repo, "Makefile") == FILES["Makefile"]


@pytest.mark.parametrize("with_git", [True, False])
def test_a_failure_half_way_undoes_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_git: bool
) -> None:
    import qdrant_ops.code.cleanup.run as cleanup_mod

    repo = make_repo(tmp_path / "r", with_git=with_git)
    (repo / "tools").mkdir()
    (repo / "tools/once.py").write_text("print('once')\n")
    if with_git:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "tools")
    before = snapshot(repo)
    real = cleanup_mod.write_bytes_keep_mode
    calls = {"n": 0}

    def flaky(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(cleanup_mod, "write_bytes_keep_mode", flaky)
    with pytest.raises(OSError, match="disk full"):
        run(repo, scripts=[*LEGACY, "tools/once.py"])
    assert snapshot(repo) == before
    assert not (repo / "legacy").exists()
    if with_git:
        assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_repo_in_a_subdirectory_of_a_work_tree(tmp_path: Path) -> None:
    outer = tmp_path / "mono"
    outer.mkdir()
    git(outer, "init", "-q")
    (outer / "other.txt").write_text("unrelated\n")
    repo = make_repo(outer / "svc", with_git=False)
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "mono")
    (outer / "other.txt").write_text("dirty outside the service\n")  # not our business
    report = run(repo)
    assert report.status == "ok" and report.git
    assert all(m.method == "git mv" for m in report.moved)
    assert (repo / ARCH / "scripts/export_points.py").is_file()
    git(repo, "add", "-A", ".")
    git(repo, "commit", "-q", "-m", "archive")
    (repo / "Makefile").write_text("dirty inside\n")
    with pytest.raises(UsageError, match=r"changes \(Makefile\)"):
        run(repo, scripts=["scripts/shared_utils.py"])


def test_detect_skips_tests_entry_points_and_imported_modules(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    files = {
        "pyproject.toml": '[project]\nname = "p"\n[project.scripts]\np = "pkg.cli:main"\n',
        "pkg/__init__.py": "",
        "pkg/cli.py": "import qdrant_client\n\ndef main(): ...\n\nif __name__ == '__main__':\n    main()\n",
        "tests/test_q.py": "import qdrant_client\nif __name__ == '__main__':\n    pass\n",
        "tools/used.py": "import qdrant_client\nif __name__ == '__main__':\n    pass\n",
        "tools/user.py": "import used\n",
        "tools/no_qdrant.py": "import json\nif __name__ == '__main__':\n    pass\n",
        "tools/old.py": "import qdrant_client\nif '__main__' == __name__:\n    pass\n",
    }
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    report = run(repo, scripts=[], detect=True)
    assert [c.path for c in report.candidates] == ["tools/old.py"]


def test_emptied_directories_go_and_come_back(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "plain", with_git=False)
    (repo / "tools/old").mkdir(parents=True)
    (repo / "tools/old/once.py").write_text("print('once')\n")
    run(repo, scripts=["tools/old/once.py"])
    assert not (repo / "tools").exists()
    assert (repo / ARCH / "tools/old/once.py").is_file()
    cleanup_legacy(CleanupConfig(repo=str(repo), restore=True))
    assert (repo / "tools/old/once.py").read_text() == "print('once')\n"
