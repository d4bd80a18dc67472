"""The typer application, global options, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from qdrant_ops import __version__
from qdrant_ops.cli.group import Group
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    QdrantOpsError,
)
from qdrant_ops.progress import NullProgress, ProgressSink, RichProgress, stop_all
from qdrant_ops.reports import Report, write_report
from qdrant_ops.secrets import RedactingFilter, redact

REPORT_HELP = (
    "Write the report as JSON, Markdown and HTML (PATH.json, PATH.md, PATH.html); - prints the JSON on stdout."
)
CONFIG_HELP = "Config file (JSON, YAML or TOML); flags win over it."

app = typer.Typer(
    name="qdrant-ops",
    help="Back up, restore, migrate and verify Qdrant collections, and consolidate the code "
    "that uses them.",
    cls=Group,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # One style of default for every option: "[default: ...]", shown wherever there is one.
    context_settings={"show_default": True},
)


@dataclass
class State:
    debug: bool = False
    quiet: bool = False
    verbose: bool = False
    log_format: str = "text"
    json: bool = False


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
        # qdrant-client warns on stderr about versions and plain-HTTP API keys, and numpy about
        # overflow in vectors it normalizes; the CLI reports what matters itself, as one line.
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="numpy")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="qdrant_client")
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


def _version(value: bool) -> None:
    if value:
        try:
            sys.stdout.write(f"qdrant-ops {__version__}\n")
            sys.stdout.flush()
        except BrokenPipeError:
            quiet_broken_pipe()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        raise typer.Exit(EXIT_OK)


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bars or summary; errors and the result line only."
    ),
    log_format: str = typer.Option(
        "text", "--log-format", metavar="text|json", help="Log format on stderr."
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the report as one JSON document on stdout (the rest on stderr)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    storage_option: list[str] | None = typer.Option(
        None, "--storage-option", help="Object-store option key=value for s3:// gs:// az:// backup paths "
        "(endpoint_url; s3: region, access_key, secret_key; az: account_name, account_key, sas_token; gs: "
        "project_id, anonymous; ...); repeatable; values never printed.",
    ),
) -> None:
    """Back up, restore, migrate and verify Qdrant collections; consolidate the code using them.

    Global options (--quiet, --json, --debug, --log-format) go before or after the command.
    """
    if log_format not in ("text", "json"):
        err_line(f"--log-format must be text or json, not {log_format!r}")
        raise typer.Exit(EXIT_USAGE)
    state.debug, state.quiet, state.log_format = debug, quiet, log_format
    state.json = json_out
    state.verbose = False
    setup_logging()
    from qdrant_ops.repository.location import parse_storage_options, set_storage_options

    try:
        set_storage_options(parse_storage_options(storage_option))
    except QdrantOpsError as exc:
        err_line(str(exc))
        raise typer.Exit(exc.exit_code) from None


def quiet_broken_pipe() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a descriptor (a test runner's buffer)
        pass


def main() -> None:
    """The console script: typer's app, then a flush of stdout whose reader may have gone."""
    code: Any = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_broken_pipe()
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


def out_console() -> Console:
    return Console(soft_wrap=True, highlight=False)


def err_line(message: str) -> None:
    # One line, always: a message quoting user input (a config key, a path) may hold newlines.
    text = redact(f"error: {message}").replace("\r", "\\r").replace("\n", "\\n")
    sys.stderr.write(text + "\n")


def echo(text: str = "") -> None:
    """A line for people: stdout, or stderr under ``--json`` (stdout then holds only the JSON)."""
    (sys.stderr if state.json else sys.stdout).write(redact(text) + "\n")


def echo_json(data: Any) -> None:
    """One JSON document on stdout, secrets masked (``--json``, ``--report -``)."""
    sys.stdout.write(redact(json.dumps(data, indent=2, ensure_ascii=False, default=str)) + "\n")


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
            stop_all()  # the bars go first: the error line is the last thing on the screen
            if state.debug:
                logging.getLogger("qdrant_ops").exception("error")
            err_line(str(exc))
            if state.json:  # a script reading stdout gets a document even when there is no report
                echo_json({"schema": "qdrant-ops/error", "error": str(exc), "exit_code": exc.exit_code})
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            # stdout closed by the reader (``qdrant-ops runs | head -1``): end quietly, as
            # ``yes | head`` does.
            quiet_broken_pipe()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except KeyboardInterrupt:
            stop_all()
            err_line("interrupted; rerun the same command to resume")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # noqa: BLE001 - the CLI boundary: never a bare traceback
            stop_all()
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
    """Write the report if asked, print its summary, and exit with the report's code.

    ``--report -`` and ``--json`` print the report as JSON on stdout; ``--quiet`` keeps the one
    line a script wants (``Report.result_line``: the backup path, the run id).
    """
    to_stdout = state.json or (report_path is not None and str(report_path) == "-")
    if report_path is not None and str(report_path) != "-":
        json_path, md_path, html_path = write_report(report, report_path)
        if not state.quiet:
            _human(f"report: {json_path}, {md_path} and {html_path}", to_stdout)
    if not state.quiet:
        for line in report.summary_lines():
            _human(line, to_stdout)
    if to_stdout:
        echo_json(report.to_json_data())
    elif state.quiet and report.result_line():
        echo(report.result_line() or "")
    if exit_code is None:
        exit_code = _STATUS_EXIT.get(report.status, EXIT_OK)
    if report.status == "partial" and (error := report.error_line()):
        err_line(error)  # last on the screen, as a raised error's line is
    if exit_code:
        raise typer.Exit(exit_code)


def _human(line: str, to_stderr: bool) -> None:
    (sys.stderr if to_stderr else sys.stdout).write(redact(line) + "\n")


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
