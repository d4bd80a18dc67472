"""Validate a code change: byte-compile, import the changed modules, run the test command.

Each check runs before and after the change so that only what the change broke is blamed on it.
Nothing here writes byte-code (``compile()`` in process; subprocesses get
``PYTHONDONTWRITEBYTECODE=1``; the default pytest command runs with ``-p no:cacheprovider``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from qdrant_ops.errors import UsageError
from qdrant_ops.testoutput import parse_counts

log = logging.getLogger(__name__)

DEFAULT_TEST_COMMAND = "python -m pytest -q"
_FAILED = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)

_IMPORT_SCRIPT = """
import importlib, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        out[name] = None
    except BaseException as exc:  # noqa: BLE001
        out[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
sys.stdout.write("\\n@@qdrant-ops@@" + json.dumps(out))
"""


class TestRun(BaseModel):
    """One run of the test command."""

    command: str
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    counts: dict[str, int] = Field(default_factory=dict)
    failed: list[str] = Field(default_factory=list)
    output_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code in (0, 5)  # pytest's 5: no tests collected


_VENVS = (".venv", "venv", "env", ".env")


def _venv_python(env: Path) -> Path | None:
    for cand in ("bin/python", "Scripts/python.exe"):
        if (env / cand).exists() and (env / "pyvenv.cfg").exists():
            return env / cand
    return None


def interpreter(repo: Path, requested: str | None = None) -> tuple[str, str]:
    """``(python, where it came from)``: ``--python``, else the project's own environment
    (a virtualenv in the repository, uv's, Poetry's, a tox or nox env), else this Python."""
    if requested:
        path = shutil.which(requested) or requested
        if not Path(path).is_file() or not os.access(path, os.X_OK):
            raise UsageError(f"--python {requested!r} is not an executable file")
        return path, "--python"
    uv = (repo / "uv.lock").is_file()
    for name in _VENVS:
        found = _venv_python(repo / name)
        if found is not None:
            return str(found), f"the project's {'uv ' if uv and name == '.venv' else ''}environment {name}/"
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file() and "[tool.poetry" in pyproject.read_text(encoding="utf-8", errors="replace"):
        poetry = shutil.which("poetry")
        if poetry:
            try:
                out = subprocess.run([poetry, "env", "info", "-p"], cwd=repo, capture_output=True, text=True,
                                     timeout=60, check=False, stdin=subprocess.DEVNULL).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                out = ""
            found = _venv_python(Path(out)) if out else None
            if found is not None:
                return str(found), f"the project's Poetry environment {out}"
    for tool in (".tox", ".nox"):
        envs = sorted((repo / tool).glob("*/")) if (repo / tool).is_dir() else []
        for env in sorted(envs, key=lambda p: (not p.name.startswith("py"), p.name)):
            found = _venv_python(env)
            if found is not None:
                return str(found), f"the project's {tool[1:]} environment {tool}/{env.name}"
    return sys.executable, "the interpreter qdrant-ops runs on (the project has no environment of its own)"


def _env(repo: Path, roots: Iterable[str]) -> dict[str, str]:
    paths = [str(repo / r) if r else str(repo) for r in roots]
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def compile_errors(sources: Mapping[str, bytes]) -> dict[str, str]:
    """``{file: error}`` for every source that does not byte-compile."""
    errors: dict[str, str] = {}
    for rel, raw in sources.items():
        try:
            compile(raw, rel, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            errors[rel] = f"{type(exc).__name__}: {exc}"
    return errors


def import_errors(
    repo: Path, modules: Iterable[str], roots: Iterable[str], python: str, timeout: float = 120
) -> dict[str, str | None]:
    """``{module: error or None}`` importing each module in a fresh interpreter."""
    names = sorted(set(modules))
    if not names:
        return {}
    try:
        proc = subprocess.run(
            [python, "-c", _IMPORT_SCRIPT, *names], cwd=repo, env=_env(repo, roots),
            capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {n: f"import timed out after {timeout:.0f}s" for n in names}
    except OSError as exc:
        raise UsageError(f"cannot run {python}: {exc}") from None
    _, sep, payload = proc.stdout.rpartition("@@qdrant-ops@@")
    if not sep:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        return {n: tail[-1] if tail else f"exit {proc.returncode}" for n in names}
    data = json.loads(payload)
    return {n: data.get(n) for n in names}


def run_tests(
    repo: Path, command: str, roots: Iterable[str], python: str, timeout: float
) -> TestRun:
    """Run the test command in ``repo`` and read which tests failed from its output."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"cannot parse --test-command: {exc}") from None
    if not argv:
        raise UsageError("--test-command is empty")
    if argv[0] in ("python", "python3"):
        argv[0] = python
    if command == DEFAULT_TEST_COMMAND:
        argv += ["-p", "no:cacheprovider"]
    run = TestRun(command=command)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            argv, cwd=repo, env=_env(repo, roots), capture_output=True, text=True,
            timeout=timeout, check=False, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        run.timed_out = True
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        run.output_tail = out[-4000:]
        run.duration_s = round(time.monotonic() - start, 2)
        return run
    except OSError as exc:
        raise UsageError(f"cannot run test command {command!r}: {exc}") from None
    run.duration_s = round(time.monotonic() - start, 2)
    run.exit_code = proc.returncode
    text = proc.stdout + "\n" + proc.stderr
    run.output_tail = text.strip()[-4000:]
    run.failed = sorted(set(m.group(2) for m in _FAILED.finditer(text)))
    # the runner's own summary: pytest prints it on stdout, unittest on stderr; what a test or
    # hook writes to stderr after pytest's summary is not part of it
    run.counts = parse_counts(proc.stdout, "") or parse_counts("", proc.stderr)
    return run


def baseline_problem(run: TestRun | None) -> str | None:
    """Why a test run before the change proves nothing about the change; None when it does."""
    if run is None:
        return None
    if run.timed_out:
        return "the baseline test run timed out"
    if run.exit_code is None:
        return "the baseline test run did not start"
    if run.exit_code not in (0, 1, 5):
        what = {2: "was interrupted or could not collect", 3: "hit an internal error",
                4: "was given bad arguments"}.get(run.exit_code, "failed to run")
        return f"the baseline test run {what} (exit {run.exit_code})"
    if run.exit_code == 1 and not run.counts.get("passed"):
        return "no test passed in the baseline run (exit 1)"
    if run.exit_code != 5 and not run.counts:
        return f"no test summary in the baseline run's output (exit {run.exit_code})"
    return None


def newly_failing(before: TestRun | None, after: TestRun) -> list[str]:
    """Tests that passed before and fail after; ``["<command>"]`` when only the exit code says so."""
    if after.ok:
        return []
    before_failed = set(before.failed) if before else set()
    new = [t for t in after.failed if t not in before_failed]
    if new:
        return new
    if before is not None and before.ok:
        return [f"test command ({'timed out' if after.timed_out else f'exit {after.exit_code}'})"]
    return []
