"""Commands that start code, and the directory each one runs in.

Two questions the archive must answer before it moves anything:

- which modules are **application entry points**: ``module:attr`` handed to a server or worker
  (uvicorn, gunicorn, hypercorn, daphne, granian, celery, dramatiq, flask, ...), in a command
  file, a CI workflow, a Dockerfile, a compose file, a Procfile, ``package.json`` scripts, a
  systemd unit, docs, or a ``uvicorn.run("module:app")`` string in Python;
- where a command runs: a Makefile recipe in its own directory (and after a ``cd`` on the line),
  a CI step in its ``working-directory``, a Dockerfile command in its ``WORKDIR`` mapped back
  through ``COPY``, a script in its own folder once it ``cd``s there.

``None`` as a directory means "not known": callers then try the repository root and the file's
own directory, as before.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

_MODULE = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
# A server or worker that takes an import string: the ``module:attr`` after it is an entry point.
_RUNNERS = re.compile(
    r"(?<![\w-])(?:uvicorn|gunicorn|hypercorn|daphne|granian|uwsgi|waitress-serve|celery|"
    r"dramatiq|flask|fastapi|arq|faust|huey_consumer|rq|taskiq|litestar|sanic|streamlit)(?![\w-])"
)
_APP_REF = re.compile(rf"(?<![\w.:/@$-])(?P<mod>{_MODULE}):(?P<attr>[A-Za-z_][\w.]*)(?![\w/:-])")
# ``celery -A proj``, ``flask --app proj``, ``dramatiq proj.tasks``, ``FLASK_APP=proj``: a module
# with no ``:attr``.
_MODULE_ARG = re.compile(
    rf"(?:(?<![\w-])(?:-A|--app)(?:\s+|=)|(?<![\w])(?:FLASK_APP|CELERY_APP)\s*[=:]\s*[\"']?|"
    rf"(?<![\w-])dramatiq(?:\s+-{{1,2}}[\w-]+(?:[= ]\d+)?)*\s+)(?P<mod>{_MODULE})(?P<attr>:[A-Za-z_]\w*)?"
    r"(?![\w./\\])"
)
_PY_RUN = re.compile(rf"(?:uvicorn|hypercorn|granian)\.run\(\s*(?:app\s*=\s*)?[\"'](?P<mod>{_MODULE}):"
                     r"(?P<attr>[A-Za-z_]\w*)[\"']")
# Servers that take the application's file: ``streamlit run app.py``, ``fastapi run main.py``.
_PATH_SERVER = re.compile(
    r"(?<![\w-])(?:streamlit|fastapi|panel|chainlit|solara)[\s\"',]+(?:run|dev|serve)(?![\w-])"
    r"[^\n;&|]*?[\s\"',\[][\"']?(?P<path>(?:\.{1,2}[/\\])*[\w\-][\w./\\-]*\.py)(?![\w.])"
)
_APP_DIR = re.compile(r"--app-dir(?:\s+|=)[\"']?(?P<dir>[^\s\"']+)")
_CD = re.compile(r"(?:^|&&|;|\|\|)\s*(?:cd|pushd|Set-Location)\s+(?:/d\s+)?(?P<dir>\"[^\"]*\"|'[^']*'|[^\s;&|]+)"
                 r"\s*(?:&&|;|\|\||$)")
_OWN_DIR = re.compile(r"dirname|PSScriptRoot|~dp0|BASH_SOURCE|MyInvocation", re.IGNORECASE)
_OWN_DIR_EXPR = re.compile(
    r"\$\(\s*cd\s+\"?\$\(\s*dirname\s+(?:\"[^\"]*\"|\S+?)\s*\)\"?\s*&&\s*pwd\s*\)|"
    r"\$\(\s*dirname\s+(?:\"[^\"]*\"|\S+?)\s*\)|\$\{?PSScriptRoot\}?|%~dp0|"
    r"\$\(\s*Split-Path\s+[^)]*\)|\$\{?BASH_SOURCE(?:\[0\])?\}?", re.IGNORECASE)
_WORKDIR = re.compile(r"^\s*working-directory:\s*[\"']?(?P<dir>[^\"'#\n]+?)[\"']?\s*(?:#.*)?$")
_STEP = re.compile(r"^(?P<indent>\s*)-\s")
_DOCKER_INSTR = re.compile(r"^\s*(?P<op>WORKDIR|COPY|ADD)\s+(?P<args>.+?)\s*$", re.IGNORECASE)
_CI_DIRS = (".github/workflows/", ".gitlab/", ".circleci/", ".buildkite/", ".azure-pipelines/")


@dataclass(frozen=True)
class AppRef:
    """A ``module[:attr]`` handed to a server or worker in some file."""

    file: str
    start: int  # offsets of ``module`` in the file's text
    end: int
    line: int
    text: str
    module: str  # for a server given a file (``streamlit run app.py``): that path
    attr: str | None
    cwd: str | None  # where the command runs, when known
    is_path: bool = False

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.attr}" if self.attr else self.module


def _line_text(text: str, offset: int) -> tuple[int, str]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line = text[start : len(text) if end < 0 else end].strip()
    return text.count("\n", 0, offset) + 1, line if len(line) <= 200 else line[:197] + "..."


def _norm(base: str, sub: str) -> str | None:
    """``sub`` relative to the repository directory ``base``; None when it leaves the repository."""
    sub = sub.strip().strip("\"'").replace("\\", "/")
    if not sub or sub.startswith(("/", "$", "%", "~")):
        return None
    joined = posixpath.normpath(posixpath.join(base, sub)) if base else posixpath.normpath(sub)
    if joined == ".":
        return ""
    return None if joined.startswith("..") else joined


def is_ci_file(rel: str) -> bool:
    return rel.startswith(_CI_DIRS) or PurePosixPath(rel).name.lower() in (
        ".gitlab-ci.yml", "azure-pipelines.yml", "bitbucket-pipelines.yml", ".travis.yml")


def line_dirs(root: Path, rel: str, text: str, kind: str) -> Callable[[int], str | None]:
    """For an offset into ``text``, the repository directory the command there runs in."""
    here = posixpath.dirname(rel)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    base: list[str | None] = []
    if kind == "make" or (kind == "config" and PurePosixPath(rel).name.lower() in (
            "procfile", "package.json", "tox.ini", "justfile", "pyproject.toml", "setup.cfg")):
        base = [here] * len(starts)
    elif kind == "yaml" and is_ci_file(rel):
        base = _ci_dirs(text, len(starts))
    elif kind == "docker":
        base = _docker_dirs(root, rel, text, len(starts))
    elif kind == "yaml" and is_compose_file(rel):
        base = _compose_dirs(root, rel, text, len(starts))
    elif kind in ("shell", "powershell", "batch"):
        cur: str | None = None
        for line in text.split("\n"):
            base.append(cur)
            m = re.match(r"^\s*(?:cd|pushd|Set-Location)\s+(?:/d\s+)?(?P<arg>.+?)\s*$", line)
            if m and _OWN_DIR.search(m.group("arg")):
                cur = _own_dir(m.group("arg"), here)
    else:
        base = [None] * len(starts)

    def at(offset: int) -> str | None:
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        cwd = base[lo] if lo < len(base) else None
        line = text[starts[lo] : offset]
        for m in _CD.finditer(line):  # ``cd sub && python x.py`` on the same line
            arg = m.group("dir")
            if _OWN_DIR.search(arg):
                cwd = _own_dir(arg, here)
            elif cwd is not None:
                cwd = _norm(cwd, arg)
        return cwd

    return at


def _own_dir(arg: str, here: str) -> str | None:
    """Where ``cd "$(dirname "$0")/.."`` (or ``$PSScriptRoot\\..``, ``%~dp0..``) goes, for a
    script in ``here``."""
    rest = _OWN_DIR_EXPR.sub("", arg.strip().strip("\"'")).strip("\"'").replace("\\", "/").strip("/")
    return _norm(here, rest) if rest else here


def _ci_dirs(text: str, n: int) -> list[str | None]:
    """Each line's working directory in a CI file: its step's ``working-directory``, else a
    ``defaults`` one, else the repository root."""
    lines = text.split("\n")
    stack: list[tuple[int, int]] = []  # open list items: (indent of the dash, first line)
    owners: list[tuple[int, ...]] = []
    step_dir: dict[int, str | None] = {}
    default: str | None = ""
    for i, line in enumerate(lines):
        body = line.lstrip()
        if body and not body.startswith("#"):
            indent = len(line) - len(body)
            while stack and indent <= stack[-1][0]:
                stack.pop()
            if _STEP.match(line):
                stack.append((indent, i))
        owners.append(tuple(start for _, start in stack))
        m = _WORKDIR.match(re.sub(r"^(\s*)-\s", r"\1  ", line))
        if m:
            if stack:
                step_dir[stack[-1][1]] = _norm("", m.group("dir"))
            else:
                default = _norm("", m.group("dir"))
    out: list[str | None] = []
    for i in range(n):
        found = [step_dir[s] for s in reversed(owners[i]) if s in step_dir] if i < len(owners) else []
        out.append(found[0] if found else default)
    return out


def is_compose_file(rel: str) -> bool:
    name = PurePosixPath(rel).name.lower()
    return name.endswith((".yml", ".yaml")) and (name.startswith(("docker-compose", "compose")))


def _compose_dirs(root: Path, rel: str, text: str, n: int) -> list[str | None]:
    """Each line's directory in a compose file: its service's ``working_dir`` (else its image's
    ``WORKDIR``) mapped back through the service's bind mounts and its Dockerfile's ``COPY``."""
    import yaml

    out: list[str | None] = [None] * n
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return out
    if not isinstance(tree, yaml.MappingNode) or not isinstance(data, dict):
        return out
    services = next((v for k, v in tree.value if k.value == "services"), None)
    if not isinstance(services, yaml.MappingNode) or not isinstance(data.get("services"), dict):
        return out
    here = posixpath.dirname(rel)
    for key, node in services.value:
        svc = data["services"].get(key.value)
        if not isinstance(svc, dict):
            continue
        found = _service_dir(root, here, svc)
        for line in range(key.start_mark.line, min(node.end_mark.line + 1, n)):
            out[line] = found
    return out


def _service_dir(root: Path, here: str, svc: dict[str, Any]) -> str | None:
    workdir = svc.get("working_dir")
    copies: list[tuple[str, str]] = []
    build = svc.get("build")
    context = build if isinstance(build, str) else build.get("context", ".") if isinstance(build, dict) else None
    if isinstance(context, str):
        ctx = _norm(here, context)
        dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        path = _norm(ctx, dockerfile) if ctx is not None and isinstance(dockerfile, str) else None
        if path is not None and (root / path).is_file():
            image_dir, copies = _docker_state(root, ctx or "", (root / path).read_text(errors="replace"))
            workdir = workdir if isinstance(workdir, str) else image_dir
    if not isinstance(workdir, str) or not workdir.startswith("/"):
        return None
    mounts: list[tuple[str, str]] = []
    volumes = svc.get("volumes")
    for vol in volumes if isinstance(volumes, list) else []:
        src = dst = None
        if isinstance(vol, str) and vol.count(":") >= 1:
            src, dst = vol.split(":")[:2]
        elif isinstance(vol, dict) and vol.get("type") == "bind":
            src, dst = vol.get("source"), vol.get("target")
        # Only paths relative to the compose file name a folder of the repository.
        if isinstance(src, str) and isinstance(dst, str) and src.startswith("."):
            repo_dir = _norm(here, src)
            if repo_dir is not None and (root / repo_dir).is_dir():
                mounts.append((posixpath.normpath(dst), repo_dir))
    # A bind mount hides what the image copied to the same place.
    copies = [c for c in copies if c[0] not in {m[0] for m in mounts}] + mounts
    return _map_workdir(posixpath.normpath(workdir), copies)


def _docker_state(root: Path, ctx: str, text: str) -> tuple[str, list[tuple[str, str]]]:
    """A Dockerfile's last ``WORKDIR`` and its ``COPY`` map (container dir, repository dir)."""
    workdir, copies = "/", []
    for op, args in _docker_instructions(text):
        if op == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, args.strip().strip("\"'")))
        elif op and (copy := _docker_copy(root, (ctx,), workdir, args)) is not None:
            copies.append(copy)
    return workdir, copies


