"""What is live: application entry points, and the files commands run.

An **entry point** is never archived unless ``--force`` says so, and nothing is moved or pruned
for it: a module a server or worker starts (``uvicorn core.server:app`` in a Dockerfile, a
Procfile, a Makefile, CI, compose, ``package.json``, docs, or ``uvicorn.run("core.server:app")``
in Python), a module named by packaging metadata (``[project.scripts]``, Poetry scripts,
``console_scripts``), and a module that builds an application object at its top level
(``app = FastAPI()``, ``Flask(__name__)``, ``Celery(...)``, ...).

A file is **in use** when a command file (shell, PowerShell, batch, Makefile, CI, Dockerfile,
compose, Procfile, ``package.json``, tox, systemd, ...) or live Python code runs it, by path or
with ``-m``; the answer is ``FILE:LINE`` of each such command.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from qdrant_ops.code.cleanup.commands import AppRef, app_refs, line_dirs, resolve_app
from qdrant_ops.code.cleanup.references import ReferenceScanner, Target, is_own_report, scan_kind
from qdrant_ops.code.index import ImportRef, RepoIndex
from qdrant_ops.code.textfiles import read_text

# A module-level ``name = Framework(...)``: the module is an application.
_APP_BUILDER = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s*(?::[^=\n]+)?=\s*(?:[\w.]+\.)?"
    r"(?P<cls>FastAPI|Flask|Quart|Starlette|Sanic|Litestar|Celery|Bottle|Robyn|Dramatiq|"
    r"get_asgi_application|get_wsgi_application|falcon\.App|falcon\.asgi\.App|web\.Application)\(",
    re.MULTILINE,
)
# Notebooks hold outputs and images, not commands (and they are large to scan).
_NOT_COMMANDS = (".ipynb",)
_PACKAGING = frozenset({"pyproject.toml", "setup.cfg", "setup.py"})
_PACKAGING_ENTRY = re.compile(r"""(?P<mod>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*:\s*[A-Za-z_]\w*""")
# Names the real qdrant_client package exports: an import of them means the package, even where a
# local ``qdrant_client.py`` shadows it (that shadow is the bug, not a user of the import).
QDRANT_CLIENT_NAMES = frozenset({
    "QdrantClient", "AsyncQdrantClient", "models", "http", "grpc", "conversions", "common", "local",
    "fastembed_common", "hybrid", "embed", "async_qdrant_client", "qdrant_client", "qdrant_remote",
    "async_qdrant_remote", "uploader", "connection", "migrate", "client_base", "async_client_base",
    "qdrant_fastembed", "async_qdrant_fastembed", "parallel_processor", "auth",
})


@dataclass
class Texts:
    """Text files of the repository, read once, with their scan kind."""

    root: Path
    files: list[str]
    _cache: dict[str, tuple[str, str] | None] = field(default_factory=dict)

    def get(self, rel: str) -> tuple[str, str] | None:
        """(kind, text) of a file worth scanning, or None."""
        if rel not in self._cache:
            kind = scan_kind(self.root, rel)
            tf = read_text(self.root / rel) if kind is not None else None
            # a qdrant-ops report records a past run: the paths it names are not commands
            self._cache[rel] = (kind, tf.text) if kind is not None and tf is not None \
                and not is_own_report(tf.text) else None
        return self._cache[rel]


@dataclass
class LiveCode:
    entry: dict[str, list[str]] = field(default_factory=dict)  # path -> why it is an entry point
    refs: list[tuple[AppRef, list[str]]] = field(default_factory=list)  # each start, its files

    def why(self, rel: str) -> str:
        return "; ".join(self.entry.get(rel, [])[:3])


def means_package(index: RepoIndex, ref: ImportRef) -> bool:
    """An import that resolves to a local ``qdrant_client.py`` but means the real package."""
    target = ref.local_path
    if target is None or ref.relative or ref.root != "qdrant_client":
        return False
    p = PurePosixPath(target)
    if p.name != "qdrant_client.py" and not (p.name == "__init__.py" and p.parent.name == "qdrant_client"):
        return False
    if ref.module != "qdrant_client" or not ref.names:
        return True  # ``import qdrant_client`` / ``qdrant_client.models``: the package's own
    return all(n in QDRANT_CLIENT_NAMES for n in ref.names)


def find_live(index: RepoIndex, texts: Texts) -> LiveCode:
    """Every entry point of the repository, with the reason for each."""
    live = LiveCode()
    known = set(index.files)
    for rel in texts.files:
        got = texts.get(rel)
        if got is None or rel.endswith(_NOT_COMMANDS):
            continue
        kind, text = got
        for ref in app_refs(texts.root, rel, text, kind):
            paths = resolve_app(ref, known.__contains__, known)
            if not paths:
                continue
            live.refs.append((ref, paths))
            where = f"{ref.cwd}/" if ref.cwd else ""
            for p in paths:
                note = f"started by {rel}:{ref.line} (`{ref.spec}`" + (
                    f", run in {where})" if where else ")")
                live.entry.setdefault(p, []).append(note)
        if PurePosixPath(rel).name in _PACKAGING:
            _packaging(rel, text, live, known)
    for rel, f in index.files.items():
        if f.module is None:
            continue
        m = _APP_BUILDER.search(f.source)
        if m is not None and not _is_test(rel):
            line = f.source.count("\n", 0, m.start()) + 1
            live.entry.setdefault(rel, []).append(
                f"builds an application object ({m.group('cls')}() at line {line})")
    return live


def _packaging(rel: str, text: str, live: LiveCode, known: set[str]) -> None:
    here = str(PurePosixPath(rel).parent)
    here = "" if here == "." else here
    for m in _PACKAGING_ENTRY.finditer(text):
        ref = AppRef(rel, m.start("mod"), m.end("mod"), text.count("\n", 0, m.start()) + 1,
                     "", m.group("mod"), None, here)
        for p in resolve_app(ref, known.__contains__, ()):
            live.entry.setdefault(p, []).append(
                f"a packaging entry point ({rel}:{ref.line} `{m.group(0)}`)")


def _is_test(rel: str) -> bool:
    p = PurePosixPath(rel)
    return any(part in ("tests", "test") for part in p.parts[:-1]) or p.name.startswith("test_") \
        or p.name == "conftest.py"


def command_users(index: RepoIndex, texts: Texts, paths: Iterable[str], exclude: Iterable[str],
                  *, with_docs: bool = False) -> dict[str, list[str]]:
    """``FILE:LINE`` of every command (not docs, not the ``exclude`` files) that runs one of ``paths``."""
    wanted = [p for p in paths]
    if not wanted:
        return {}
    targets = []
    for p in wanted:
        names = [n for n in index.names_for_path(p) if "." in n or "/" not in p]
        names += [n[: -len(".__main__")] for n in names if n.endswith(".__main__")]
        targets.append(Target(old=p, new=p, modules=tuple(dict.fromkeys(names))))
    scanner = ReferenceScanner(targets, Counter(PurePosixPath(f).name for f in texts.files))
    skipped = set(exclude)
    out: dict[str, list[str]] = {}
    for rel in texts.files:
        if rel in skipped:
            continue
        got = texts.get(rel)
        if got is None or (got[0] == "docs" and not with_docs) or rel.endswith(_NOT_COMMANDS):
            continue
        kind, text = got
        for h in scanner.scan(rel, text, kind, line_dirs(texts.root, rel, text, kind)):
            if h.kind == "name" or h.target == rel:
                continue
            out.setdefault(h.target, []).append(f"{rel}:{h.line}")
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}
