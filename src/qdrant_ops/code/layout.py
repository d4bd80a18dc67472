"""Where a repository's modules live: its Python files, its import roots, and dotted names of paths."""

from __future__ import annotations

import configparser
import fnmatch
import logging
import os
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", "build", "dist",
        "site-packages", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    }
)
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")


def rel_parent(rel: str) -> str:
    parent = str(PurePosixPath(rel).parent)
    return "" if parent == "." else parent


def under(rel: str, directory: str) -> bool:
    return directory == "" or rel == directory or rel.startswith(directory + "/")


def join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def dotted(rel_from_root: str) -> str | None:
    parts = list(PurePosixPath(rel_from_root).parts)
    if not parts:
        return None
    last = parts[-1]
    if last.endswith(".py"):
        last = last[:-3]
        if last == "__init__":
            parts = parts[:-1]
        else:
            parts[-1] = last
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def common_depth(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        n += 1
    return n


def walk_py_files(root: Path, exclude: tuple[str, ...]) -> Iterator[str]:
    """Every ``.py`` file under ``root``, relative, skipping tool, vendor and excluded directories."""
    for dirpath, dirnames, filenames in os.walk(root):
        reldir = Path(dirpath).relative_to(root).as_posix()
        reldir = "" if reldir == "." else reldir
        keep = []
        for d in sorted(dirnames):
            sub = join(reldir, d)
            if d in SKIP_DIRS or d.endswith(".egg-info") or excluded(sub, exclude):
                continue
            if (Path(dirpath) / d / "pyvenv.cfg").exists() or os.path.islink(Path(dirpath) / d):
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            rel = join(reldir, f)
            full = Path(dirpath) / f
            if f.endswith(".py") and not full.is_symlink() and not excluded(rel, exclude):
                yield rel


def excluded(rel: str, exclude: tuple[str, ...]) -> bool:
    """Whether ``rel`` matches an ``--exclude`` pattern: the path, a folder above it, or (a pattern
    without ``/``) any one part of it."""
    parts = rel.split("/")
    for pattern in exclude:
        pat = pattern.strip().rstrip("/")
        if not pat:
            continue
        if fnmatch.fnmatchcase(rel, pat) or fnmatch.fnmatchcase(rel, pat + "/*"):
            return True
        if "/" not in pat and any(fnmatch.fnmatchcase(p, pat) for p in parts):
            return True
    return False


def find_roots(root: Path, files: Iterable[str]) -> list[str]:
    """The import roots: the repository root, ``src`` directories, project directories and the
    package directories their config declares."""
    roots: set[str] = {""}
    dirs = {rel_parent(r) for r in files}
    all_dirs = set()
    for d in dirs:
        while d:
            all_dirs.add(d)
            d = rel_parent(d)
    for d in all_dirs:
        if PurePosixPath(d).name == "src":
            roots.add(d)
    for d in sorted(all_dirs | {""}):
        if any((root / d / marker).is_file() for marker in PROJECT_MARKERS):
            roots.add(d)
            roots.update(declared_roots(root, d))
    return sorted(r for r in roots if r == "" or r in all_dirs)

def declared_roots(root: Path, project: str) -> set[str]:
    """Package directories a project's build and test config declares."""
    found: set[str] = set()
    base = root / project
    pyproject = base / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            log.info("cannot read %s: %s", pyproject, exc)
            data = {}
        tool: dict[str, Any] = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
        st = tool.get("setuptools", {})
        if isinstance(st, dict):
            find = st.get("packages", {})
            if isinstance(find, dict) and isinstance(find.get("find"), dict):
                for w in find["find"].get("where", []) or []:
                    found.add(str(w))
            pdir = st.get("package-dir", {})
            if isinstance(pdir, dict) and isinstance(pdir.get(""), str):
                found.add(pdir[""])
        poetry = tool.get("poetry", {})
        if isinstance(poetry, dict):
            for pkg in poetry.get("packages", []) or []:
                if isinstance(pkg, dict) and isinstance(pkg.get("from"), str):
                    found.add(pkg["from"])
        hatch = tool.get("hatch", {})
        wheel = hatch.get("build", {}).get("targets", {}).get("wheel", {}) if isinstance(hatch, dict) else {}
        if isinstance(wheel, dict):
            for pkg in wheel.get("packages", []) or []:
                if isinstance(pkg, str):
                    found.add(str(PurePosixPath(pkg).parent))
        pytest_ini = tool.get("pytest", {}).get("ini_options", {}) if isinstance(tool.get("pytest"), dict) else {}
        if isinstance(pytest_ini, dict):
            for p in pytest_ini.get("pythonpath", []) or []:
                found.add(str(p))
    setup_cfg = base / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read(setup_cfg, encoding="utf-8")
            value = parser.get("options", "package_dir", fallback="")
        except (configparser.Error, UnicodeDecodeError) as exc:
            log.info("cannot read %s: %s", setup_cfg, exc)
            value = ""
        for line in value.splitlines():
            key, _, target = line.partition("=")
            if not key.strip() and target.strip():
                found.add(target.strip())
    out = set()
    for d in found:
        norm = os.path.normpath(join(project, d.strip("/"))).replace(os.sep, "/")
        if norm in (".", ""):
            out.add("")
        elif not norm.startswith(".."):
            out.add(norm)
    return out
