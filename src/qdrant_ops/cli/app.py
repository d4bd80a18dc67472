"""The typer application, global options, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import json
import logging
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    QdrantOpsError,
)
from qdrant_ops.progress import NullProgress, ProgressSink, RichProgress
from qdrant_ops.reports import Report, write_report
from qdrant_ops.secrets import RedactingFilter, redact

REPORT_HELP = "Write the report as JSON and Markdown (PATH.json and PATH.md)."
CONFIG_HELP = "Config file (JSON, YAML or TOML); flags win over it."

app = typer.Typer(
    name="qdrant-ops",
    help="Back up, restore, migrate and verify Qdrant collections, and consolidate the code "
    "that uses them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class State:
    debug: bool = False
    quiet: bool = False
    verbose: bool = False
    log_format: str = "text"


state = State()
F = TypeVar("F", bound=Callable[..., Any])


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        return json.dumps(data, ensure_ascii=False)


def setup_logging() -> None:
    if not state.debug:
        # qdrant-client warns on stderr about versions and plain-HTTP API keys; the CLI reports
        # what matters itself, as one line.
        warnings.filterwarnings("ignore", category=UserWarning)
    root = logging.getLogger("qdrant_ops")
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if state.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(handler)
    if state.debug:
        root.setLevel(logging.DEBUG)
    elif state.verbose:
        root.setLevel(logging.INFO)
    elif state.quiet:
        root.setLevel(logging.ERROR)
    else:
        root.setLevel(logging.WARNING)
    root.propagate = False


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; errors only."),
    log_format: str = typer.Option(
        "text", "--log-format", help="Log format on stderr: text or json."
    ),
    storage_option: list[str] | None = typer.Option(
        None, "--storage-option", help="Object-store option key=value for s3:// gs:// az:// backup paths "
        "(endpoint_url, region, access_key, secret_key, ...); repeatable; values never printed.",
    ),
) -> None:
    """Back up, restore, migrate and verify Qdrant collections; consolidate the code using them."""
    if log_format not in ("text", "json"):
        err_line(f"--log-format must be text or json, not {log_format!r}")
        raise typer.Exit(EXIT_USAGE)
    state.debug, state.quiet, state.log_format = debug, quiet, log_format
    state.verbose = False
    setup_logging()
    from qdrant_ops.repository.location import parse_storage_options, set_storage_options

    try:
        set_storage_options(parse_storage_options(storage_option))
    except QdrantOpsError as exc:
        err_line(str(exc))
        raise typer.Exit(exc.exit_code) from None


def out_console() -> Console:
    return Console(soft_wrap=True, highlight=False)


def err_line(message: str) -> None:
    # One line, always: a message quoting user input (a config key, a path) may hold newlines.
    text = redact(f"error: {message}").replace("\r", "\\r").replace("\n", "\\n")
    sys.stderr.write(text + "\n")


def echo(text: str = "") -> None:
    sys.stdout.write(redact(text) + "\n")


def progress_sink() -> ProgressSink:
    if state.quiet or not sys.stderr.isatty():
        return NullProgress()
    return RichProgress()


def set_verbose(verbose: bool) -> None:
    if verbose:
        state.verbose = True
        setup_logging()


def handle_errors(fn: F) -> F:
    """Turn every error into one line on stderr and the exit code of DESIGN.md."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except QdrantOpsError as exc:
            if state.debug:
                logging.getLogger("qdrant_ops").exception("error")
            err_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_line("interrupted; rerun the same command to resume")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # noqa: BLE001 - the CLI boundary: never a bare traceback
            if state.debug:
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            err_line(f"unexpected {type(exc).__name__}: {first} (rerun with --debug for details)")
            raise typer.Exit(EXIT_INTERNAL) from None
        finally:
            from qdrant_ops.endpoints.open import close_all

            close_all(keep_memory=True)

    return wrapper  # type: ignore[return-value]


# A report's status as the exit code ``finish`` leaves with when the command does not choose one.
_STATUS_EXIT = {"ok": EXIT_OK, "dry-run": EXIT_OK, "failed": EXIT_CHECK_FAILED, "partial": EXIT_PARTIAL}


def finish(report: Report, report_path: Path | None, exit_code: int | None = None) -> None:
    """Write the report if asked, print its summary, and exit with the report's code."""
    if report_path is not None:
        json_path, md_path = write_report(report, report_path)
        if not state.quiet:
            echo(f"report: {json_path} and {md_path}")
    if not state.quiet:
        for line in report.summary_lines():
            echo(line)
    if exit_code is None:
        exit_code = _STATUS_EXIT.get(report.status, EXIT_OK)
    if exit_code:
        raise typer.Exit(exit_code)


def split_csv(values: list[str] | None) -> list[str] | None:
    """``--collections a,b --collections c`` -> ``[a, b, c]``; None when not given."""
    if not values:
        return None
    out: list[str] = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def endpoint_flags(uri: str | None, api_key: str | None) -> dict[str, Any] | None:
    """An endpoint URI (and ``--api-key``) as a config block for ``flags``; None when neither is given."""
    if uri is None:
        if api_key:
            return {"api_key": api_key}
        return None
    return endpoint_from_uri(uri, api_key).model_dump(exclude_none=True, exclude={"prefer_grpc"}) | (
        {"api_key": api_key} if api_key else {}
    )
