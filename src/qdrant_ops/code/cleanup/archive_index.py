"""The archive's own records: ``archive-index.json`` (machine-readable, what ``--restore`` reads),
``ARCHIVE.md`` (for people) and ``requirements.txt`` (what the archived scripts need to run).

The JSON index keeps, per run, every move (with the file's sha256 and last commit) and every file
edited (its original bytes, the sha256 of what was written, and line-level operations), so a
restore puts back the exact original bytes, and can still revert a file edited since the run.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from qdrant_ops.errors import ConfigError, NotFoundError

INDEX_NAME = "archive-index.json"
DOC_NAME = "ARCHIVE.md"
REQUIREMENTS_NAME = "requirements.txt"
FORMAT = "qdrant-ops/legacy-archive"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MoveRecord(BaseModel):
    source: str
    destination: str
    kind: str
    reason: str
    sha256: str
    method: str
    last_commit: str | None = None
    last_commit_date: str | None = None
    overwritten_b64: str | None = None
    overwritten_tracked: bool = False


class EditOp(BaseModel):
    """Lines ``before`` became ``after``; ``anchor`` is the line just above them afterwards."""

    anchor: str | None
    before: list[str]
    after: list[str]


class EditRecord(BaseModel):
    path: str
    original_b64: str
    after_sha256: str
    ops: list[EditOp] = Field(default_factory=list)

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)


class RunRecord(BaseModel):
    archived_at: str
    tool_version: str
    git: bool
    moves: list[MoveRecord] = Field(default_factory=list)
    edits: list[EditRecord] = Field(default_factory=list)
    created_files: list[str] = Field(default_factory=list)
    created_dirs: list[str] = Field(default_factory=list)
    requirement_lines: list[str] = Field(default_factory=list)


class ArchiveIndex(BaseModel):
    format: str = FORMAT
    version: int = 1
    archive_path: str
    runs: list[RunRecord] = Field(default_factory=list)

    def to_text(self) -> str:
        return json.dumps(self.model_dump(), indent=2, ensure_ascii=False) + "\n"


def load_index(root: Path, archive_dir: str) -> ArchiveIndex | None:
    path = root / archive_dir / INDEX_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        index = ArchiveIndex.model_validate(data)
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigError(f"the archive index cannot be read: {exc}", file=path) from None
    if index.format != FORMAT:
        raise ConfigError(f"not a qdrant-ops archive index (format {index.format!r})", file=path)
    return index


def require_index(root: Path, archive_dir: str) -> ArchiveIndex:
    index = load_index(root, archive_dir)
    if index is None:
        raise NotFoundError(
            f"no {INDEX_NAME} in {archive_dir}: nothing was archived there by cleanup-legacy"
        )
    return index


def make_edit(path: str, original: bytes, after: bytes, old_text: str, new_text: str) -> EditRecord:
    a = old_text.splitlines(keepends=True)
    b = new_text.splitlines(keepends=True)
    ops = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        ops.append(EditOp(anchor=b[j1 - 1] if j1 > 0 else None, before=a[i1:i2], after=b[j1:j2]))
    return EditRecord(
        path=path,
        original_b64=base64.b64encode(original).decode("ascii"),
        after_sha256=sha256_bytes(after),
        ops=ops,
    )


def _find_unique(lines: list[str], block: list[str]) -> int | None:
    hits = [i for i in range(len(lines) - len(block) + 1) if lines[i : i + len(block)] == block]
    return hits[0] if len(hits) == 1 else None


def revert_text(current: str, record: EditRecord) -> str | None:
    """``current`` with the record's operations undone, or None when one no longer applies."""
    lines = current.splitlines(keepends=True)
    for op in reversed(record.ops):
        if op.after:
            at = _find_unique(lines, op.after)
            if at is None:
                return None
            lines[at : at + len(op.after)] = op.before
        else:
            if op.anchor is None:
                at = 0
            else:
                found = _find_unique(lines, [op.anchor])
                if found is None:
                    return None
                at = found + 1
            lines[at:at] = op.before
    return "".join(lines)


def render_requirements(lines: list[str]) -> str:
    head = [
        "# What the archived legacy scripts import, as the project declared it when they were",
        "# archived. Install with: pip install -r <this file>",
        "",
    ]
    return "\n".join(head + list(dict.fromkeys(lines))) + "\n"


def _cell(text: str | None) -> str:
    return "" if not text else str(text).replace("|", "\\|").replace("\n", " ")


def render_archive_md(index: ArchiveIndex) -> str:
    base = index.archive_path
    out = [
        "# Archived legacy scripts",
        "",
        "These files were archived by `qdrant-ops cleanup-legacy`. Each keeps its path relative to",
        f"the repository root under `{base}/`, its bytes (the sha256 below) and, where git was",
        "present, its history: `git log --follow -- <archived path>`.",
        "",
        "| original path | archived path | sha256 | last commit | commit date | reason | archived on |",
        "|---|---|---|---|---|---|---|",
    ]
    first_script: str | None = None
    for run in index.runs:
        for mv in run.moves:
            if first_script is None and mv.kind == "script":
                first_script = mv.destination
            commit = f"`{mv.last_commit[:12]}`" if mv.last_commit else "-"
            out.append(
                f"| `{mv.source}` | `{mv.destination}` | `{mv.sha256}` | {commit} | "
                f"{_cell(mv.last_commit_date) or '-'} | {_cell(mv.kind + ': ' + mv.reason)} | "
                f"{run.archived_at[:10]} |"
            )
    example = first_script or f"{base}/script.py"
    out += [
        "",
        "## Running an archived script",
        "",
        "Its dependencies are listed beside this file:",
        "",
        "```sh",
        f"pip install -r {base}/{REQUIREMENTS_NAME}",
        f"python {example}",
        "```",
        "",
        "## Restoring",
        "",
        "Everything at once, moving every file back and reverting the rewritten references and the",
        f"pruned requirements (recorded with their original bytes in `{INDEX_NAME}`):",
        "",
        "```sh",
        f"qdrant-ops cleanup-legacy --restore --archive-path {base}",
        "```",
        "",
        "One file by hand (then revert the references listed in the cleanup report):",
        "",
        "```sh",
    ]
    for run in index.runs:
        for mv in run.moves:
            cmd = "git mv" if mv.method == "git mv" else "mv"
            out.append(f"{cmd} {mv.destination} {mv.source}")
    out += ["```", ""]
    return "\n".join(out)
