"""Lists that stay readable at any width: a table when it fits the terminal, else one
card per item. No value is ever cut short, since ids are what ``kb show`` needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from .app import _cell, console


def cells(row: Sequence[Any]) -> list[str]:
    return ["" if v is None else _cell(v) for v in row]


def listing(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` under ``columns``: a table if its natural width fits, else cards headed by
    each row's first value, one ``column: value`` line per other non-empty value."""
    texts = [cells(r) for r in rows]
    if not texts:
        console.print(Text(title, style="bold"), Text("— none", style="dim"))
        return
    t = Table(title=title)
    for col in columns:
        # no_wrap keeps an id whole inside the table; a table that would need to wrap
        # it becomes cards instead.
        t.add_column(col, no_wrap=True)
    for row in texts:
        t.add_row(*row)
    if Measurement.get(console, console.options, t).maximum <= console.width:
        console.print(t)
        return
    console.print(Text(title, style="bold"))
    for row in texts:
        console.print()
        # soft_wrap: a long value is left for the terminal to wrap, never folded or cut.
        console.print(row[0], style="bold", soft_wrap=True)
        for col, value in zip(columns[1:], row[1:], strict=True):
            if value:
                console.print(Text(f"  {col}: ", style="dim"), value, sep="", soft_wrap=True)
