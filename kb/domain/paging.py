"""One page of a list, and the cursor that continues it.

Every list kb answers can be completed: a page carries the cursor of its last item, and the
same question asked ``after`` that cursor gives the next page. A cursor is opaque text (the
last item's sort values, as JSON in URL-safe base64), so a reader never builds one; the
reader that made it turns it back into the values to seek from (keyset paging), so a deep
page costs what a first page costs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from kb.errors import InvalidInput

T = TypeVar("T")

#: The largest page any reader returns.
MAX_PAGE = 100

Scalar = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """Up to ``first`` items; ``end_cursor`` continues after the last (None when empty)."""

    items: tuple[T, ...]
    end_cursor: str | None
    has_next: bool


def encode_cursor(values: Sequence[Scalar]) -> str:
    """The cursor after an item whose sort values are ``values``."""
    raw = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int, field: str = "after") -> list[Scalar]:
    """The sort values ``encode_cursor`` put in ``cursor``; a cursor that is not one of
    ``arity`` values is refused naming ``field``."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        raw = json.loads(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(field, "is not a cursor this list gave", cursor) from None
    if not isinstance(raw, list) or len(raw) != arity:
        raise InvalidInput(field, "is not a cursor this list gave", cursor)
    out: list[Scalar] = []
    for v in raw:
        if isinstance(v, dict):
            try:
                out.append(datetime.fromisoformat(v["t"]))
            except (KeyError, TypeError, ValueError):
                raise InvalidInput(field, "is not a cursor this list gave", cursor) from None
        elif v is None or isinstance(v, str | int | float | bool):
            out.append(v)
        else:
            raise InvalidInput(field, "is not a cursor this list gave", cursor)
    return out


def page_size(first: int | None, default: int = 20, field: str = "first") -> int:
    """``first`` checked against the page limit (``default`` when not given)."""
    if first is None:
        return default
    if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= MAX_PAGE:
        raise InvalidInput(field, f"must be between 0 and {MAX_PAGE}", first)
    return first


def page_of(rows: Sequence[T], first: int, sort_values: Callable[[T], Sequence[Scalar]]
            ) -> Page[T]:
    """A page from ``rows`` read with ``LIMIT first + 1``: the extra row only says that
    more follow."""
    items = tuple(rows[:first])
    cursor = encode_cursor(sort_values(items[-1])) if items else None
    return Page(items, cursor, len(rows) > first)


def pages(fetch: Callable[[str | None], Page[T]]) -> Any:
    """Every item of a paged list, fetching each page when the previous one is used up."""
    after: str | None = None
    while True:
        page = fetch(after)
        yield from page.items
        if not page.has_next or page.end_cursor is None:
            return
        after = page.end_cursor
