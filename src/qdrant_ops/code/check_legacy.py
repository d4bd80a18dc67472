"""``qdrant-ops check-legacy``: code that still references archived scripts or removed client modules.

What counts as gone comes from the records the code verbs leave: cleanup-legacy's
``<archive_path>/archive-index.json`` (every script moved, with its original path) and
consolidate-clients' report (``files_removed``), plus names given by hand. The files searched are
the ones cleanup-legacy rewrites (git's tracked and untracked-but-not-ignored files of a kind it
scans; documentation left out), for:

- the original paths (``/`` or ``\\`` separators, not as part of the archived path);
- in Python files, imports of an archived script or a removed module, under every name Python
  could import it by from the importing file (``from helper import f`` beside ``helper.py``);
- ``module:attr`` handed to a server or worker (``uvicorn core.server:app``) that resolves, from
  where the command runs, to an archived script.

Each hit is ``file:line``.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from qdrant_ops.code.cleanup.commands import app_refs, resolve_app
from qdrant_ops.reports import Report, md_table
from qdrant_ops.runbook.model import CheckLegacyConfig

log = logging.getLogger(__name__)

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache", ".qdrant-ops"}
MAX_FILE = 2 * 1024 * 1024


class Finding(BaseModel):
    file: str
    line: int
    kind: str  # "archived script" | "archived module" | "archived entry point" | "removed module"
    target: str
    text: str


class CheckLegacyReport(Report):
    verb: str = "check-legacy"
    repo: str = ""
    scripts: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    files_scanned: int = 0
    findings: list[Finding] = Field(default_factory=list)

    def finding_lines(self) -> list[str]:
        return [f"{f.file}:{f.line}: references {f.kind} {f.target}: {f.text}" for f in self.findings]

    def summary_lines(self) -> list[str]:
        lines = [
            f"check-legacy: {self.status}: {len(self.findings)} reference(s) to {len(self.scripts)} archived "
            f"script(s) and {len(self.modules)} removed module(s) in {self.files_scanned} files"
        ]
        return lines

    def markdown_sections(self) -> list[str]:
        out = ["", f"Repository: `{self.repo}` · records: " + (", ".join(f"`{s}`" for s in self.sources) or "none")]
        if self.findings:
            out += ["", "## References left", "",
                    md_table(["file", "line", "kind", "target", "text"],
                             [[f.file, f.line, f.kind, f.target, f.text] for f in self.findings])]
        return out


def module_names(rel: str) -> list[str]:
    """Dotted names a repository file can be imported as (repo root, and ``src/`` layouts)."""
    p = PurePosixPath(rel)
    if p.suffix != ".py":
        return []
    parts = list(p.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    out = []
    if parts:
        out.append(".".join(parts))
    if len(parts) > 1 and parts[0] in ("src", "lib"):
        out.append(".".join(parts[1:]))
    return out


def _records(cfg: CheckLegacyConfig, root: Path) -> tuple[list[str], list[str], list[str]]:
    """Archived script paths, removed module names and the record files they came from."""
    from qdrant_ops.code.cleanup.archive_index import INDEX_NAME, load_index

    scripts = list(cfg.scripts)
    modules = list(cfg.modules)
    sources: list[str] = []
    index = load_index(root, cfg.archive_path)
    if index is not None:
        sources.append(f"{cfg.archive_path}/{INDEX_NAME}")
        for run in index.runs:
            for mv in run.moves:
                scripts.append(mv.source)
    if cfg.consolidation_report:
        path = Path(cfg.consolidation_report)
        if not path.is_absolute() and not path.exists():
            path = root / path
        from qdrant_ops.errors import ConfigError

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"the consolidation report cannot be read: {exc}", file=path) from None
        if data.get("schema") != "qdrant-ops/consolidate-clients":
            raise ConfigError("not a consolidate-clients report", file=path)
        sources.append(str(path))
        for rel in data.get("files_removed") or []:
            modules.extend(module_names(str(rel)))
    return list(dict.fromkeys(scripts)), list(dict.fromkeys(modules)), sources


def _files(root: Path, cfg: CheckLegacyConfig) -> list[tuple[str, str]]:
    """(file, kind) of every file cleanup-legacy would examine, documentation left out."""
    from qdrant_ops.code.cleanup.references import scan_kind
    from qdrant_ops.code.textfiles import repo_files

    archive = cfg.archive_path.strip("/") + "/"
    keep = []
    for rel in repo_files(root, tuple(cfg.exclude)):
        if rel.startswith(archive) or any(part in SKIP_DIRS for part in rel.split("/")[:-1]):
            continue
        kind = scan_kind(root, rel)
        if kind is None or kind == "docs":
            continue
        keep.append((rel, kind))
    return keep


def _import_names(rel: str) -> list[tuple[str, str]]:
    """(dotted name, directory an importer must be under) for an archived ``.py`` file: the full
    name from the root anywhere, a shorter one only below the directory it is relative to."""
    p = PurePosixPath(rel)
    if p.suffix not in (".py", ".pyw"):
        return []
    parts = list(p.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    out = [(name, "") for name in module_names(rel)]
    for k in range(1, len(parts)):
        name = parts[k:]
        if all(x.isidentifier() for x in name):
            out.append((".".join(name), "/".join(parts[:k])))
    return list(dict.fromkeys(out))


def _relative_patterns(rel: str) -> list[re.Pattern[str]]:
    """``from .mod import x`` / ``from . import mod`` in the archived file's own folder."""
    stem = PurePosixPath(rel).stem
    if stem == "__init__" or not stem.isidentifier():
        return []
    leaf = re.escape(stem)
    return [re.compile(r"^\s*from\s+\." + leaf + r"\s+import\b"),
            re.compile(r"^\s*from\s+\.\s+import\s+(?:\(?[\w\s,]*,\s*)?" + leaf + r"\b")]


