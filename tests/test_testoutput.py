"""Test counts read from a test runner's output (runbook tests steps)."""

from __future__ import annotations

from qdrant_ops.testoutput import TAIL_LINES, parse_counts


def test_pytest_summary_line() -> None:
    out = "tests/test_a.py ..F.s\n" "==== 3 passed, 1 failed, 1 skipped, 2 deselected in 0.52s ====\n"
    assert parse_counts(out, "") == {"passed": 3, "failed": 1, "skipped": 1, "deselected": 2}


def test_pytest_error_and_errors_count_as_errors() -> None:
    assert parse_counts("== 2 passed, 1 error in 0.1s ==\n", "") == {"passed": 2, "errors": 1}
    assert parse_counts("== 4 errors in 0.1s ==\n", "") == {"errors": 4}
    assert parse_counts("== 1 xfailed, 1 xpassed in 0.1s ==\n", "") == {"xfailed": 1, "xpassed": 1}


def test_unittest_ok() -> None:
    err = "....\n" + "-" * 70 + "\nRan 4 tests in 0.003s\n\nOK\n"
    assert parse_counts("", err) == {"passed": 4, "failed": 0}


def test_unittest_failed_counts_failures_and_errors() -> None:
    err = "F.E.....\n" + "-" * 70 + "\nRan 8 tests in 0.010s\n\nFAILED (failures=2, errors=1)\n"
    assert parse_counts("", err) == {"passed": 5, "failed": 3}
    assert parse_counts("", "Ran 1 test in 0.001s\n\nOK\n") == {"passed": 1, "failed": 0}


def test_no_summary_is_empty() -> None:
    assert parse_counts("", "") == {}
    assert parse_counts("building...\ndone\n", "warning: something\n") == {}


def test_only_the_tail_of_the_combined_output_is_read() -> None:
    early = "5 passed in an earlier run\n" + "noise\n" * TAIL_LINES
    assert parse_counts(early, "") == {}
    # stderr follows stdout: a summary on stderr within the tail counts
    assert parse_counts("noise\n" * 5, "== 6 passed in 1.0s ==\n") == {"passed": 6}
    # ... and a long stderr pushes a stdout summary out of the tail
    assert parse_counts("== 6 passed in 1.0s ==\n", "noise\n" * TAIL_LINES) == {}
