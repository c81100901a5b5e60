"""The typer app every command module registers on, and the few helpers they share.

Command modules import their heavy dependencies inside each command, so ``kb --help``
stays fast and the core never imports the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kb.config import Config

app = typer.Typer(
    name="kb",
    help="kb: the ML team's knowledge graph. Who trained what, on which data, and where it runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


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


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else _cell(v) for v in row))
    console.print(t)


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
