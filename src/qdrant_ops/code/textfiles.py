"""Reading and writing repository text files without changing a byte that was not meant to change.

A file is decoded with its own encoding (UTF-8, UTF-8 with BOM, UTF-16 with BOM as Windows
PowerShell writes them, or Latin-1 as a byte-preserving fallback) and without newline translation,
so CRLF files stay CRLF and ``encode(decode(b)) == b`` for every file this module accepts.
"""

from __future__ import annotations

import codecs
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from qdrant_ops.code.cleanup import gitmv as legacy_git

MAX_TEXT_BYTES = 2 * 1024 * 1024

# Directories never worth examining: tool caches, virtual environments, dependencies, builds.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        ".env",
        "node_modules",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "build",
        "dist",
        "site-packages",
        ".eggs",
        ".idea",
        ".vscode",
    }
)


@dataclass(frozen=True)
class TextFile:
    """A decoded file and what it takes to write it back identically."""

    text: str
    encoding: str
    bom: bytes

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.encoding)


def decode(data: bytes) -> TextFile | None:
    """Decode ``data`` as text; None for binary data."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            try:
                return TextFile(data[len(bom) :].decode(enc), enc, bom)
            except UnicodeDecodeError:
                return None
    if b"\0" in data:
        return None
    try:
        return TextFile(data.decode("utf-8"), "utf-8", b"")
    except UnicodeDecodeError:
        return TextFile(data.decode("latin-1"), "latin-1", b"")


def read_text(path: Path) -> TextFile | None:
    """The decoded file, or None when it is binary, too large or unreadable."""
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return decode(data)


def write_bytes_keep_mode(path: Path, data: bytes) -> None:
    """Replace a file's content in place (keeping its permissions) through a temporary file."""
    tmp = path.with_name(f".{path.name}.qdrant-ops-tmp")
    mode = path.stat().st_mode if path.exists() else None
    tmp.write_bytes(data)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def is_excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    """True when ``rel`` (POSIX) or one of its parent directories matches an exclude glob."""
    if not patterns:
        return False
    pure = PurePosixPath(rel)
    candidates = [rel] + [str(p) for p in pure.parents if str(p) != "."]
    return any(fnmatch.fnmatch(c, pat.rstrip("/")) for c in candidates for pat in patterns)


def repo_files(root: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    """Every file worth examining under ``root``, POSIX relative paths, sorted.

    In a git work tree: tracked files and untracked files git does not ignore. Elsewhere: a walk
    that skips virtual environments, caches and build output.
    """
    if legacy_git.is_work_tree(root):
        # Tracked files are the project's own content, whatever their directory names; untracked
        # ones are left out inside virtual environments and caches nobody told git to ignore.
        tracked, untracked = legacy_git.listed_files(root)
        out = [n for n in tracked if (root / n).is_file()]
        out += [
            n for n in untracked
            if not any(part in SKIP_DIRS for part in PurePosixPath(n).parts[:-1])
            and (root / n).is_file()
        ]
    else:
        out = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            base = Path(dirpath).relative_to(root)
            for name in filenames:
                out.append((base / name).as_posix())
    return sorted(n for n in out if not is_excluded(n, exclude))
