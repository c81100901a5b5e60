"""Lists that stay readable at 80 columns: a table of the rows that fit the terminal, and
one card per row that does not. No value is ever cut short, since ids are what
``kb show`` needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from .app import _cell, console


def cells(row: Sequence[Any]) -> list[str]:
    return ["" if v is None else _cell(v) for v in row]


def _narrowest(text: str) -> int:
    """The fewest columns ``text`` needs when wrapped between words: its longest word."""
    return max((cell_len(word) for word in text.split()), default=0)


def _widths(columns: Sequence[str], rows: list[list[str]], least: list[int]) -> list[int]:
    """Column widths from ``least`` (longest words) up: the room left goes, a column at a
    time, to the one furthest from its unwrapped width."""
    full = [max(cell_len(line) for text in (col, *(r[i] for r in rows))
                for line in (text.splitlines() or [""]))
            for i, col in enumerate(columns)]
    widths = list(least)
    room = console.width - sum(widths) - 3 * len(widths) - 1
    while room > 0:
        short, i = max((f - w, i) for i, (f, w) in enumerate(zip(full, widths, strict=True)))
        if short <= 0:
            break
        widths[i] += 1
        room -= 1
    return widths


def listing(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` under ``columns``, wrapped between words only. The rows that fit the
    terminal so are a table; the rest follow as cards headed by the row's first value,
    one ``column: value`` line per other non-empty value."""
    texts = [cells(r) for r in rows]
    if not texts:
        console.print(Text(title, style="bold"), Text("— none", style="dim"))
        return
    widths = [_narrowest(col) for col in columns]
    fit, cards = [], []
    for row in texts:
        need = [max(w, _narrowest(v)) for w, v in zip(widths, row, strict=True)]
        # Each column adds a rule and a space either side; the table one more rule.
        if sum(need) + 3 * len(need) + 1 <= console.width:
            fit.append(row)
            widths = need
        else:
            cards.append(row)
    if fit:
        t = Table(title=title)
        for col, width in zip(columns, _widths(columns, fit, widths), strict=True):
            # A set width per column, never below its longest word, so no id is cut.
            t.add_column(col, width=width)
        for row in fit:
            t.add_row(*row)
        console.print(t)
    else:
        console.print(Text(title, style="bold"))
    for row in cards:
        # soft_wrap: a long value is left for the terminal to wrap, never folded or cut.
        if len(columns) == 2:
            console.print(Text(f"{row[0]}: ", style="bold"), row[1], sep="", soft_wrap=True)
            continue
        console.print()
        console.print(row[0], style="bold", soft_wrap=True)
        for col, value in zip(columns[1:], row[1:], strict=True):
            if value:
                console.print(Text(f"  {col}: ", style="dim"), value, sep="", soft_wrap=True)
