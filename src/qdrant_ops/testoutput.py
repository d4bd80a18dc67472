"""Test counts read from a test runner's output: pytest's summary line or unittest's result."""

from __future__ import annotations

import re

_UNITTEST = re.compile(r"^Ran (\d+) tests? in", re.M)
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")
_UNITTEST_BAD = re.compile(r"(?:failures|errors)=(\d+)")
# The summary is at the end: only the last lines are read, so test output above it is not counted.
TAIL_LINES = 20


def parse_counts(stdout: str, stderr: str) -> dict[str, int]:
    """``{"passed": 3, "failed": 1, ...}`` from the last lines of the combined output (stdout then
    stderr); empty where no summary is found."""
    out = stdout + stderr
    tail = "\n".join(out.splitlines()[-TAIL_LINES:])
    counts: dict[str, int] = {}
    for m in _COUNT.finditer(tail):
        key = "errors" if m.group(2).startswith("error") else m.group(2)
        counts[key] = int(m.group(1))
    ran = _UNITTEST.search(tail)
    if ran and not counts:  # unittest: "Ran N tests" then "OK" or "FAILED (failures=F, errors=E)"
        bad = sum(int(x) for x in _UNITTEST_BAD.findall(tail))
        counts = {"passed": int(ran.group(1)) - bad, "failed": bad}
    return counts