def _script_pattern(rel: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in PurePosixPath(rel).parts]
    body = r"[/\\]+".join(parts)
    return re.compile(r"(?<![\w./\\-])(?:\.[/\\]+)?" + body + r"(?![\w.-]*\w)")


def _module_patterns(name: str) -> list[re.Pattern[str]]:
    esc = re.escape(name)
    out = [
        re.compile(r"^\s*import\s+(?:[\w.]+\s*,\s*)*" + esc + r"(?![\w.])"),
        re.compile(r"^\s*from\s+" + esc + r"\s+import\b"),
        re.compile(r"""\bimport_module\(\s*['"]""" + esc + r"""['"]"""),
    ]
    if "." in name:
        parent, _, leaf = name.rpartition(".")
        out.append(re.compile(r"^\s*from\s+" + re.escape(parent) + r"\s+import\s+(?:\(?[\w\s,]*,\s*)?" + re.escape(leaf) + r"\b"))
    return out


def _means_package(target: str, line: str) -> bool:
    """``from qdrant_client import QdrantClient`` means the package once a shadowing
    ``qdrant_client.py`` is archived: that import works again, it is not a leftover."""
    if PurePosixPath(target).name != "qdrant_client.py":
        return False
    from qdrant_ops.code.cleanup.live import QDRANT_CLIENT_NAMES

    m = re.match(r"^\s*from\s+qdrant_client(?:\.\w+)*\s+import\s+\(?([\w\s,]+)", line)
    if m is None:
        return bool(re.match(r"^\s*import\s+qdrant_client\b", line))
    names = [n.split(" as ")[0].strip() for n in m.group(1).split(",") if n.strip()]
    return all(n in QDRANT_CLIENT_NAMES for n in names)


def check_legacy(cfg: CheckLegacyConfig) -> CheckLegacyReport:
    """Search the repository for references to what the records say is gone."""
    root = Path(cfg.repo).resolve()
    report = CheckLegacyReport(repo=str(root))
    if not root.is_dir():
        from qdrant_ops.errors import NotFoundError

        raise NotFoundError(f"repository directory {root} does not exist")
    scripts, modules, sources = _records(cfg, root)
    report.scripts, report.modules, report.sources = scripts, modules, sources
    if not scripts and not modules:
        report.notes.append("nothing archived or removed is recorded: nothing to check")
    script_pats = [(s, _script_pattern(s)) for s in scripts]
    module_pats: list[tuple[str, list[re.Pattern[str]], str, str | None]] = [
        (m, _module_patterns(m), "", None) for m in modules]
    for s in scripts:  # an archived script is a module that is gone too
        for name, under in _import_names(s):
            module_pats.append((s, _module_patterns(name), under, None))
        module_pats.append((s, _relative_patterns(s), "", posixpath.dirname(s)))
    removed_files = set(scripts)
    for rel, kind in _files(root, cfg):
        if rel in removed_files:
            continue
        path = root / rel
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        text = data.decode("utf-8", errors="replace")
        report.files_scanned += 1
        is_py = kind == "python"
        here = posixpath.dirname(rel)
        visible = [(t, pats) for t, pats, under, same in module_pats
                   if (same is None and (not under or rel.startswith(under + "/"))) or same == here]
        for n, line in enumerate(text.splitlines(), start=1):
            for target, pat in script_pats:
                if pat.search(line):
                    report.findings.append(Finding(file=rel, line=n, kind="archived script", target=target, text=line.strip()[:200]))
            if is_py:
                for target, pats in visible:
                    if any(p.search(line) for p in pats) and not _means_package(target, line):
                        what = "archived module" if target in removed_files else "removed module"
                        report.findings.append(Finding(file=rel, line=n, kind=what, target=target, text=line.strip()[:200]))
                        break
        for ref in app_refs(root, rel, text, kind) if removed_files else []:
            hits = resolve_app(ref, removed_files.__contains__, removed_files)
            if hits and not any(f.file == rel and f.line == ref.line and f.target == hits[0]
                                for f in report.findings):
                report.findings.append(Finding(file=rel, line=ref.line, kind="archived entry point",
                                               target=hits[0], text=ref.text))
    report.check(
        "no references to archived or removed code",
        not report.findings,
        f"{len(report.findings)} reference(s) left" if report.findings else f"{report.files_scanned} files clean",
    )
    report.finish()
    return report
