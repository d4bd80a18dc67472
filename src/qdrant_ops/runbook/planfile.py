"""The markdown plan that ticks itself: ``- [ ]`` items of completed steps become ``- [x]``.

An item belongs to a step when its text holds the step id as a word (``backup``, ``7.1.2``) or one
of the step's ``plan_items`` strings (case-insensitive). Only items under the phase's heading (a
heading naming the phase id) are considered when the plan has one. Under that heading a dated
status line is added once per run and replaced in place when the same run updates it again, so an
update is idempotent and every other line keeps its exact bytes (line endings included).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qdrant_ops.errors import NotFoundError

_ITEM = re.compile(r"^(\s*(?:[-*+]|\d+[.)])\s+\[)([ xX])(\]\s?)(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
STATUS_PREFIX = "> **qdrant-ops**"


@dataclass
class PhaseUpdate:
    """What to write for one phase: the steps completed, and the status line's text."""

    phase: str
    steps: list[tuple[str, list[str]]]  # (step id, plan_items) of completed steps
    status: str  # e.g. "2026-01-02 run `ID`: 3/3 steps ok"
    run_id: str


@dataclass
class PlanChange:
    path: Path
    old: str
    new: str
    ticked: list[str] = field(default_factory=list)
    status_lines: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"a/{self.path.name}",
                tofile=f"b/{self.path.name}",
            )
        )


def _split(text: str) -> tuple[list[str], list[str]]:
    """Lines without their endings, and each line's ending (kept byte for byte)."""
    bodies: list[str] = []
    ends: list[str] = []
    for raw in text.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        bodies.append(body)
        ends.append(raw[len(body) :])
    return bodies, ends


def _newline(ends: list[str]) -> str:
    for e in ends:
        if e:
            return e
    return "\n"


def _phase_section(lines: list[str], phase: str) -> tuple[int, int] | None:
    """``(heading index, end index)`` of the section whose heading names ``phase``."""
    word = re.compile(r"(?<![\w.])" + re.escape(phase) + r"(?![\w]|\.\d)")
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if m and word.search(m.group(2)):
            level = len(m.group(1))
            end = len(lines)
            for j in range(i + 1, len(lines)):
                n = _HEADING.match(lines[j])
                if n and len(n.group(1)) <= level:
                    end = j
                    break
            return i, end
    return None


def _matches(text: str, step_id: str, items: Sequence[str]) -> bool:
    low = text.lower()
    if any(s.strip() and s.strip().lower() in low for s in items):
        return True
    return re.search(r"(?<![\w.-])" + re.escape(step_id.lower()) + r"(?![\w-]|\.\d)", low) is not None


def update_text(text: str, updates: Sequence[PhaseUpdate]) -> tuple[str, list[str], list[str]]:
    """The plan with items ticked and status lines set; also the ticked items and status lines."""
    lines, ends = _split(text)
    nl = _newline(ends)
    ticked: list[str] = []
    statuses: list[str] = []
    for up in updates:
        section = _phase_section(lines, up.phase)
        start, end = (section[0] + 1, section[1]) if section else (0, len(lines))
        for i in range(start, end):
            m = _ITEM.match(lines[i])
            if not m or m.group(2) != " ":
                continue
            if any(_matches(m.group(4), sid, items) for sid, items in up.steps):
                lines[i] = f"{m.group(1)}x{m.group(3)}{m.group(4)}"
                ticked.append(m.group(4).strip())
        if section is None:
            continue
        status = f"{STATUS_PREFIX} {up.status}"
        statuses.append(status)
        marker = f"run `{up.run_id}`"
        head, end = section
        existing = [i for i in range(head + 1, end) if lines[i].startswith(STATUS_PREFIX) and marker in lines[i]]
        if existing:
            lines[existing[0]] = status
            continue
        at = head + 1
        if at < len(lines) and lines[at].strip() == "":
            at += 1
        while at < len(lines) and lines[at].startswith(STATUS_PREFIX):
            at += 1
        new = [status]
        new_ends = [nl]
        if at < len(lines) and lines[at].strip() != "":
            new.append("")
            new_ends.append(nl)
        if at == head + 1:  # the heading was followed directly by text (or nothing)
            new.insert(0, "")
            new_ends.insert(0, nl)
        if at >= len(lines) and ends and not ends[-1]:
            ends[-1] = nl  # the file did not end with a newline: the status line starts a new one
            new_ends[-1] = ""
        lines[at:at] = new
        ends[at:at] = new_ends
    return "".join(b + e for b, e in zip(lines, ends, strict=True)), ticked, statuses


def plan_update(path: str | Path, updates: Sequence[PhaseUpdate]) -> PlanChange:
    """Compute the update of the plan file at ``path`` (nothing is written)."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"plan file {p} does not exist")
    raw = p.read_bytes()
    old = raw.decode("utf-8")
    new, ticked, statuses = update_text(old, updates)
    return PlanChange(path=p, old=old, new=new, ticked=ticked, status_lines=statuses)


def write_plan(change: PlanChange) -> None:
    """Write the new text, keeping the file's mode; a no-op when nothing changed."""
    if change.changed:
        change.path.write_bytes(change.new.encode("utf-8"))
