"""The git operations ``cleanup-legacy`` needs: work-tree state, ``git mv``, file history.

Every function takes the directory the command works in (``--repo``), which may be a sub-directory
of a larger work tree; paths in and out are POSIX paths relative to that directory. Outside a git
work tree the callers fall back to plain file operations.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from qdrant_ops.errors import UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommitInfo:
    """The last commit that touched a file."""

    sha: str
    date: str
    subject: str


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise UsageError("git is not installed but the directory is a git work tree")
    proc = subprocess.run(
        ["git", "-c", "core.quotepath=off", *args],
        cwd=root,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        check=False,
    )
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise UsageError(f"git {args[0]} failed: {detail[-1] if detail else proc.returncode}")
    return proc


def is_work_tree(root: Path) -> bool:
    """True when ``root`` lies inside a git work tree."""
    if shutil.which("git") is None:
        return False
    proc = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0 and proc.stdout.strip() == "true"


def dirty_paths(root: Path) -> list[str]:
    """Tracked files under ``root`` with uncommitted changes (staged or not).

    Untracked files do not count, as for ``git describe --dirty``: they are not at risk from a
    move or a rewrite of tracked files.
    """
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.strip()
    proc = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=no", "--", ".")
    out: list[str] = []
    fields = proc.stdout.split("\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        out.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy: the next field is the source path
            if i < len(fields) and fields[i]:
                out.append(fields[i])
            i += 1
    return [p[len(prefix):] if prefix and p.startswith(prefix) else p for p in out]


def listed_files(root: Path) -> tuple[list[str], list[str]]:
    """(tracked files, untracked files git does not ignore), relative to ``root``."""
    tracked = _git(root, "ls-files", "-z", "--cached").stdout.split("\0")
    others = _git(root, "ls-files", "-z", "--others", "--exclude-standard").stdout.split("\0")
    return list(dict.fromkeys(n for n in tracked if n)), [n for n in others if n]


def is_tracked(root: Path, rel: str) -> bool:
    """True when ``rel`` is in the git index."""
    proc = _git(root, "ls-files", "--error-unmatch", "--", rel, check=False)
    return proc.returncode == 0


def git_mv(root: Path, src: str, dst: str, *, force: bool = False) -> None:
    """``git mv`` keeping history; creates the destination's parent directories."""
    (root / dst).parent.mkdir(parents=True, exist_ok=True)
    args = ["mv"] + (["-f"] if force else []) + ["--", src, dst]
    _git(root, *args)


def git_add(root: Path, rel: str) -> None:
    _git(root, "add", "--", rel)


def git_rm(root: Path, rel: str) -> None:
    """Remove a tracked file from the index and the work tree."""
    _git(root, "rm", "-q", "-f", "--", rel)


def last_commit(root: Path, rel: str) -> CommitInfo | None:
    """The last commit that changed ``rel``, or None when it has none (untracked, no history)."""
    proc = _git(root, "log", "-1", "--format=%H%x00%cI%x00%s", "--", rel, check=False)
    text = proc.stdout.strip()
    if proc.returncode != 0 or not text:
        return None
    parts = text.split("\0")
    if len(parts) < 3:
        return None
    return CommitInfo(sha=parts[0], date=parts[1], subject=parts[2])
