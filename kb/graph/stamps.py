"""Timestamps that statements return as text (``toString``), read back as ``datetime``.

Bulk reads return stamps as ISO text because the driver builds its temporal values
slowly; the text gives back what ``driver.plain`` would: the offset kept, a zone name
(``[Europe/Paris]``) dropped, nanoseconds cut to microseconds.
"""

from __future__ import annotations

from datetime import datetime


def read_stamp(text: str | None) -> datetime | None:
    """The ``datetime`` of a ``toString`` stamp; None for none."""
    return datetime.fromisoformat(text.split("[", 1)[0]) if text else None