def _docker_instructions(text: str) -> Iterable[tuple[str, str]]:
    for line in text.split("\n"):
        m = _DOCKER_INSTR.match(line)
        yield (m.group("op").upper(), m.group("args")) if m else ("", "")


def _docker_copy(root: Path, ctxs: tuple[str, ...], workdir: str, args: str) -> tuple[str, str] | None:
    """``COPY SRC DST`` as (container dir, repository dir), ``SRC`` taken in the first build
    context it names a folder of."""
    try:
        parts = json.loads(args) if args.startswith("[") else args.split()
    except ValueError:
        return None
    parts = [p for p in parts if isinstance(p, str) and not p.startswith("--")]
    if len(parts) != 2:
        return None
    src, dst = parts
    dst = posixpath.normpath(posixpath.join(workdir, dst))
    for ctx in ctxs:
        repo_dir = _norm(ctx, src)
        if repo_dir is not None and (root / repo_dir).is_dir():
            return dst, repo_dir
    return None


def _docker_dirs(root: Path, rel: str, text: str, n: int) -> list[str | None]:
    """Each line's directory in the repository: the ``WORKDIR`` mapped back through ``COPY``."""
    workdir = "/"
    copies: list[tuple[str, str]] = []  # (container dir, repository dir)
    out: list[str | None] = []
    for op, args in _docker_instructions(text):
        out.append(_map_workdir(workdir, copies))
        if op == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, args.strip().strip("\"'")))
        elif op and (copy := _docker_copy(root, ("", posixpath.dirname(rel)), workdir, args)) is not None:
            copies.append(copy)
    return out[:n] + [None] * max(0, n - len(out))


