"""Every error qdrant-ops raises on purpose, and the exit code each one maps to.

```
QdrantOpsError                      exit 2 unless a branch says otherwise
├── ConfigError                     bad config file, flag or environment variable (2)
├── UsageError                      arguments that cannot work together (2)
├── NotFoundError                   unknown collection, backup, alias or file (2)
├── TargetExistsError               the target collection already exists (2)
├── UnsupportedError                the endpoint cannot do this (e.g. snapshots on local mode) (2)
├── LockedError                     another run holds the backup path or state (2)
├── PlanChangedError                a resume whose plan differs from the saved one (2)
├── GitError                        a git command failed (2)
├── EndpointError                   a source or target could not be reached (3)
│   └── TransientEndpointError      ... and trying again may work (Transient)
├── IntegrityError                  a backup or a copy failed a check (1)
│   └── CorruptBackupError          a file, manifest or checksum is wrong; names the file (1)
├── CheckFailedError                the operation ran but a check failed (1)
└── PartialError                    some points were not written; lists them (4)
```

`Transient` is a marker: retry loops retry an error only when it is transient, either one of ours
carrying the marker or a client/network error that `is_transient` recognises (connection reset,
timeouts, HTTP 429/502/503/504, gRPC UNAVAILABLE / RESOURCE_EXHAUSTED / DEADLINE_EXCEEDED).

Every class here is drawn above (tests/test_errors.py holds the two together). The one subclass
defined elsewhere, the runbook's ``NotAvailable(UnsupportedError)`` for a step kind this build
lacks, stays with the step registry: callers see it as an ``UnsupportedError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Every exit code the CLI uses (DESIGN.md, "Exit codes"); nothing else leaves the process.
EXIT_OK = 0  # the command did what was asked (a dry run included)
EXIT_CHECK_FAILED = 1  # it ran, but a check failed: verify mismatch, validation below threshold
EXIT_USAGE = 2  # bad usage or config, including a source that does not exist
EXIT_UNREACHABLE = 3  # a source or target could not be reached
EXIT_PARTIAL = 4  # some points were not copied; the report lists them
EXIT_INTERNAL = 70  # an unexpected error: a bug (EX_SOFTWARE of sysexits.h)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); the state is left resumable
EXIT_BROKEN_PIPE = 141  # stdout's reader went away (128 + SIGPIPE, as a shell reports it)


class Transient:
    """Marker mixin: an error worth retrying."""


class QdrantOpsError(Exception):
    """Root of every error qdrant-ops raises on purpose."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message


class ConfigError(QdrantOpsError):
    """A config file, flag or environment variable is wrong."""

    def __init__(
        self, message: str, *, key: str | None = None, file: str | Path | None = None
    ) -> None:
        where = []
        if key:
            where.append(f"key '{key}'")
        if file:
            where.append(f"in {file}")
        full = f"{message} ({' '.join(where)})" if where else message
        super().__init__(full, key=key, file=str(file) if file else None)


class UsageError(QdrantOpsError):
    """Arguments that cannot work together."""


class NotFoundError(QdrantOpsError):
    """An unknown collection, backup, alias or file."""


class TargetExistsError(QdrantOpsError):
    """The target collection already exists and --on-exists does not allow writing into it."""


class UnsupportedError(QdrantOpsError):
    """The endpoint cannot do what was asked."""


class LockedError(QdrantOpsError):
    """Another run holds the lock on this backup path or state file."""


class PlanChangedError(QdrantOpsError):
    """A resume was asked for but the saved plan differs from the current one."""


class GitError(QdrantOpsError):
    """A git command failed."""


class EndpointError(QdrantOpsError):
    """A source or target could not be reached."""

    exit_code = EXIT_UNREACHABLE


class TransientEndpointError(EndpointError, Transient):
    """The endpoint failed in a way that may pass on retry."""


class IntegrityError(QdrantOpsError):
    """A backup or a copy failed an integrity check."""

    exit_code = EXIT_CHECK_FAILED


class CorruptBackupError(IntegrityError):
    """A backup file or its manifest is missing, altered or incomplete."""

    def __init__(self, message: str, *, file: str | Path | None = None) -> None:
        super().__init__(message, file=str(file) if file else None)
        self.file = str(file) if file else None


class CheckFailedError(QdrantOpsError):
    """The operation ran, but a check it was asked to make failed."""

    exit_code = EXIT_CHECK_FAILED


class PartialError(QdrantOpsError):
    """Some points were not written. The report and dead-letter file list them."""

    exit_code = EXIT_PARTIAL


_TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
_TRANSIENT_GRPC = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED"}


def http_status(exc: BaseException) -> int | None:
    """The HTTP status carried by a client error, if any."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def grpc_code_name(exc: BaseException) -> str | None:
    """The gRPC status name carried by an RpcError, if any."""
    code_fn = getattr(exc, "code", None)
    if not callable(code_fn):
        return None
    try:
        code = code_fn()
    except Exception:  # noqa: BLE001 - a broken error object is simply not a gRPC error
        return None
    name = getattr(code, "name", None)
    return name if isinstance(name, str) else None


def is_transient(exc: BaseException) -> bool:
    """True when retrying the call that raised ``exc`` may succeed."""
    if isinstance(exc, Transient):
        return True
    if isinstance(exc, QdrantOpsError):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    status = http_status(exc)
    if status is not None:
        return status in _TRANSIENT_HTTP
    code = grpc_code_name(exc)
    if code is not None:
        return code in _TRANSIENT_GRPC
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx ships with qdrant-client
        return False
    return isinstance(exc, (httpx.TransportError, httpx.TimeoutException))


def is_too_large(exc: BaseException) -> bool:
    """True when the request was refused for its size: halve the batch and try again."""
    if http_status(exc) == 413 or grpc_code_name(exc) == "RESOURCE_EXHAUSTED":
        return True
    text = str(exc).lower()
    return "too large" in text or "payload too large" in text or "message larger than max" in text
