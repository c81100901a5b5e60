"""Times that people and producers give as text: ISO 8601, read as an aware UTC time."""

from __future__ import annotations

from datetime import UTC, datetime

from kb.errors import InvalidInput


def parse_time(value: str, field: str) -> datetime:
    """``value`` as a UTC ``datetime``; a date or a time without an offset is taken as UTC.
    Anything else is ``InvalidInput`` naming ``field``."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (AttributeError, TypeError, ValueError):
        raise InvalidInput(field, "is not an ISO 8601 date or date-time like 2024-05-01 or "
                           "2024-05-01T12:00:00Z", value) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
