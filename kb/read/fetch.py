"""One page of each root list, read through the ``kb.graph`` functions the CLI and the
API call. Each list has ONE function here, so moving a list onto a new graph function is
a change to that function alone."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kb.domain.paging import Page, decode_cursor, encode_cursor
from kb.errors import InvalidInput
from kb.graph import Graph
from kb.graph.nodes import page
from kb.graph.runs import MAX_RUNS, RunSheet, list_runs

log = logging.getLogger(__name__)


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    value = decode_cursor(after, 1)[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput("after", "is not a cursor this list gave", after)
    return value


def runs_page(graph: Graph, *, person: str | None = None, experiment: str | None = None,
              model: str | None = None, dataset: str | None = None,
              status: str | None = None, since: datetime | None = None, first: int = 20,
              after: str | None = None) -> Page[RunSheet]:
    """Runs newest first, as ``kb runs`` lists them, one page at a time.

    ``list_runs`` has no cursor, so a page is the slice after an offset of a read of
    everything before it, and ``MAX_RUNS`` is as deep as it reaches;
    ``kb.graph.runs.runs_page`` (keyset paged, the same signature) replaces this."""
    offset = _offset(after)
    want = offset + first + 1
    sheets = list_runs(graph, person=person, experiment=experiment, model=model,
                       dataset=dataset, status=status, since=since,
                       limit=min(want, MAX_RUNS))
    if want > MAX_RUNS and len(sheets) == MAX_RUNS:
        log.warning("runs: only the newest %d runs can be listed", MAX_RUNS)
    items = tuple(sheets[offset:offset + first])
    end = encode_cursor([offset + len(items)]) if items else None
    return Page(items, end, len(sheets) > offset + first)


def nodes_page(graph: Graph, kind: str, filters: dict[str, Any], *, first: int = 20,
               after: str | None = None) -> Page[dict[str, Any]]:
    """One page of a root list (``models``, ``datasets``, ``experiments``, ``people``,
    ``teams``) as the API's root fields read it: each item a node's decoded properties."""
    offset = _offset(after)
    total, rows = graph.read(page, kind, filters, offset, first)
    end = encode_cursor([offset + len(rows)]) if rows else None
    return Page(tuple(rows), end, offset + len(rows) < total)
