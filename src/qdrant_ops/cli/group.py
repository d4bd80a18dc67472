"""The top-level click group: global options accepted after the verb, and ``--help`` tidied
(value labels that match usage, one style of default) in one place for every command."""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

# Global options, accepted after the verb too (``qdrant-ops backup -q ...``): Group moves them
# in front of it before click parses, so each is declared once, on the callback.
_GLOBAL_FLAGS = frozenset({"--debug", "--quiet", "-q", "--json"})
_GLOBAL_VALUED = frozenset({"--log-format", "--storage-option"})


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with the global options (and their values) moved to the front, order kept."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i:])
            break
        if a in _GLOBAL_FLAGS or any(a.startswith(f"{v}=") for v in _GLOBAL_VALUED):
            front.append(a)
        elif a in _GLOBAL_VALUED and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(a)
        i += 1
    return front + rest


# A default written into an option's help ("(default: all)", "(default 10)") is moved to the
# end as "[default: ...]", the form typer prints for the defaults it knows: one style in --help.
_DEFAULT_IN_HELP = re.compile(
    r"\s*\((?:[^()]*?;\s*)?default:?\s+([^()]+)\)|,\s*default\s+([^,()]+?)(?=\)|$)|;\s*default:\s+(.+?)\.?$"
)
# Options whose value is an endpoint address; others are labelled by their type.
_URI_OPTIONS = frozenset({"--source", "--target", "--against", "--url"})


def _label(param: TyperOption) -> str:
    """The value label ``--help`` shows for an option that takes a value."""
    if any(o in _URI_OPTIONS for o in param.opts):
        return "URI"
    desc = param.type_descriptor
    name = (param.name or "").lower()
    if desc.is_path or any(w in name for w in ("path", "report", "config", "runbook", "output", "file", "dir", "repo")):
        return "PATH"
    if desc.annotation is int:
        return "N"
    if desc.annotation is float:
        return "SECONDS" if "timeout" in name else "NUMBER"
    if name in ("collections", "collection"):
        return "NAMES" if name.endswith("s") else "NAME"
    return "TEXT"


def tidy_help(command: Any) -> None:
    """Labels that match usage (a flag takes no value: no ``<bool>``) and one style of default.

    ``command`` is a command or group of typer's own click (typer vendors it as ``typer._click``).
    """
    for param in command.params:
        if isinstance(param, TyperArgument):
            # An argument's name is its label already; the type column says what it is.
            label = "PATHS" if param.type_descriptor.is_list else ("NAME" if "name" in (param.name or "") else "TEXT")
            if any(w in (param.name or "") for w in ("path", "backup", "file", "dir")) or param.type_descriptor.is_path:
                label = "PATHS" if param.type_descriptor.is_list else "PATH"
            param.display_type_rich = lambda ctx, label=label: label  # type: ignore[method-assign,misc]
            continue
        if not isinstance(param, TyperOption):
            continue
        if param.is_flag or param.type_descriptor.annotation is bool:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _label(param)
        help_text = param.help or ""
        m = _DEFAULT_IN_HELP.search(help_text)
        if m is not None:
            value = (m.group(1) or m.group(2) or m.group(3) or "").strip()
            rest = help_text[: m.start()] + help_text[m.end() :]
            if m.group(0).lstrip().startswith("(") and ";" in m.group(0):
                rest = help_text[: m.start()] + " (" + m.group(0).strip()[1:].split(";")[0] + ")" + help_text[m.end() :]
            rest = rest.rstrip()
            rest = rest if rest.endswith(".") else rest + "."
            param.help = f"{rest} \\[default: {value}]"  # escaped: not rich markup
            param.show_default = False
    get_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


class Group(TyperGroup):
    """The top-level command group: global options anywhere, tidy --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_help(self)

    def get_params(self, ctx: Any) -> list[Any]:
        # typer adds the completion options after __init__: label them here.
        params: list[Any] = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args)))
