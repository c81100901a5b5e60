"""The typer app every command module registers on, and the few helpers they share.

Command modules import their heavy dependencies inside each command, so ``kb --help``
stays fast and the core never imports the CLI.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import click
import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from kb.config import Config
from kb.errors import InvalidInput, KbError, NotFound

# C0 and C1 controls but newline and tab, and the bidi controls that reorder what is shown.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    """``text`` with every terminal control and bidi control shown as its escape (``\\x1b``)."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100
                       else f"\\u{ord(m[0]):04x}", text)


class InertConsole(Console):
    """The terminal surface: every string printed, in a table or a message, is shown as the
    text it is. Values come from the graph, that is from anyone with a write token, so rich
    markup (styles, ``[link=...]``) is off and control characters (escape sequences that set
    the title, clear the screen or write the clipboard) are shown escaped. Style with
    ``Text`` or ``style=`` instead of markup."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(inert(text), **kwargs)


console = InertConsole()
err_console = InertConsole(stderr=True)


class _Mode:
    """How this invocation prints: ``json`` once ``--json`` was given, so that an error
    then is JSON on stdout too; ``quiet`` once ``--quiet`` was, so warnings are left out."""

    json = False
    quiet = False


mode = _Mode()


def error_line(message: str) -> None:
    """One error on stderr, its message shown as inert text."""
    err_console.print(Text("error:", style="bold red"), message, soft_wrap=True)


def warn(message: str) -> None:
    """One warning on stderr, never on stdout and never with ``--quiet``."""
    if not mode.quiet:
        err_console.print(Text("warning:", style="bold yellow"), message, soft_wrap=True)


def error_json(exc: KbError, hint: str) -> dict[str, Any]:
    """``{"error": {"code", "message", "field"}}``, the shape of every ``--json`` error."""
    return {"error": {"code": exc.code, "message": exc.message + hint,
                      "field": getattr(exc, "field", None)}}


@contextlib.contextmanager
def cli_errors(args: Sequence[str] = ()) -> Iterator[None]:
    """kb's errors as one line on stderr, or with ``--json`` as JSON on stdout: exit 2 for
    bad input, 1 for the rest."""
    try:
        yield
    except KbError as exc:
        hint = _did_you_mean(exc)
        if mode.json or "--json" in args:
            print_json(error_json(exc, hint))
        else:
            error_line(exc.message + hint)
        raise typer.Exit(2 if isinstance(exc, InvalidInput) else 1) from None


def _did_you_mean(exc: KbError) -> str:
    """``; did you mean 'churn'?`` for a name that is not there but close to one that is."""
    from kb.domain.keys import KIND_LABEL
    from kb.graph.search import names_like

    label = KIND_LABEL.get(getattr(exc, "kind", ""))
    if not isinstance(exc, NotFound) or label is None:
        return ""
    try:
        graph = open_graph(start=False)
        try:
            close = names_like(graph, label, exc.key)
        finally:
            graph.close()
    except KbError:  # the hint is a courtesy: the error stands without it
        return ""
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


class KbGroup(TyperGroup):
    """The ``kb`` command group: every command, sub-commands included, runs inside
    ``cli_errors``, so a known error is one line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        mode.json = mode.quiet = False
        with cli_errors(list(ctx.args)):
            return super().invoke(ctx)


app = typer.Typer(
    cls=KbGroup,
    name="kb",
    help="kb: the ML team's knowledge graph. Who trained what, on which data, and where it runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _json_mode(value: bool) -> bool:
    mode.json = mode.json or bool(value)
    return value


def _quiet_mode(value: bool) -> bool:
    mode.quiet = mode.quiet or bool(value)
    return value


JSON_OPTION = typer.Option(False, "--json", callback=_json_mode,
                           help="Print machine-readable JSON; errors too, on stdout.")
QUIET_OPTION = typer.Option(False, "--quiet", "-q", callback=_quiet_mode,
                            help="No warnings on stderr.")


def get_config() -> Config:
    return Config.from_env()


def open_graph(config: Config | None = None, *, start: bool = True):
    """The Graph the command talks to, starting the local Neo4j if need be."""
    from kb.graph import Graph
    from kb.localdb import resolve

    config = config or get_config()
    conn = resolve(config, start=start)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    graph.ensure_schema()
    return graph


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=_default, indent=2, sort_keys=True))


def progress_bar(to: InertConsole = console):
    """A bar for a long import or export: description, bar, done of total, time so far;
    it clears itself when done."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=to, transient=True)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Every command's tables: no value cut short at any width (``listing``)."""
    from .listing import listing

    listing(title, columns, rows)


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``data`` as JSON for tools, or through ``render`` for people."""
    if as_json:
        print_json(data)
    else:
        render(data)
