"""Find, and rewrite, every textual reference to a moved script.

Which files: PowerShell, shell, batch, Makefiles, CI YAML, Dockerfiles, tox/setup.cfg/pyproject,
Markdown/RST docs, JSON (editor launch configs, notebooks), Procfile/justfile/Jenkinsfile, systemd
units and crontabs, and Python. Which forms:

- a path, relative to the repository root or to the referencing file's own directory, with ``/``,
  ``\\`` or an escaped ``\\\\``, with or without ``./`` / ``.\\`` and ``..`` parts, bare or after a
  variable that names a directory (``$PSScriptRoot\\``, ``%~dp0``, ``$(dirname "$0")/``,
  ``${{ github.workspace }}/``, ``$(CURDIR)/``): ``python x.py``, ``py -3 x.py``,
  ``subprocess.run([sys.executable, "x.py"])``, ``runpy.run_path("x.py")``, links in docs;
- ``python -m pkg.module`` (also ``"-m", "pkg.module"`` in an argument list) and
  ``runpy.run_module("pkg.module")``;
- a console-script entry point ``pkg.module:main`` (reported, never rewritten);
- a bare file name that only the moved script carries (reported: it names no path).

A rewrite keeps the reference's own style: separator, ``./`` prefix, and whether it was relative
to the repository root or to the file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

RefKind = Literal["path", "module", "entry-point", "name"]

_SEP = r"(?:/|\\\\|\\)"
_SEG = r"[\w.\-]+"
_PATH_RE = re.compile(rf"(?:{_SEG}{_SEP})*{_SEG}\.pyw?(?![\w\-]|\.\w)")
_MODULE = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_DASH_M_RE = re.compile(rf"(?<![\w\-])-m(?P<gap>\s+|[\"']\s*,\s*[\"'])(?P<mod>{_MODULE})(?![\w.])")
_RUN_MODULE_RE = re.compile(rf"run_module\(\s*[\"'](?P<mod>{_MODULE})[\"']")
_ENTRY_RE = re.compile(rf"(?:[\"']|=[ \t]*)(?P<mod>{_MODULE})[ \t]*:[ \t]*[A-Za-z_][\w.]*")
_VAR_BEFORE_RE = re.compile(
    r"(?:\$\{\{[^}]*\}\}|\$\{[^}]*\}|\$\((?:[^()]|\([^()]*\))*\)|\$env:\w+|\$\w+|%\w+%|%~dp0)$"
)
_DIR_VARS = ("psscriptroot", "dirname", "bash_source", "~dp0", "script_dir", "scriptdir",
             "myinvocation", "scriptpath", "here")
_GENERIC_NAMES = frozenset({"__init__.py", "__main__.py", "main.py", "setup.py", "app.py", "run.py",
                            "manage.py", "utils.py", "config.py", "settings.py", "conftest.py"})
_CASELESS_KINDS = frozenset({"powershell", "batch"})
_CI_DIRS = (".github/workflows/", ".gitlab/", ".circleci/", ".buildkite/")
_HISTORY = re.compile(r"^(changelog|changes|history|news|release[-_ ]?notes)", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    """A file that moves: where it was, where it goes, and how it can be run as a module."""

    old: str
    new: str
    modules: tuple[str, ...] = ()
    new_module: str | None = None
    runnable_as_path: bool = True


@dataclass
class Hit:
    """One reference found in one file."""

    file: str
    start: int
    end: int
    line: int
    column: int
    kind: RefKind
    target: str
    text: str
    replacement: str | None
    note: str = ""


@dataclass
class ScanResult:
    hits: list[Hit] = field(default_factory=list)


def file_kind(rel: str) -> str | None:
    """The family of a text file worth scanning, or None."""
    p = PurePosixPath(rel)
    name = p.name.lower()
    suffix = p.suffix.lower()
    if rel.startswith(_CI_DIRS):
        return "yaml"  # a CI definition, whatever its name ends with (``cron.yml:`` exists)
    if name in (".env", ".flaskenv") or name.startswith(".env."):
        return "config"
    if suffix in (".ps1", ".psm1", ".psd1"):
        return "powershell"
    if suffix in (".sh", ".bash", ".zsh", ".ksh", ".fish") or name in (".envrc", "crontab"):
        return "shell"
    if suffix in (".bat", ".cmd"):
        return "batch"
    if name in ("makefile", "gnumakefile") or suffix == ".mk":
        return "make"
    if name in ("dockerfile", "containerfile") or name.startswith("dockerfile.") or suffix == ".dockerfile":
        return "docker"
    if suffix in (".yml", ".yaml"):
        return "yaml"
    if suffix in (".toml", ".cfg", ".ini", ".json", ".jsonc", ".ipynb", ".conf", ".service",
                  ".timer", ".cron") or name in ("procfile", "justfile", "jenkinsfile", "vagrantfile"):
        return "config"
    if suffix in (".md", ".markdown", ".rst", ".txt") and not name.startswith("requirements"):
        return "docs"
    if suffix in (".py", ".pyw"):
        return "python"
    return None


_OWN_REPORT_MD = re.compile(r"\A# qdrant-ops [\w-]+ report\n")
_OWN_REPORT_JSON = re.compile(r'\A\{\s*"schema":\s*"qdrant-ops/')


def is_own_report(text: str) -> bool:
    """A report qdrant-ops wrote (``--report`` inside the repository): it records a past run, so
    the next run must not rewrite the paths it names."""
    return bool(_OWN_REPORT_MD.match(text) or _OWN_REPORT_JSON.match(text))


def scan_kind(root: Path, rel: str) -> str | None:
    """``file_kind``, and ``shell`` for an extension-less script with a ``#!`` line."""
    kind = file_kind(rel)
    if kind is not None or PurePosixPath(rel).suffix:
        return kind
    try:
        with open(root / rel, "rb") as fh:
            head = fh.read(128)
    except OSError:
        return None
    return "shell" if head.startswith(b"#!") and b"\0" not in head else None


