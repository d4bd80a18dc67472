"""Docs are tested: every command has help text and appears in the README."""

from __future__ import annotations

from pathlib import Path

import typer.main

from qdrant_ops.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands() -> list[tuple[str, object]]:
    group = typer.main.get_command(app)
    out: list[tuple[str, object]] = []

    def walk(cmd: object, prefix: str) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            out.append((prefix, cmd))

    walk(group, "")
    return out


def test_every_command_has_help() -> None:
    cmds = _commands()
    assert cmds, "no commands registered"
    for name, cmd in cmds:
        assert (getattr(cmd, "help", None) or "").strip(), f"`qdrant-ops {name}` has no help text"


def test_every_command_is_in_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for name, _ in _commands():
        top = name.split()[0]
        assert f"qdrant-ops {top}" in text, f"`qdrant-ops {top}` is missing from README.md"


def test_readme_opens_with_make_demo_and_make_test() -> None:
    head = "\n".join(README.read_text(encoding="utf-8").splitlines()[:8])
    assert "make demo" in head and "make test" in head
