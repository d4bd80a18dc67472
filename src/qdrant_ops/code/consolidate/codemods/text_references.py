"""Rewrite module names and file paths in scripts, Makefiles, CI and packaging files.

Not Python, so not libcst: a reference is rewritten only in a form that cannot be anything else:
``-m pkg.old`` (``python -m``), the file path ``pkg/old.py`` between path delimiters, and
``pkg.old:func`` entry points.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from qdrant_ops.code.consolidate.codemods.redirect_imports import Change

TEXT_NAMES = frozenset(
    {"Makefile", "GNUmakefile", "makefile", "Dockerfile", "Procfile", "Justfile", "justfile",
     "Taskfile", "Jenkinsfile", "tox.ini", "setup.cfg", "pyproject.toml", "noxfile"}
)
TEXT_SUFFIXES = frozenset(
    {".mk", ".sh", ".bash", ".zsh", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".ps1", ".bat",
     ".cmd", ".dockerfile", ".service", ".conf"}
)
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", "site-packages"})


def is_script_file(rel: str) -> bool:
    p = PurePosixPath(rel)
    return (
        p.name in TEXT_NAMES
        or p.suffix in TEXT_SUFFIXES
        or p.name.startswith("Dockerfile")
        or (len(p.parts) > 1 and p.parts[0] in (".github", ".gitlab", ".circleci") and p.suffix != ".md")
    )


def script_files(root: Path, tracked: Iterable[str] | None = None) -> list[str]:
    """Script, Makefile, CI and packaging files of the repository (tracked ones in git)."""
    if tracked is not None:
        return sorted(r for r in tracked if is_script_file(r) and (root / r).is_file())
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for f in filenames:
            rel = (Path(dirpath) / f).relative_to(root).as_posix()
            if is_script_file(rel):
                out.append(rel)
    return sorted(out)


@dataclass(frozen=True)
class TextRedirect:
    old_names: tuple[str, ...]
    new_name: str
    old_path: str
    new_path: str


def _patterns(r: TextRedirect) -> list[tuple[re.Pattern[str], str, str]]:
    out: list[tuple[re.Pattern[str], str, str]] = []
    for name in sorted(r.old_names, key=len, reverse=True):
        esc = re.escape(name)
        out.append((re.compile(rf"(?<![\w.])(-m\s+){esc}(?![\w.])"), rf"\g<1>{r.new_name}", name))
        out.append((re.compile(rf"(?<![\w.]){esc}(\s*:\s*[A-Za-z_]\w*)"), rf"{r.new_name}\g<1>", name))
    esc_path = re.escape(r.old_path)
    out.append((re.compile(rf"(?<![\w./-])(\./)?{esc_path}(?![\w.-])"), rf"\g<1>{r.new_path}", r.old_path))
    return out


def rewrite_text(text: str, redirects: Iterable[TextRedirect]) -> tuple[str, list[Change]]:
    """The new text and the references rewritten (``line`` is 1-based)."""
    changes: list[Change] = []
    lines = text.splitlines(keepends=True)
    compiled = [(r, _patterns(r)) for r in redirects]
    for i, line in enumerate(lines):
        new = line
        for r, pats in compiled:
            for pat, repl, old in pats:
                replaced, n = pat.subn(repl, new)
                if n:
                    target = r.new_path if old == r.old_path else r.new_name
                    changes.append(Change(i + 1, "script", old, target))
                    new = replaced
        lines[i] = new
    return "".join(lines), changes


def rewrite_files(
    root: Path, files: Iterable[str], redirects: Iterable[TextRedirect]
) -> Mapping[str, tuple[bytes, str, list[Change]]]:
    """``{file: (old bytes, new text, changes)}`` for each file that changes."""
    reds = list(redirects)
    out: dict[str, tuple[bytes, str, list[Change]]] = {}
    for rel in files:
        try:
            raw = (root / rel).read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        new, changes = rewrite_text(text, reds)
        if changes:
            out[rel] = (raw, new, changes)
    return out
