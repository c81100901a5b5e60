"""Lists that stay readable at 80 columns: a table of the rows that fit the terminal, and
one card per row that does not. No value is ever cut short, since ids are what
``kb show`` needs."""

from __future__ import annotations

import textwrap
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
        if len(columns) == 2:
            _card_line(f"{row[0]}: ", row[1], "bold")
            continue
        console.print()
        _card_line("", row[0], "bold")
        for col, value in zip(columns[1:], row[1:], strict=True):
            if value:
                _card_line(f"  {col}: ", value, "dim")


def _card_line(label: str, value: str, style: str) -> None:
    """``label`` then ``value`` wrapped between words under a hanging indent. A word wider
    than the terminal is never folded or cut: it stands alone for the terminal to wrap."""
    indent = " " * (len(label) - len(label.lstrip()) + 2)
    first = True
    for part in value.splitlines() or [""]:
        lines = textwrap.wrap(label + part if first else indent + part, console.width,
                              subsequent_indent=indent, break_long_words=False,
                              break_on_hyphens=False) or [label]
        for line in lines:
            if first:
                console.print(Text(label if line != label else label.rstrip(),
                                   style=style if label else ""),
                              Text(line[len(label):], style=style if not label else ""),
                              sep="", soft_wrap=True)
                first = False
            else:
                console.print(Text(line), soft_wrap=True)
