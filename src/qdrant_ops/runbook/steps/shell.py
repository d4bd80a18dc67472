"""Step kinds that run commands: shell and tests."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from qdrant_ops.errors import CheckFailedError, UsageError
from qdrant_ops.reports import Report
from qdrant_ops.runbook.model import ShellConfig, StepSpec, TestsConfig
from qdrant_ops.runbook.runs import StepState
from qdrant_ops.runbook.steps.base import StepContext, StepOutcome, _outcome
from qdrant_ops.testoutput import parse_counts

# -- shell / tests ------------------------------------------------------------------------------


class CommandReport(Report):
    verb: str = "shell"
    command: str = ""
    cwd: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    output_tail: str = ""

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        lines.append(f"  $ {self.command}  (exit {self.exit_code}{', timed out' if self.timed_out else ''})")
        if self.counts:
            lines.append("  " + ", ".join(f"{v} {k}" for k, v in self.counts.items()))
        if self.baseline is not None:
            lines.append("  before: " + (", ".join(f"{v} {k}" for k, v in (self.baseline.get("counts") or {}).items())
                                        or f"exit {self.baseline.get('exit_code')}"))
        return lines

    def markdown_sections(self) -> list[str]:
        return ["", f"`{self.command}` in `{self.cwd}`: exit {self.exit_code}", "", "```", self.output_tail, "```"]


class CommandResult(BaseModel):
    command: str
    exit_code: int | None
    timed_out: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    output_tail: str = ""
    duration_s: float = 0.0


def run_command(command: str | list[str], cwd: str, env: Mapping[str, str], timeout: float | None) -> CommandResult:
    text = command if isinstance(command, str) else shlex.join(command)
    full_env = {**os.environ, **env}
    start = time.monotonic()
    try:
        proc = subprocess.run(command, shell=isinstance(command, str), cwd=cwd, env=full_env,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return CommandResult(command=text, exit_code=None, timed_out=True, output_tail=out[-4000:],
                             duration_s=round(time.monotonic() - start, 2))
    except OSError as exc:
        raise UsageError(f"cannot run {text!r}: {exc}") from None
    out = (proc.stdout or "") + (proc.stderr or "")
    counts = parse_counts(proc.stdout or "", proc.stderr or "")
    return CommandResult(command=text, exit_code=proc.returncode, counts=counts, output_tail=out[-4000:],
                         duration_s=round(time.monotonic() - start, 2))


def _cwd_defaults(spec: StepSpec, data: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    return {"cwd": ctx.runbook.repo}


def _run_shell(ctx: StepContext, cfg: ShellConfig, undo: dict[str, Any]) -> StepOutcome:
    text = cfg.command if isinstance(cfg.command, str) else shlex.join(cfg.command)
    if ctx.dry_run:
        return StepOutcome(status="dry-run", summary=[f"would run: {text} (in {cfg.cwd})"])
    res = run_command(cfg.command, cfg.cwd or ".", cfg.env, cfg.timeout_s)
    report = CommandReport(command=res.command, cwd=str(cfg.cwd), exit_code=res.exit_code,
                           timed_out=res.timed_out, output_tail=res.output_tail)
    report.check("command succeeded", res.exit_code == 0, f"exit {res.exit_code}")
    report.finish()
    return _outcome(report)


def _rollback_shell(ctx: StepContext, cfg: ShellConfig, st: StepState) -> list[str]:
    if cfg.rollback is None:
        return ["nothing to undo: the step has no rollback command"]
    res = run_command(cfg.rollback, cfg.cwd or ".", cfg.env, cfg.timeout_s)
    if res.exit_code != 0:
        raise CheckFailedError(f"rollback command failed (exit {res.exit_code}): {res.output_tail[-300:]}")
    return [f"ran {res.command}"]


def run_tests_baseline(cfg: TestsConfig) -> dict[str, Any]:
    return run_command(cfg.command, cfg.cwd or ".", cfg.env, cfg.timeout_s).model_dump()


def _run_tests(ctx: StepContext, cfg: TestsConfig, undo: dict[str, Any]) -> StepOutcome:
    text = cfg.command if isinstance(cfg.command, str) else shlex.join(cfg.command)
    if ctx.dry_run:
        return StepOutcome(status="dry-run", summary=[f"would run the tests: {text} (in {cfg.cwd})"
                                                      + (", before the phase's steps and after" if cfg.baseline else "")])
    res = run_command(cfg.command, cfg.cwd or ".", cfg.env, cfg.timeout_s)
    report = CommandReport(verb="tests", command=res.command, cwd=str(cfg.cwd), exit_code=res.exit_code,
                           timed_out=res.timed_out, counts=res.counts, output_tail=res.output_tail,
                           baseline=ctx.baseline)
    before = ctx.baseline
    if res.exit_code == 0:
        report.check("tests pass", True, ", ".join(f"{v} {k}" for k, v in res.counts.items()) or "exit 0")
    elif before is not None and before.get("exit_code") != 0:
        was = int((before.get("counts") or {}).get("failed", 0)) + int((before.get("counts") or {}).get("errors", 0))
        now = res.counts.get("failed", 0) + res.counts.get("errors", 0)
        report.check("no more failures than before", now <= was and not res.timed_out,
                     f"{now} failing now, {was} before")
    else:
        report.check("tests pass", False, f"exit {res.exit_code}" + (" (timed out)" if res.timed_out else ""))
    report.finish()
    stats: dict[str, Any] = {"tests_after": res.counts or {"exit_code": res.exit_code}}
    if before is not None:
        stats["tests_before"] = before.get("counts") or {"exit_code": before.get("exit_code")}
    return _outcome(report, **stats)