def is_history_file(rel: str) -> bool:
    """Changelogs record the past: their mentions are reported, never rewritten."""
    return bool(_HISTORY.match(PurePosixPath(rel).name))


def _line_col(text: str, offset: int) -> tuple[int, int, str]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    line = text.count("\n", 0, offset) + 1
    snippet = text[start:end].strip()
    if len(snippet) > 200:
        snippet = snippet[:197] + "..."
    return line, offset - start + 1, snippet


def _sep_of(token: str) -> str:
    m = re.search(r"\\\\|\\|/", token)
    return m.group(0) if m else "/"


def _render(path: str, sep: str, dot_prefix: bool) -> str:
    if dot_prefix and not path.startswith(".."):
        path = "./" + path
    return path.replace("/", sep)


def _resolve(token: str, base_dir: str, prefer_dir: bool, cwd: str | None = None) -> list[tuple[str, str]]:
    """Candidate repository paths for ``token``: (path, the directory it is relative to).

    A variable naming the script's folder wins; then the directory the command runs in, when
    known; then the repository root and the file's own directory.
    """
    norm = re.sub(r"\\\\|\\", "/", token)
    out: list[tuple[str, str]] = []
    if prefer_dir:
        orders = [base_dir, ""]
    else:
        orders = ([] if cwd is None else [cwd]) + ["", base_dir]
    for base in dict.fromkeys(orders):
        joined = posixpath.normpath(posixpath.join(base, norm)) if base else posixpath.normpath(norm)
        if joined.startswith("../") or joined == ".." or joined.startswith("/"):
            continue
        out.append((joined, base))
    return out


