"""Requirements files and pyproject dependency arrays: find them, parse them, prune them in place.

Parsing follows pip's file format: logical lines joined over ``\\`` continuations, comments after
`` #``, per-requirement options (``--hash``) after the requirement, ``-r``/``-c`` includes relative
to the including file, and pip-compile's ``# via`` annotations below an entry. Requirements are
parsed with ``packaging``. Removing an entry deletes only its own physical lines (and its ``# via``
block); every other byte, comments, markers, pins, hashes and blank lines included, stays.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

_INCLUDE_RE = re.compile(r"^\s*(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)")
_COMMENT_RE = re.compile(r"(^|\s)#.*$")
_OPTION_SPLIT_RE = re.compile(r"\s+--?[A-Za-z]")
_VIA_RE = re.compile(r"^\s+#\s+via\s*(.*)$")
_INDENTED_COMMENT_RE = re.compile(r"^\s+#")
_REQ_NAME_RE = re.compile(r"^requirements.*\.(txt|in)$", re.IGNORECASE)


@dataclass
class Entry:
    """One dependency declared somewhere: a requirements line or a pyproject array element."""

    file: str
    line: int  # 1-based first physical line
    name: str  # canonical distribution name
    text: str  # the requirement as written (no options, no comment)
    start: int  # offsets in the file text of what a removal deletes
    end: int
    hashed: bool = False
    via: list[str] = field(default_factory=list)
    group: str = ""  # pyproject: "dependencies" or "optional-dependencies.<extra>"


@dataclass
class ReqFile:
    """A requirements file (or a pyproject) and the entries it declares."""

    rel: str
    kind: str  # "requirements", "constraints" or "pyproject"
    entries: list[Entry] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def is_requirements_name(rel: str) -> bool:
    p = PurePosixPath(rel)
    if _REQ_NAME_RE.match(p.name):
        return True
    return p.suffix.lower() in (".txt", ".in") and any(
        part.lower().startswith("requirements") for part in p.parts[:-1]
    )


def _physical_lines(text: str) -> list[tuple[int, str]]:
    """(offset, line with its newline) for every physical line."""
    out: list[tuple[int, str]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        out.append((pos, line))
        pos += len(line)
    return out


def parse_requirements(rel: str, text: str, kind: str = "requirements") -> ReqFile:
    """Parse one requirements file (entries, includes resolved to repository paths)."""
    rf = ReqFile(rel, kind)
    lines = _physical_lines(text)
    base = posixpath.dirname(rel)
    i = 0
    while i < len(lines):
        first = i
        offset = lines[i][0]
        logical = ""
        while True:
            body = lines[i][1].rstrip("\r\n")
            if body.endswith("\\") and i + 1 < len(lines):
                logical += body[:-1] + " "
                i += 1
                continue
            logical += body
            break
        i += 1
        stripped = _COMMENT_RE.sub("", logical).strip()
        if not stripped:
            continue
        inc = _INCLUDE_RE.match(stripped)
        if inc:
            target = posixpath.normpath(posixpath.join(base, inc.group(2)))
            rf.includes.append(("c:" if inc.group(1) in ("-c", "--constraint") else "r:") + target)
            continue
        if stripped.startswith("-"):
            continue  # -e, --index-url, --extra-index-url, -f, --pre, ...
        spec = _OPTION_SPLIT_RE.split(stripped, maxsplit=1)[0].strip()
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            rf.problems.append(f"{rel}:{first + 1}: not a named requirement ({spec}); left as is")
            continue
        end_idx = i
        via: list[str] = []
        if end_idx < len(lines) and _VIA_RE.match(lines[end_idx][1].rstrip("\r\n")):
            while end_idx < len(lines):
                nxt = lines[end_idx][1].rstrip("\r\n")
                if not _INDENTED_COMMENT_RE.match(nxt):
                    break
                body = nxt.strip()[1:].strip()
                if body.startswith("via"):
                    body = body[3:].strip()
                via.extend(x for x in body.split(",") if x.strip())
                end_idx += 1
        end = lines[end_idx][0] if end_idx < len(lines) else len(text)
        rf.entries.append(
            Entry(
                file=rel,
                line=first + 1,
                name=canonicalize_name(req.name),
                text=spec,
                start=offset,
                end=end,
                hashed="--hash" in logical,
                via=[x.strip() for x in via if x.strip()],
            )
        )
        i = end_idx
    return rf


def via_packages(entry: Entry) -> list[str]:
    """Packages a pip-compile annotation says need this entry (not the ``-r`` input files)."""
    out = []
    for v in entry.via:
        v = v.strip()
        if not v or v.startswith(("-r", "-c", "via")) or "/" in v or v.endswith((".in", ".txt", ".toml")):
            continue
        out.append(v.split()[0])
    return out


# ------------------------------------------------------------------------------------------------
# pyproject.toml


_HEADER_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY_ARRAY_RE = re.compile(r"^\s*(\"[^\"]+\"|'[^']+'|[\w\-.]+)\s*=\s*\[")


def _scan_array(text: str, open_pos: int) -> tuple[int, list[tuple[int, int, str]]] | None:
    """From a ``[``: (position of its ``]``, [(start, end, value) of each string element])."""
    i = open_pos + 1
    depth = 1
    elements: list[tuple[int, int, str]] = []
    while i < len(text):
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        if ch in "\"'":
            triple = text.startswith(ch * 3, i)
            quote = ch * 3 if triple else ch
            j = i + len(quote)
            while j < len(text):
                if ch == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                j += 1
            end = j + len(quote)
            try:
                value = tomllib.loads(f"v = {text[i:end]}")["v"]
            except tomllib.TOMLDecodeError:
                return None
            if depth == 1 and isinstance(value, str):
                elements.append((i, end, value))
            i = end
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i, elements
        i += 1
    return None


def _element_span(text: str, start: int, end: int) -> tuple[int, int]:
    """What deleting an array element removes: its whole line when alone on it, else it and a comma."""
    line_start = text.rfind("\n", 0, start) + 1
    nl = text.find("\n", end)
    line_end = len(text) if nl < 0 else nl + 1
    before = text[line_start:start]
    after = text[end:line_end]
    if not before.strip() and re.fullmatch(r"\s*,?\s*(#.*)?\r?\n?", after):
        return line_start, line_end
    m = re.match(r"\s*,[ \t]*", text[end:])
    if m:
        return start, end + m.end()
    m2 = re.search(r",\s*$", text[:start])
    if m2:
        return m2.start(), end
    return start, end


_KEY_VALUE_RE = re.compile(r"^\s*(\"[^\"]+\"|'[^']+'|[\w\-.]+)\s*=\s*(.*?)\s*(#.*)?$")
_POETRY_TABLES = re.compile(
    r"^tool\.poetry\.(?:dependencies|dev-dependencies|group\.[\w\-.\"']+\.dependencies)$"
)


def _array_group(table: str, key: str) -> str | None:
    if table == "project" and key == "dependencies":
        return "dependencies"
    if table == "project.optional-dependencies":
        return f"optional-dependencies.{key}"
    if table == "dependency-groups":
        return f"dependency-groups.{key}"
    return None


def parse_pyproject(rel: str, text: str) -> ReqFile:
    """PEP 621 dependencies and optional dependencies, PEP 735 dependency groups, and Poetry's
    dependency tables (one ``name = spec`` line each)."""
    rf = ReqFile(rel, "pyproject")
    table = ""
    pos = 0
    for line in text.splitlines(keepends=True):
        line_pos = pos
        pos += len(line)
        header = _HEADER_RE.match(line)
        if header:
            table = header.group(1).replace(" ", "")
            continue
        if _POETRY_TABLES.match(table):
            kv = _KEY_VALUE_RE.match(line)
            if kv and not line.lstrip().startswith("#"):
                name = kv.group(1).strip("\"'")
                if name.lower() != "python" and kv.group(2).startswith(("\"", "'", "{")):
                    rf.entries.append(Entry(rel, text.count("\n", 0, line_pos) + 1,
                                            canonicalize_name(name), name, line_pos, pos,
                                            group=table))
            continue
        km = _KEY_ARRAY_RE.match(line)
        if not km:
            continue
        group = _array_group(table, km.group(1).strip("\"'"))
        if group is None:
            continue
        scanned = _scan_array(text, line_pos + km.end() - 1)
        if scanned is None:
            rf.problems.append(f"{rel}: cannot read the {group} array")
            continue
        for start, end, value in scanned[1]:
            try:
                req = Requirement(value)
            except InvalidRequirement:
                rf.problems.append(f"{rel}: {group}: not a requirement: {value}")
                continue
            span = _element_span(text, start, end)
            rf.entries.append(
                Entry(rel, text.count("\n", 0, start) + 1, canonicalize_name(req.name), value,
                      span[0], span[1], group=group)
            )
    return rf


def remove_entries(text: str, entries: Iterable[Entry], *, pyproject: bool = False) -> str:
    """``text`` without the given entries' spans; nothing else changes.

    In a pyproject, elements sharing a line (``["a", "b"]``) have overlapping spans, so they go one
    at a time, the array re-read after each.
    """
    entries = list(entries)
    if pyproject:
        doomed = {(e.group, e.text) for e in entries}
        for _ in range(len(entries) + 1):
            hit = next((e for e in parse_pyproject("", text).entries if (e.group, e.text) in doomed), None)
            if hit is None:
                break
            text = text[: hit.start] + text[hit.end :]
        return text
    out: list[str] = []
    pos = 0
    for e in sorted(entries, key=lambda e: e.start):
        if e.start < pos:
            continue
        out.append(text[pos : e.start])
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def pyproject_still_valid(text: str) -> bool:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return True
