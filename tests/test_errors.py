"""The error tree and exit codes: errors.py's docstring matches its classes, and bad input reaches
the CLI user as one line and a DESIGN.md exit code, never as an unexpected error (exit 70)."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from datagen import make_collection
from qdrant_ops import errors
from qdrant_ops.cli import app
from qdrant_ops.cli.app import handle_errors
from qdrant_ops.endpoints.archive import write_manifest_checksum
from qdrant_ops.endpoints.open import close_all

runner = CliRunner()


def _tree() -> dict[str, tuple[str | None, str]]:
    """``{class: (parent, line)}`` as drawn in errors.py's docstring."""
    doc = errors.__doc__ or ""
    block = doc.split("```")[1]
    out: dict[str, tuple[str | None, str]] = {}
    stack: list[str] = []
    for line in block.strip("\n").splitlines():
        m = re.match(r"^([│├└─ ]*)([A-Za-z]\w*)", line)
        assert m, line
        depth = len(m.group(1)) // 4
        stack[depth:] = [m.group(2)]
        out[m.group(2)] = (stack[depth - 1] if depth else None, line)
    return out


def _classes() -> dict[str, type[BaseException]]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == errors.__name__
    }


def test_the_docstring_draws_every_error_class_under_its_parent() -> None:
    tree, classes = _tree(), _classes()
    assert sorted(tree) == sorted(classes)
    for name, (parent, line) in tree.items():
        cls = classes[name]
        error_bases = [b.__name__ for b in cls.__bases__ if issubclass(b, BaseException)]
        assert error_bases == ([parent] if parent else ["Exception"]), name
        drawn = re.findall(r"\((\d+)\)\s*$", line) or re.findall(r"exit (\d+)", line)
        if drawn:
            assert int(drawn[-1]) == cls.exit_code, line  # type: ignore[attr-defined]


def test_exit_codes_are_those_of_design_md() -> None:
    codes = {name: value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    # 141: stdout's reader went away (issue 26: "exit 0 or 141", as a shell reports SIGPIPE)
    assert sorted(codes.values()) == [0, 1, 2, 3, 4, 70, 130, 141]
    for cls in _classes().values():
        assert cls.exit_code in (1, 2, 3, 4), cls  # type: ignore[attr-defined]


def _boundary(exc: BaseException) -> Any:
    probe = typer.Typer()

    @probe.command()
    @handle_errors
    def fail() -> None:
        raise exc

    return runner.invoke(probe, [])


def test_the_cli_boundary_maps_unexpected_errors_and_interrupts() -> None:
    res = _boundary(RuntimeError("boom\nsecond line"))
    assert res.exit_code == errors.EXIT_INTERNAL == 70
    assert res.stderr.strip().splitlines() == ["error: unexpected RuntimeError: boom (rerun with --debug for details)"]
    res = _boundary(KeyboardInterrupt())
    assert res.exit_code == errors.EXIT_INTERRUPTED == 130
    res = _boundary(errors.PartialError("2 points failed"))
    assert res.exit_code == errors.EXIT_PARTIAL and res.stderr.strip() == "error: 2 points failed"


# -- bad input that the library meets as a ValueError, driven through the CLI ---------------------


def _run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    close_all()
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert res.exit_code != errors.EXIT_INTERNAL, res.stderr
    assert "Traceback" not in res.stderr
    return res.exit_code, lines[0] if len(lines) == 1 else res.stderr


def _store(tmp_path: Path, n: int = 30) -> str:
    src = str(tmp_path / "src")
    make_collection(src, "c", "int-unnamed", n)
    close_all()
    return src


def test_a_manifest_whose_snapshots_are_not_a_list_is_a_corrupt_backup(tmp_path: Path) -> None:
    src = _store(tmp_path)
    code, _ = _run("backup", "--source", src, "--backup-path", str(tmp_path / "bk"), "--collections", "c")
    assert code == 0
    (backup_dir,) = [p for p in (tmp_path / "bk").iterdir() if (p / "manifest.json").exists()]
    m = json.loads((backup_dir / "manifest.json").read_text())
    m["collections"]["c"]["snapshots"] = "x"
    (backup_dir / "manifest.json").write_text(json.dumps(m))
    write_manifest_checksum(backup_dir)  # a manifest whose own sha256 matches: the value is what fails
    code, line = _run("verify", str(backup_dir))
    assert code == errors.EXIT_CHECK_FAILED
    assert line.startswith("error: ") and "'snapshots' must be a list of objects" in line


@pytest.mark.parametrize(
    ("transforms", "text"),
    [
        ([{"cast": {"field": "title", "to": "int"}}], "cannot cast"),
        ([{"drop_field": "a", "rename_field": {"from": "b", "to": "c"}}], "a transform takes exactly one of"),
        ([{"set_field": {"field": "a", "value": 1, "from": "b"}}], "give value or from, not both"),
    ],
)
def test_bad_transforms_are_usage_errors(tmp_path: Path, transforms: list[object], text: str) -> None:
    src = _store(tmp_path)
    config = tmp_path / "migrate.json"
    config.write_text(json.dumps({"transforms": transforms}))
    code, line = _run(
        "migrate", "--config", str(config), "--source", src, "--target", str(tmp_path / "dst"),
        "--backup-path", str(tmp_path / "bk"), "--collections", "c",
    )
    assert code == errors.EXIT_USAGE
    assert line.startswith("error: ") and text in line


def test_points_a_hook_breaks_after_the_sample_go_to_the_dead_letter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "late_hook.py").write_text(
        "def late_wrong(points):\n"
        "    for p in points:\n"
        "        if int(p.id) > 150:\n"
        "            p.vectors[''] = [0.5, 0.5]\n"
        "    return points\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    src = _store(tmp_path, 200)
    config = tmp_path / "migrate.json"
    config.write_text(json.dumps({"transforms": [{"python": "late_hook:late_wrong"}], "batch_size": 50}))
    code, _ = _run(
        "migrate", "--config", str(config), "--source", src, "--target", str(tmp_path / "dst"),
        "--backup-path", str(tmp_path / "bk"), "--collections", "c",
    )
    assert code == errors.EXIT_PARTIAL
    assert list((tmp_path / "bk" / "dead-letter").glob("c.*.parquet"))


def test_an_endpoint_with_two_locations_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "backup.json"
    config.write_text(json.dumps({"source": {"url": "http://localhost:6333", "path": str(tmp_path)}}))
    code, line = _run("backup", "--config", str(config), "--backup-path", str(tmp_path / "bk"))
    assert code == errors.EXIT_USAGE
    assert line.startswith("error: ") and "give only one of url, host or path" in line


def test_a_runbook_with_a_phase_id_twice_is_a_config_error(tmp_path: Path) -> None:
    rb = tmp_path / "runbook.json"
    rb.write_text(json.dumps({"phases": [{"id": "a", "steps": []}, {"id": "a", "steps": []}]}))
    code, line = _run("run", "--runbook", str(rb), "--dry-run")
    assert code == errors.EXIT_USAGE
    assert line.startswith("error: ") and "phase id 'a' is used twice" in line
