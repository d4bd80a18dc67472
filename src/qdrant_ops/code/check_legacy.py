"""``qdrant-ops check-legacy``: code that still references archived scripts or removed client modules.

What counts as gone comes from the records the code verbs leave: cleanup-legacy's
``<archive_path>/archive-index.json`` (every script moved, with its original path) and
consolidate-clients' report (``files_removed``), plus names given by hand. Every text file of the
repository (git's tracked and untracked-but-not-ignored files; documentation excluded unless asked)
is searched for the original paths (``/`` or ``\\`` separators, not as part of the archived path)
and, in Python files, for imports of the removed modules. Each hit is ``file:line``.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from qdrant_ops.reports import Report, md_table
from qdrant_ops.runbook.model import CheckLegacyConfig

log = logging.getLogger(__name__)

DOC_SUFFIXES = (".md", ".rst", ".txt", ".adoc")
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache", ".qdrant-ops"}
MAX_FILE = 2 * 1024 * 1024


class Finding(BaseModel):
    file: str
    line: int
    kind: str  # "archived script" | "removed module"
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


def _files(root: Path, cfg: CheckLegacyConfig) -> list[str]:
    from qdrant_ops.code import gitops

    if gitops.is_work_tree(root):
        out = gitops.git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        rels = sorted({r for r in out.split("\0") if r})
    else:
        rels = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                rels.append(Path(dirpath, name).relative_to(root).as_posix())
        rels.sort()
    archive = cfg.archive_path.strip("/") + "/"
    keep = []
    for rel in rels:
        if rel.startswith(archive) or any(part in SKIP_DIRS for part in rel.split("/")[:-1]):
            continue
        if rel.lower().endswith(DOC_SUFFIXES):
            continue
        if any(fnmatch.fnmatch(rel, pat) or rel.startswith(pat.rstrip("/") + "/") for pat in cfg.exclude):
            continue
        keep.append(rel)
    return keep


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
    module_pats = [(m, _module_patterns(m)) for m in modules]
    removed_files = set(scripts)
    for rel in _files(root, cfg):
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
        is_py = rel.endswith(".py")
        for n, line in enumerate(text.splitlines(), start=1):
            for target, pat in script_pats:
                if pat.search(line):
                    report.findings.append(Finding(file=rel, line=n, kind="archived script", target=target, text=line.strip()[:200]))
            if is_py:
                for target, pats in module_pats:
                    if any(p.search(line) for p in pats):
                        report.findings.append(Finding(file=rel, line=n, kind="removed module", target=target, text=line.strip()[:200]))
    report.check(
        "no references to archived or removed code",
        not report.findings,
        f"{len(report.findings)} reference(s) left" if report.findings else f"{report.files_scanned} files clean",
    )
    report.finish()
    return report
