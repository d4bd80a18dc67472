"""Which backups a policy keeps, table-tested the way restic tests ``forget --keep-*``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qdrant_ops.errors import UsageError
from qdrant_ops.repository.listing import BackupInfo
from qdrant_ops.repository.retention import Policy, apply_policy, parse_duration

TIMES = {
    1: "2024-01-01T09:00", 2: "2024-01-01T10:00", 3: "2024-01-01T10:30", 4: "2024-01-02T08:00",
    5: "2024-01-03T08:00", 6: "2024-01-08T08:00", 7: "2024-01-15T08:00", 8: "2024-02-01T08:00",
    9: "2024-03-05T08:00", 10: "2025-01-10T08:00",
}


def _backups() -> list[BackupInfo]:
    out = [BackupInfo(str(n), f"/r/{n}", True, datetime.fromisoformat(t).replace(tzinfo=UTC)) for n, t in TIMES.items()]
    # A partial backup, newest of all: never kept by a rule, never removed by one.
    out.append(BackupInfo("p", "/r/.partial-p", False, datetime(2025, 2, 1, tzinfo=UTC)))
    return out


CASES = [
    (Policy(last=3), {10, 9, 8}),
    (Policy(last=20), set(TIMES)),
    (Policy(daily=4), {10, 9, 8, 7}),
    (Policy(daily=10), {10, 9, 8, 7, 6, 5, 4, 3}),
    (Policy(hourly=100), {10, 9, 8, 7, 6, 5, 4, 3, 1}),
    (Policy(weekly=3), {10, 9, 8}),
    (Policy(weekly=6), {10, 9, 8, 7, 6, 5}),
    (Policy(monthly=2), {10, 9}),
    (Policy(monthly=5), {10, 9, 8, 7}),
    (Policy(yearly=10), {10, 9}),
    (Policy(within=timedelta(days=30)), {10}),
    (Policy(within=parse_duration("320d")), {10, 9}),
    (Policy(within=parse_duration("2y")), set(TIMES)),
    (Policy(last=1, monthly=3), {10, 9, 8}),
    (Policy(hourly=2, monthly=3), {10, 9, 8}),
    (Policy(last=2, within=timedelta(days=1)), {10, 9}),
]


@pytest.mark.parametrize("policy,kept", CASES, ids=[str(i) for i in range(len(CASES))])
def test_policy_keeps(policy: Policy, kept: set[int]) -> None:
    decisions = apply_policy(_backups(), policy)
    assert {int(d.backup.name) for d in decisions if d.keep} == kept
    assert {d.backup.name for d in decisions} == {str(n) for n in TIMES}  # partials are not decided


def test_reasons_name_every_rule_that_kept_a_backup() -> None:
    by_name = {d.backup.name: d for d in apply_policy(_backups(), Policy(last=1, daily=2, yearly=1))}
    assert by_name["10"].reasons == ["last", "daily", "yearly"]
    assert by_name["9"].reasons == ["daily"]
    assert not by_name["8"].keep and by_name["8"].reasons == []


def test_empty_policy_is_refused() -> None:
    with pytest.raises(UsageError, match="no retention rule"):
        apply_policy(_backups(), Policy())


@pytest.mark.parametrize("text,days", [("30d", 30), ("1y6m", 545), ("2d12h", 2.5), ("48h", 2)])
def test_parse_duration(text: str, days: float) -> None:
    assert parse_duration(text) == timedelta(days=days)


@pytest.mark.parametrize("text", ["", "30", "d30", "1w", "-3d"])
def test_bad_duration_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)