class ReferenceScanner:
    """Scans text for references to a fixed set of moved files."""

    def __init__(self, targets: Iterable[Target], all_basenames: Mapping[str, int]) -> None:
        self.targets = {t.old: t for t in targets}
        self.lower = {k.lower(): t for k, t in self.targets.items()}
        self.by_module: dict[str, Target] = {}
        for t in self.targets.values():
            for mod in t.modules:
                self.by_module.setdefault(mod, t)
        # A bare file name is reported only when no other file in the repository carries it.
        self.unique_names = {
            PurePosixPath(t.old).name: t
            for t in self.targets.values()
            if all_basenames.get(PurePosixPath(t.old).name, 0) == 1
            and PurePosixPath(t.old).name not in _GENERIC_NAMES
        }

    def scan(self, rel: str, text: str, kind: str,
             dirs: Callable[[int], str | None] | None = None) -> list[Hit]:
        """Every reference in ``text``; ``dirs`` gives the directory a command at an offset runs in."""
        hits: list[Hit] = []
        base_dir = posixpath.dirname(rel)
        taken: list[tuple[int, int]] = []
        where = dirs or (lambda _offset: None)
        self._scan_modules(rel, text, kind, hits, taken, where)
        for m in _PATH_RE.finditer(text):
            start, end = m.start(), m.end()
            if any(s <= start < e for s, e in taken):
                continue
            token = m.group(0)
            prefer_dir = False
            sep_hint = ""
            prev = text[start - 1] if start else ""
            if prev == "$" or (prev == ":" and text[:start].lower().endswith("$env:")):
                # ``$PSScriptRoot\x.py``, ``$ROOT/x.py``, ``$env:HOME\x.py``: a variable, then the path
                var = re.match(rf"\w+{_SEP}", token)
                if var is None:
                    continue
                prefer_dir = any(v in var.group(0).lower() for v in _DIR_VARS)
                sep_hint = _sep_of(var.group(0))
                start += var.end()
                token = token[var.end() :]
            elif prev == "~" and text[:start].endswith("%~") and token.lower().startswith("dp0"):
                # ``%~dp0x.py`` / ``%~dp0\x.py``: the batch file's own directory
                skip = 3 + (len(m2.group(0)) if (m2 := re.match(_SEP, token[3:])) else 0)
                sep_hint = "\\"
                start += skip
                token = token[skip:]
                prefer_dir = True
            elif prev and (prev.isalnum() or prev in "._-~%"):
                continue
            elif prev in ("/", "\\"):
                before = text[max(0, start - 120) : start].rstrip("/\\")
                found = _VAR_BEFORE_RE.search(before)
                if found is None:
                    continue
                prefer_dir = any(v in found.group(0).lower() for v in _DIR_VARS)
                sep_hint = prev
            if not token:
                continue
            self._path_hit(rel, text, start, end, token, base_dir, prefer_dir, kind, hits,
                           sep_hint, where(start))
        return sorted(hits, key=lambda h: h.start)

    def _path_hit(
        self,
        rel: str,
        text: str,
        start: int,
        end: int,
        token: str,
        base_dir: str,
        prefer_dir: bool,
        kind: str,
        hits: list[Hit],
        sep_hint: str = "",
        cwd: str | None = None,
    ) -> None:
        line, col, snippet = _line_col(text, start)
        caseless = kind in _CASELESS_KINDS
        for cand, base in _resolve(token, base_dir, prefer_dir, cwd):
            target = self.lower.get(cand.lower()) if caseless else self.targets.get(cand)
            if target is None:
                continue
            new = posixpath.relpath(target.new, base) if base else target.new
            dot = bool(re.match(r"\.(?:/|\\)", token))
            hits.append(
                Hit(rel, start, end, line, col, "path", target.old, snippet,
                    _render(new, _sep_of(token) if re.search(_SEP, token) else sep_hint or "/", dot))
            )
            return
        name_target = self.unique_names.get(token)
        if name_target is not None and "/" not in token and "\\" not in token and kind != "python":
            hits.append(
                Hit(rel, start, end, line, col, "name", name_target.old, snippet, None,
                    "names the script without a path it can be resolved from; check it by hand")
            )

    def _scan_modules(
        self, rel: str, text: str, kind: str, hits: list[Hit], taken: list[tuple[int, int]],
        where: Callable[[int], str | None],
    ) -> None:
        if not self.by_module:
            return
        for m in _DASH_M_RE.finditer(text):
            target = self.by_module.get(m.group("mod"))
            if target is None:
                continue
            line, col, snippet = _line_col(text, m.start())
            cwd = where(m.start())
            stem = "/".join(p for p in (cwd, m.group("mod").replace(".", "/")) if p)
            if cwd and target.old in (f"{stem}.py", f"{stem}/__main__.py", f"{stem}/__init__.py"):
                # run from a sub-directory: the archive's module name does not import from there,
                # so the command gets the new path relative to where it runs
                if target.runnable_as_path:
                    sep = "\\" if kind == "batch" else "/"
                    hits.append(Hit(rel, m.start(), m.end("mod"), line, col, "module", target.old,
                                    snippet, posixpath.relpath(target.new, cwd).replace("/", sep),
                                    f"`-m` became a path relative to {cwd}/, where the command runs"))
                else:
                    hits.append(Hit(rel, m.start("mod"), m.end("mod"), line, col, "module",
                                    target.old, snippet, None,
                                    "runs as a module with relative imports from a sub-directory; "
                                    "change it by hand"))
            elif target.new_module:
                hits.append(Hit(rel, m.start("mod"), m.end("mod"), line, col, "module",
                                target.old, snippet, target.new_module))
            elif target.runnable_as_path:
                sep = "\\" if kind == "batch" else "/"
                hits.append(Hit(rel, m.start(), m.end("mod"), line, col, "module", target.old,
                                snippet, target.new.replace("/", sep),
                                "`-m` became a path: the archive directory is not an importable "
                                "package name"))
            else:
                hits.append(Hit(rel, m.start("mod"), m.end("mod"), line, col, "module", target.old,
                                snippet, None,
                                "runs as a module with relative imports, and the archive directory "
                                "is not an importable package name; change it by hand"))
            taken.append((m.start(), m.end()))
        for m in _RUN_MODULE_RE.finditer(text):
            target = self.by_module.get(m.group("mod"))
            if target is None:
                continue
            line, col, snippet = _line_col(text, m.start())
            hits.append(Hit(rel, m.start("mod"), m.end("mod"), line, col, "module", target.old,
                            snippet, target.new_module,
                            "" if target.new_module else "runpy.run_module of a module whose new "
                            "home is not importable; use runpy.run_path by hand"))
            taken.append((m.start(), m.end()))
        if kind == "config" or PurePosixPath(rel).name == "setup.py":
            for m in _ENTRY_RE.finditer(text):
                target = self.by_module.get(m.group("mod"))
                if target is None or any(s <= m.start() < e for s, e in taken):
                    continue
                line, col, snippet = _line_col(text, m.start())
                hits.append(Hit(rel, m.start("mod"), m.end("mod"), line, col, "entry-point",
                                target.old, snippet, None,
                                "an entry point into an archived module; remove or repoint it by "
                                "hand"))
                taken.append((m.start(), m.end()))


def apply_hits(text: str, hits: Iterable[Hit]) -> str:
    """``text`` with every hit that has a replacement rewritten (hits must not overlap)."""
    out: list[str] = []
    pos = 0
    for h in sorted(hits, key=lambda h: h.start):
        if h.replacement is None or h.start < pos:
            continue
        out.append(text[pos : h.start])
        out.append(h.replacement)
        pos = h.end
    out.append(text[pos:])
    return "".join(out)
