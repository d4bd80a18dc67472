"""Git helpers: work-tree state, backups of the exact current state, restore, ``git mv``/``git rm``.

A backup is a commit under ``refs/qdrant-ops/backup-<UTC timestamp>`` shaped like ``git stash``'s:
its tree is the working tree (tracked changes, deletions and untracked files that are not ignored,
plus any ignored paths named explicitly), its first parent is ``HEAD`` and its second parent a
commit whose tree is the index, so restoring brings back what was staged as well. Nothing in the
user's working tree, index or branches changes when a backup is taken.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qdrant_ops.errors import GitError, NotFoundError

log = logging.getLogger(__name__)

BACKUP_PREFIX = "refs/qdrant-ops/backup-"


@dataclass(frozen=True)
class GitBackup:
    ref: str
    commit: str
    tree: str
    index_tree: str
    head: str | None


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    """Run git in ``repo`` and return its stdout; a failure raises GitError with git's message."""
    if shutil.which("git") is None:
        raise GitError("git is not installed")
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=full_env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise GitError(f"git {args[0]} failed: {msg[-1] if msg else f'exit {proc.returncode}'}")
    return proc.stdout


def is_work_tree(path: Path) -> bool:
    if shutil.which("git") is None or not path.is_dir():
        return False
    proc = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=path, capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and proc.stdout.strip() == "true"


def toplevel(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--show-toplevel").strip())


def head(repo: Path) -> str | None:
    out = git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    return out or None


def dirty_paths(repo: Path) -> list[str]:
    """Paths with uncommitted changes or untracked (not ignored) files, as ``git status`` shows."""
    out = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    paths = []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":
                i += 1
        i += 1
    return paths


def is_clean(repo: Path) -> bool:
    return not dirty_paths(repo)


def is_tracked(repo: Path, rel: str) -> bool:
    return bool(git(repo, "ls-files", "--error-unmatch", "--", rel, check=False).strip())


def tracked_files(repo: Path) -> list[str]:
    return [p for p in git(repo, "ls-files", "-z").split("\0") if p]


def git_mv(repo: Path, src: str, dst: str) -> None:
    (repo / dst).parent.mkdir(parents=True, exist_ok=True)
    git(repo, "mv", "--", src, dst)


def git_rm(repo: Path, paths: Sequence[str]) -> None:
    """Remove files from the index and the working tree (``-f``: local edits were backed up)."""
    if paths:
        git(repo, "rm", "-q", "-f", "--", *paths)


def _index_path(repo: Path) -> Path:
    p = Path(git(repo, "rev-parse", "--git-path", "index").strip())
    return p if p.is_absolute() else repo / p


def create_backup(repo: Path, extra_paths: Iterable[str] = (), message: str = "") -> GitBackup:
    """Record the exact current state (working tree + index) under a new backup ref."""
    parent = head(repo)
    index_tree = git(repo, "write-tree").strip()
    with tempfile.TemporaryDirectory(prefix="qdrant-ops-index-") as tmp:
        tmp_index = Path(tmp) / "index"
        real = _index_path(repo)
        if real.exists():
            shutil.copyfile(real, tmp_index)
        env = {"GIT_INDEX_FILE": str(tmp_index)}
        git(repo, "add", "-A", "--", ".", env=env)
        forced = [p for p in extra_paths if (repo / p).exists()]
        if forced:
            git(repo, "add", "-f", "--", *forced, env=env)
        tree = git(repo, "write-tree", env=env).strip()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    parents = ["-p", parent] if parent else []
    i_commit = git(repo, "commit-tree", index_tree, *parents, "-m", f"qdrant-ops index at {stamp}").strip()
    text = message or "qdrant-ops backup"
    commit = git(repo, "commit-tree", tree, *parents, "-p", i_commit, "-m", f"{text} ({stamp})").strip()
    ref = BACKUP_PREFIX + stamp
    git(repo, "update-ref", ref, commit, "")
    log.info("backup of the working tree and index at %s (%s)", ref, commit[:12])
    return GitBackup(ref, commit, tree, index_tree, parent)


def list_backups(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname)", BACKUP_PREFIX.rstrip("-").rsplit("/", 1)[0])
    return [r for r in out.splitlines() if r.startswith(BACKUP_PREFIX)]


def resolve_backup(repo: Path, name: str) -> GitBackup:
    """A backup by full ref, short name (``backup-...``) or commit."""
    for cand in (name, f"refs/qdrant-ops/{name}", BACKUP_PREFIX + name):
        commit = git(repo, "rev-parse", "--verify", "-q", f"{cand}^{{commit}}", check=False).strip()
        if commit:
            tree = git(repo, "rev-parse", f"{commit}^{{tree}}").strip()
            index_tree = git(repo, "rev-parse", "--verify", "-q", f"{commit}^2^{{tree}}", check=False).strip()
            parent = git(repo, "rev-parse", "--verify", "-q", f"{commit}^1", check=False).strip() or None
            return GitBackup(cand, commit, tree, index_tree or tree, parent)
    raise NotFoundError(f"no backup {name!r} in {repo}")


def restore_backup(repo: Path, backup: GitBackup, paths: Iterable[str] | None = None) -> list[str]:
    """Put back every file of the backup that differs now (or just ``paths``), then the index.

    Files created after the backup are left alone unless named in ``paths``, where a path absent
    from the backup is deleted. Returns the paths written or deleted.
    """
    with tempfile.TemporaryDirectory(prefix="qdrant-ops-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", backup.tree, env=env)
        in_backup = {p for p in git(repo, "ls-files", "-z", env=env).split("\0") if p}
        if paths is None:
            git(repo, "update-index", "-q", "--refresh", env=env, check=False)
            todo = [p for p in git(repo, "diff-files", "--name-only", "-z", env=env).split("\0") if p]
            gone: list[str] = []
        else:
            wanted = list(dict.fromkeys(paths))
            todo = [p for p in wanted if p in in_backup]
            gone = [p for p in wanted if p not in in_backup]
        if todo:
            for chunk in range(0, len(todo), 200):
                git(repo, "checkout-index", "-f", "-q", "--", *todo[chunk : chunk + 200], env=env)
    for p in gone:
        target = repo / p
        if target.is_file() or target.is_symlink():
            target.unlink()
    git(repo, "read-tree", backup.index_tree)
    git(repo, "update-index", "-q", "--refresh", check=False)
    return [*todo, *gone]


def reset_index(repo: Path, tree: str) -> None:
    """Make the index hold ``tree`` again (working tree untouched)."""
    git(repo, "read-tree", tree)
    git(repo, "update-index", "-q", "--refresh", check=False)
