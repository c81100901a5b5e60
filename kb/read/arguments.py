"""What the Python reads share: the graph they read, and their arguments checked.

Every argument is checked before anything is read, and refused with ``InvalidInput``
naming it as the caller wrote it (``as_of``, ``page_size``, ``person``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from kb.domain import Ref, parse_ref
from kb.domain.paging import page_size
from kb.domain.when import parse_instant, utc
from kb.errors import InvalidInput
from kb.graph import Graph

from .results import Results

#: Items read per page of a list, unless ``page_size`` says otherwise.
PAGE = 100


def default_graph() -> Graph:
    """The graph the SDK's writes use: ``kb.connect(...)``'s, or the environment's."""
    from kb.ingest.sdk import client

    return client().graph


def instant(value: Any, field: str) -> datetime | None:
    """A ``datetime`` (naive is UTC), a ``date`` (its first instant) or the CLI's text
    forms (``2026-03-01``, ``2026-03-01T09:30``, ``7d``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return utc(datetime.combine(value, time()))
    if isinstance(value, str):
        return parse_instant(value, field)
    raise InvalidInput(field, "must be a datetime, a date or text like 2026-03-01 or 7d",
                       value)


def checked_name(value: Any, field: str, kind: str) -> str:
    """A name given bare or as its ref (``person:alice``)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"must be a {kind} name", value)
    return value.strip().removeprefix(f"{kind}:")


def optional_name(value: Any, field: str, kind: str) -> str | None:
    return None if value is None else checked_name(value, field, kind)


def as_ref(value: Any, field: str = "ref") -> Ref:
    if isinstance(value, Ref):
        return value
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a reference like model:churn@7", value)
    return parse_ref(value.strip(), default="model", field=field)


def page_length(value: Any) -> int:
    size = page_size(value, PAGE, "page_size")
    if size < 1:
        raise InvalidInput("page_size", "must be at least 1", value)
    return size


def paged(fetch_page: Any, record: type) -> Results[Any]:
    results: Results[Any] = Results(fetch_page, record)
    results.first(1)  # the first page now, so a bad argument fails at the call
    return results
