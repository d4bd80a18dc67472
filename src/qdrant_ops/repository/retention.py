"""Which backups a retention policy keeps: restic's ``forget --keep-*`` rules.

Backups are taken newest first. ``last`` keeps the N newest. Each of ``hourly``, ``daily``,
``weekly`` (ISO week), ``monthly`` and ``yearly`` keeps the newest backup of each of its N newest
periods that hold one; ``within`` keeps every backup younger than the duration, counted back from
the newest backup (not from now, so a stopped schedule does not empty the repository). A backup
kept by any rule is kept; the reasons are reported. Partial backups are never chosen by a policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from qdrant_ops.errors import UsageError
from qdrant_ops.repository.listing import BackupInfo

_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$")


def parse_duration(text: str) -> timedelta:
    """restic's ``--keep-within`` form: ``30d``, ``1y6m``, ``2d12h`` (a month is 30 days, a year 365)."""
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None:
        raise UsageError(f"--keep-within takes a duration like 30d, 1y6m or 2d12h, not {text!r}")
    years, months, days, hours = (int(g or 0) for g in m.groups())
    return timedelta(days=years * 365 + months * 30 + days, hours=hours)


@dataclass
class Policy:
    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within: timedelta | None = None

    def empty(self) -> bool:
        return not any((self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly, self.within))


@dataclass
class Decision:
    backup: BackupInfo
    keep: bool
    reasons: list[str] = field(default_factory=list)


def _buckets(policy: Policy) -> list[tuple[str, int, Callable[[datetime, int], object]]]:
    return [
        ("last", policy.last, lambda t, n: n),
        ("hourly", policy.hourly, lambda t, n: (t.year, t.month, t.day, t.hour)),
        ("daily", policy.daily, lambda t, n: (t.year, t.month, t.day)),
        ("weekly", policy.weekly, lambda t, n: t.isocalendar()[:2]),
        ("monthly", policy.monthly, lambda t, n: (t.year, t.month)),
        ("yearly", policy.yearly, lambda t, n: t.year),
    ]


@dataclass
class _Bucket:
    name: str
    left: int
    period: Callable[[datetime, int], object]
    last: object = None


def _time(b: BackupInfo) -> datetime:
    return b.time or datetime.min


def apply_policy(backups: Sequence[BackupInfo], policy: Policy) -> list[Decision]:
    """A decision for every complete backup, newest first. An empty policy is refused (restic
    does the same: forgetting everything must be asked for by name, not by omission)."""
    if policy.empty():
        raise UsageError("no retention rule given (--keep-last, --keep-daily, --keep-within, ...): nothing to decide")
    done = sorted((b for b in backups if b.complete and b.time is not None), key=_time, reverse=True)
    buckets = [_Bucket(name, count, fn) for name, count, fn in _buckets(policy) if count > 0]
    newest = _time(done[0]) if done else None
    out: list[Decision] = []
    for nr, b in enumerate(done):
        t = _time(b)
        d = Decision(b, False)
        if policy.within is not None and newest is not None and t >= newest - policy.within:
            d.keep = True
            d.reasons.append("within")
        for bucket in buckets:
            value = bucket.period(t, nr)
            if bucket.left > 0 and value != bucket.last:
                d.keep = True
                d.reasons.append(bucket.name)
                bucket.last = value
                bucket.left -= 1
        out.append(d)
    return out
