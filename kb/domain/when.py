"""Instants as people type them: ``2026-03-01``, ``2026-03-01T09:30``, ``7d`` ago.

One parser for every ``--as-of``, ``--since``, ``--from`` and ``--to`` of the CLI and
every ``asOf`` the API takes as text, so they all read a date the same way: a date is its
first instant (00:00 UTC), a time without a zone is UTC, and a relative form counts back
from now.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from kb.errors import InvalidInput

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

EXAMPLES = "a date (2026-03-01), a time (2026-03-01T09:30, UTC unless it says), or 7d, 12h, 2w"


def utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive time is taken as UTC, as kb stores every time."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_instant(text: str, field: str, *, now: datetime | None = None) -> datetime:
    """The instant ``text`` names; ``InvalidInput`` naming ``field`` if it names none."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return utc(now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    if text.strip().lower() == "now":
        return utc(now or datetime.now(UTC))
    try:
        return utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise InvalidInput(field, f"must be {EXAMPLES}", text) from None


def optional_instant(text: str | None, field: str, *, now: datetime | None = None
                     ) -> datetime | None:
    return None if text is None else parse_instant(text, field, now=now)
