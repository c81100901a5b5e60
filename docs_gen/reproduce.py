"""The card's *Reproduce* snippet: shell lines a reader can copy and run as they are shown.

Repository and commit are quoted with ``shlex.quote``. The recorded command goes into the
snippet only when it is one simple command line (words, quoted strings, no operators,
expansions, redirections or globs), so what the snippet runs is exactly what it shows.
Any other command is *withheld*: the card shows it as plain text under a warning, outside
the snippet, for the reader to review.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

_WORD = r"""(?:[\w@%+=:,./-]|'[^'\n]*'|"[^"$`\\!\n]*")+"""
#: One simple command: words of safe characters and quoted strings, separated by blanks.
_SIMPLE = re.compile(rf"{_WORD}(?: +{_WORD})*")


def simple(command: str) -> bool:
    """True when ``command`` is one line that a shell runs as exactly the words shown
    (``isprintable`` also refuses bidi and zero-width characters, which hide text)."""
    command = command.strip()
    return command.isprintable() and _SIMPLE.fullmatch(command) is not None


def _arg(value: str) -> str:
    return shlex.quote(value)


def snippet(code: dict[str, Any] | None, command: str | None) -> dict[str, str | None] | None:
    """``{"script": ..., "withheld": ...}`` for a run with a recorded commit and command."""
    if not code or not command:
        return None
    repo, commit = _arg(code["repo"]), _arg(code["commit"])
    # ``--`` / ``--end-of-options``: a recorded value starting with "-" is not an option
    lines = [f'git clone -- {repo} && cd "$(basename -- {repo} .git)"',
             f"git checkout --end-of-options {commit}" if commit.startswith("-")
             else f"git checkout {commit}"]
    withheld = None
    if simple(command):
        lines.append(command.strip())
    else:
        withheld = command
    return {"script": "\n".join(lines), "withheld": withheld}
