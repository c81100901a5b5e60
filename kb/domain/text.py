"""The rules every name and every free text obeys, whoever writes it.

Names and identifiers are what people tell entities apart by, so two that look the same
must be the same: a name is NFC-normalised, and refused when it holds a character that
cannot be seen (Unicode categories Cc, Cf, Zl and Zp: controls, zero-width characters,
the byte-order mark, bidirectional marks, embeddings, overrides and isolates, line and
paragraph separators) or a lone surrogate.

Free text (descriptions, notes, commands, URIs, error messages) keeps newlines and tabs
(CRLF becomes LF) and is otherwise kept as written, but refuses the other control
characters, lone surrogates, and the bidirectional embeddings, overrides and isolates
(U+202A-U+202E, U+2066-U+2069) that make text read differently from what it is
("Trojan Source"). The implicit marks (LRM, RLM, ALM) stay: right-to-left prose needs them.

Both raise ``ValueError`` (``TooLong`` for a size) with a message that completes
"<field>: ..."; the records name the field.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .limits import NAME


class TooLong(ValueError):
    """A value over its size limit; its message says the limit and the size."""


_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def describe(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE``: a character named so that it can be seen."""
    name = unicodedata.name(char, None)
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def check_length(value: str, limit: int) -> None:
    if len(value) > limit:
        raise TooLong(f"at most {limit:,} characters, got {len(value):,}")


def clean_name(value: str, limit: int = NAME) -> str:
    """A name stripped and NFC-normalised; raises when empty, too long or holding a
    character that cannot be seen."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    check_length(value, limit)  # before normalising, so a huge value costs nothing more
    if value.isascii():  # the common case: only the C0 controls can hide here
        found = _ASCII_CONTROL.search(value)
        if found is not None:
            raise ValueError(_hidden(found.group(), found.start()))
        return value
    value = unicodedata.normalize("NFC", value)
    for position, char in enumerate(value):
        if unicodedata.category(char) in _HIDDEN:
            raise ValueError(_hidden(char, position))
    check_length(value, limit)  # a few characters grow under NFC
    return value


def _hidden(char: str, position: int) -> str:
    return (f"must not contain {describe(char)} (at position {position}): names cannot hold "
            "control, invisible or bidirectional characters")


def clean_text(value: str, limit: int) -> str:
    """Free text with CRLF as LF; raises when too long or holding a control character
    (other than newline and tab) or a bidirectional embedding, override or isolate."""
    check_length(value, limit)
    if "\r" in value:
        value = value.replace("\r\n", "\n")
    found = _TEXT_FORBIDDEN.search(value)
    if found is not None:
        raise ValueError(f"must not contain {describe(found.group())} (at position "
                         f"{found.start()}): text keeps newlines and tabs, but no other "
                         "control characters and no bidirectional overrides")
    return value


def escape_text(value: str, limit: int) -> str:
    """``value`` as free text that ``clean_text`` takes: refused characters written as
    ``\\uXXXX`` escapes, and cut (with ``…``) to ``limit``. For text kb captures by itself
    (a command line), which must not fail the run it describes."""
    value = _TEXT_FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", value.replace("\r\n", "\n"))
    return value if len(value) <= limit else value[:limit - 1] + "…"


def natural(text: str) -> list[Any]:
    """A sort key that puts ``churn@2`` before ``churn@10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", text)]
