"""The terminal surface: values from the graph print as the text they are.

Anyone with a write token chooses names and free text, and the CLI prints them in tables
and messages: neither rich markup nor terminal escape sequences in them may take effect.
"""

from __future__ import annotations

import io

import pytest
from rich.table import Table
from typer.testing import CliRunner

from kb.cli import app
from kb.cli.app import InertConsole, inert

# Each is (value, what must not appear in the terminal's bytes).
HOSTILE = [
    ("[link=javascript:alert(1)]click[/link]", "\x1b]8;"),  # a hyperlink (OSC 8)
    ("[red]alarm[/red]", "\x1b[31m"),  # a style
    ("x\x1b]0;owned\x07y", "\x1b]0;"),  # sets the window title
    ("x\x1b]52;c;ZWNobyBvd25lZA==\x07y", "\x1b]52"),  # writes the clipboard
    ("x\x1b[2Jy", "\x1b[2J"),  # clears the screen
    ("x\x9b2Jy", "\x9b"),  # the same through the one-byte CSI
    ("admin\u202eexe.txt", "\u202e"),  # reverses what follows
    (":warning: [/]", "⚠"),  # emoji codes; a stray closing tag must not crash either
]


def _printed(*objects: object) -> str:
    out = io.StringIO()
    console = InertConsole(file=out, force_terminal=True, color_system="truecolor", width=200)
    console.print(*objects)
    return out.getvalue()


@pytest.mark.parametrize(("value", "forbidden"), HOSTILE)
def test_a_hostile_value_prints_inert_in_a_message_and_a_table(value: str, forbidden: str
                                                                ) -> None:
    table = Table(title=value)
    table.add_column(value)
    table.add_row(value)
    for printed in (_printed(f"note: {value}"), _printed(table)):
        assert forbidden not in printed
        assert inert(value) in printed  # shown, not swallowed


def test_inert_shows_controls_as_escapes_and_keeps_lines() -> None:
    assert inert("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert inert("left\u202eright") == "left\\u202eright"
    assert inert("two\nlines\tand a tab") == "two\nlines\tand a tab"


def test_an_error_message_with_markup_prints_as_written() -> None:
    # What the user typed comes back in the error, brackets included (refused before any
    # graph is opened).
    result = CliRunner().invoke(app, ["impact", "[bold]crm[/]@"])
    assert result.exit_code == 2
    assert "[bold]crm[/]@" in result.output