def _map_workdir(workdir: str, copies: list[tuple[str, str]]) -> str | None:
    """The repository directory ``workdir`` holds; None when unknown or when several folders
    were copied into it (the image merges them)."""
    best = [(dst, src) for dst, src in copies
            if workdir == dst or workdir.startswith(dst.rstrip("/") + "/")]
    if not best:
        return None
    longest = max(len(dst) for dst, _ in best)
    found = {_norm(src, rest) if (rest := workdir[len(dst):].strip("/")) else src
             for dst, src in best if len(dst) == longest}
    return found.pop() if len(found) == 1 else None


def app_refs(root: Path, rel: str, text: str, kind: str) -> list[AppRef]:
    """Every ``module[:attr]`` a server or worker is started with in ``text``."""
    out: list[AppRef] = []
    dirs = line_dirs(root, rel, text, kind)
    seen: set[int] = set()

    def add(m: re.Match[str], cwd: str | None) -> None:
        if m.start("mod") in seen:
            return
        seen.add(m.start("mod"))
        line, snippet = _line_text(text, m.start())
        attr = m.group("attr")
        out.append(AppRef(rel, m.start("mod"), m.end("mod"), line, snippet, m.group("mod"),
                          attr.lstrip(":") if attr else None, cwd))

    if kind == "python":
        for m in _PY_RUN.finditer(text):
            add(m, posixpath.dirname(rel))  # a script that starts a server runs from its folder
        return out
    for lm in re.finditer(r"[^\n]*", text):
        line = lm.group(0)
        if not _RUNNERS.search(line) and "FLASK_APP" not in line and "CELERY_APP" not in line:
            continue
        app_dir = _APP_DIR.search(line)
        for pat in (_APP_REF, _MODULE_ARG):
            for m in pat.finditer(text, lm.start(), lm.end()):
                cwd = dirs(m.start())
                if app_dir and cwd is not None:
                    cwd = _norm(cwd, app_dir.group("dir"))
                add(m, cwd)
        for m in _PATH_SERVER.finditer(text, lm.start(), lm.end()):
            if m.start("path") not in seen:
                seen.add(m.start("path"))
                lineno, snippet = _line_text(text, m.start())
                out.append(AppRef(rel, m.start("path"), m.end("path"), lineno, snippet,
                                  m.group("path").replace("\\", "/"), None, dirs(m.start()), True))
    return sorted(out, key=lambda r: r.start)


def module_paths(module: str, base: str) -> list[str]:
    """The files an import of ``module`` from directory ``base`` could load."""
    stem = "/".join(p for p in (base, module.replace(".", "/")) if p)
    return [f"{stem}.py", f"{stem}/__init__.py"]


def resolve_app(ref: AppRef, exists: Callable[[str], bool], files: Iterable[str]) -> list[str]:
    """The files ``ref`` starts: from where it runs, else from the repository root or its file's
    folder, else every file whose path ends with the module's (more than one when unsure)."""
    bases: list[str] = [] if ref.cwd is None else [ref.cwd]
    bases += [b for b in ("", posixpath.dirname(ref.file)) if b not in bases]
    for base in bases:
        if ref.is_path:
            norm = _norm(base, ref.module)
            hits = [norm] if norm is not None and exists(norm) else []
        else:
            hits = [p for p in module_paths(ref.module, base) if exists(p)]
        if hits:
            return hits[:1]
    if ref.is_path:
        tail = posixpath.normpath(ref.module)
        if tail.startswith(".."):
            return []
        return sorted(f for f in files if f == tail or f.endswith("/" + tail))
    tails = module_paths(ref.module, "")
    return sorted(f for f in files if any(f == t or f.endswith("/" + t) for t in tails))
