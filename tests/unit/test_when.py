"""Instants as people type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kb.domain.when import parse_instant
from kb.errors import InvalidInput

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-03-01T09:30", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
    ("2026-03-01T09:30:00+02:00", datetime(2026, 3, 1, 7, 30, tzinfo=UTC)),
    ("2026-03-01T09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
    ("7d", NOW - timedelta(days=7)),
    ("12h", NOW - timedelta(hours=12)),
    ("30m", NOW - timedelta(minutes=30)),
    ("2w", NOW - timedelta(weeks=2)),
    ("now", NOW),
])
def test_dates_times_and_relative_forms(text: str, expected: datetime) -> None:
    got = parse_instant(text, "--as-of", now=NOW)
    assert got == expected
    assert got.tzinfo is not None and got.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize("text", ["yesterday", "7 days", "2026-13-01", "", "-7d"])
def test_anything_else_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_instant(text, "--as-of", now=NOW)
    assert err.value.field == "--as-of"
