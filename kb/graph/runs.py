"""Runs as the shell, the API and notebooks list them: ``runs_page``, ``runs_count``,
``list_runs`` and ``run_sheets``.

A filtered list starts from its most selective anchor (the person, the experiment, the
model's versions, the dataset's versions, or the status and start-time indexes), so a
filter never walks every Run. Pages are keyset pages, newest first (``startedAt`` DESC,
then ``id``): a page seeks past the last run of the previous one, so a deep page costs what
the first does. Runs with no start time come last, read in a second step only once the
dated ones are used up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import Label
from kb.domain.paging import Page, decode_cursor, encode_cursor, page_size
from kb.errors import InvalidInput, NotFound

from .driver import Graph
from .properties import decode

log = logging.getLogger(__name__)

MAX_RUNS = 500

# The anchor each filter gives, most selective first; the first one set starts the read.
# Without a person, experiment, model or dataset the start-time index gives the order, so
# a page reads about as many runs as it returns. Every anchor is pinned with a hint: left
# free, the planner may seek a continued page's start-time range instead, which reads
# every older run in the graph.
_ANCHORS: tuple[tuple[str, str], ...] = (
    ("person", "MATCH (a:Person {handle: $person})-[:TRAINED]->(n:Run)"
               " USING INDEX a:Person(handle)"),
    ("experiment", "MATCH (n:Run)-[:PART_OF]->(a:Experiment {name: $experiment})"
                   " USING INDEX a:Experiment(name)"),
    ("model", "MATCH (a:Model {name: $model})<-[:VERSION_OF]-(:ModelVersion)"
              "<-[:PRODUCED]-(n:Run) USING INDEX a:Model(name)"),
    ("dataset", "MATCH (a:Dataset {name: $dataset})<-[:VERSION_OF]-(:DatasetVersion)"
                "<-[:USED]-(n:Run) USING INDEX a:Dataset(name)"),
    ("status", "MATCH (n:Run {status: $status}) USING INDEX n:Run(status)"),
)
_BY_TIME = "MATCH (n:Run) USING INDEX n:Run(startedAt)"
# Where the page starts: the dated runs (after the cursor's run), or the undated ones.
_DATED = "n.startedAt IS NOT NULL"
# The tie on the cursor's start time is a CASE, not an OR: the planner splits an OR into a
# union of two index seeks, which loses the index order and reads every older run.
_DATED_AFTER = ("n.startedAt <= $afterAt AND "
                "CASE WHEN n.startedAt = $afterAt THEN n.id > $afterId ELSE true END")
_UNDATED = "n.startedAt IS NULL AND ($afterId IS NULL OR n.id > $afterId)"
_FILTER = """
  AND ($since IS NULL OR n.startedAt >= $since)
  AND ($status IS NULL OR n.status = $status)
  AND ($person IS NULL OR EXISTS { MATCH (:Person {handle: $person})-[:TRAINED]->(n) })
  AND ($experiment IS NULL OR EXISTS { MATCH (n)-[:PART_OF]->(:Experiment {name: $experiment}) })
  AND ($model IS NULL OR EXISTS {
        MATCH (n)-[:PRODUCED]->(:ModelVersion)-[:VERSION_OF]->(:Model {name: $model}) })
  AND ($dataset IS NULL OR EXISTS {
        MATCH (n)-[:USED]->(:DatasetVersion)-[:VERSION_OF]->(:Dataset {name: $dataset}) })
WITH DISTINCT n
"""
_ORDER = "WITH n ORDER BY n.startedAt DESC, n.id LIMIT $limit\n"
_ORDER_UNDATED = "WITH n ORDER BY n.id LIMIT $limit\n"
_ROW = """RETURN properties(n) AS run,
  COLLECT { MATCH (p:Person)-[:TRAINED]->(n) RETURN p.handle LIMIT 1 } AS person,
  COLLECT { MATCH (n)-[:PART_OF]->(e:Experiment) RETURN e.name LIMIT 1 } AS experiment,
  COLLECT { MATCH (n)-[:PRODUCED]->(v:ModelVersion) RETURN v.key AS k ORDER BY k } AS produced,
  COLLECT { MATCH (n)-[:USED]->(d:DatasetVersion) RETURN d.key AS k ORDER BY k } AS inputs,
  COLLECT { MATCH (n)-[:AT_COMMIT]->(c:CodeVersion)
            RETURN c {.repo, .commit, .dirty} LIMIT 1 } AS code,
  COLLECT { MATCH (n)-[:IN_ENV]->(x:Environment) RETURN x.digest LIMIT 1 } AS env
"""


def _anchor(name: str | None, start: str) -> str:
    if name:
        return dict(_ANCHORS)[name]
    # The start-time index cannot find the runs that have no start time.
    return "MATCH (n:Run)" if start == _UNDATED else _BY_TIME


# From an anchor, the same starts said so that no index can seek them: otherwise the
# planner may also seek the start-time range and join, reading every older run.
_OPAQUE = {
    _DATED: "CASE WHEN n.startedAt IS NULL THEN false ELSE true END",
    _DATED_AFTER: ("CASE WHEN n.startedAt < $afterAt THEN true WHEN n.startedAt = $afterAt "
                   "THEN n.id > $afterId ELSE false END"),
    _UNDATED: _UNDATED,
}


def _statement(anchor: str | None, start: str, since: bool) -> str:
    order = _ORDER_UNDATED if start == _UNDATED else _ORDER
    if anchor is not None:
        return f"{_anchor(anchor, start)}\nWHERE {_OPAQUE[start]}{_FILTER}{order}{_ROW}"
    # Said apart from the filter so that the index seeks it: no run older is read.
    seek = " AND n.startedAt >= $since" if since and start != _UNDATED else ""
    return f"{_anchor(anchor, start)}\nWHERE {start}{seek}{_FILTER}{order}{_ROW}"


_NAMES = (*(name for name, _ in _ANCHORS), None)
#: One page's statement per (anchor, where it starts, whether ``since`` is given).
PAGE: dict[tuple[str | None, str, bool], str] = {
    (name, start, since): _statement(name, start, since)
    for name in _NAMES for start in (_DATED, _DATED_AFTER, _UNDATED)
    for since in (False, True)}
#: How many runs match, counted from the anchor (the count store when nothing filters).
COUNT: dict[str | None, str] = {
    name: f"{_anchor(name, _DATED)}\nWHERE true{_FILTER}RETURN count(n) AS total"
    for name in _NAMES if name is not None}
COUNT[None] = "MATCH (n:Run) RETURN count(n) AS total"
COUNT_SINCE = (f"{_BY_TIME} WHERE n.startedAt >= $since{_FILTER}RETURN count(n) AS total")
BY_IDS = "UNWIND $ids AS id MATCH (n:Run {id: id})\n" + _ROW
# Whether each named anchor exists, so an unknown name is an error, not an empty list.
_EXISTS = {
    "person": ("person", "MATCH (x:Person {handle: $value}) RETURN count(x) > 0 AS found"),
    "experiment": ("experiment",
                   "MATCH (x:Experiment {name: $value}) RETURN count(x) > 0 AS found"),
    "model": ("model", "MATCH (x:Model {name: $value}) RETURN count(x) > 0 AS found"),
    "dataset": ("dataset", "MATCH (x:Dataset {name: $value}) RETURN count(x) > 0 AS found"),
}
FILTERS = ("person", "experiment", "model", "dataset", "status", "since")


@dataclass(frozen=True)
class RunSheet:
    """One run as the shell shows it: who, where, on what, with which code;
    ``properties`` holds every stored property of the run, decoded."""

    id: str
    status: str | None
    started_at: datetime | None
    person: str | None
    experiment: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    produced: tuple[str, ...]
    inputs: tuple[str, ...]
    repo: str | None
    commit: str | None
    dirty: bool | None
    environment: str | None
    properties: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sheet(row: Any) -> RunSheet:
    run = decode(Label.RUN, row["run"])
    code = row["code"][0] if row["code"] else {}
    return RunSheet(
        id=run["id"], status=run.get("status"), started_at=run.get("startedAt"),
        person=(row["person"] or [None])[0], experiment=(row["experiment"] or [None])[0],
        params=_map(run.get("params")), metrics=_map(run.get("metrics")),
        produced=tuple(row["produced"]), inputs=tuple(row["inputs"]),
        repo=code.get("repo"), commit=code.get("commit"), dirty=code.get("dirty"),
        environment=(row["env"] or [None])[0], properties=run)


def _filters(person: str | None, experiment: str | None, model: str | None,
             dataset: str | None, status: str | None, since: datetime | None
             ) -> dict[str, Any]:
    for name, value in (("person", person), ("experiment", experiment), ("model", model),
                        ("dataset", dataset), ("status", status)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidInput(name, "must be a non-empty name", value)
    if since is not None and not isinstance(since, datetime):
        raise InvalidInput("since", "must be a datetime", since)
    return {"person": person, "experiment": experiment, "model": model, "dataset": dataset,
            "status": status, "since": since}


def _check_anchors(tx: ManagedTransaction, filters: dict[str, Any]) -> str | None:
    """The anchor the read starts from; an unknown named anchor is NotFound."""
    for name, (kind, statement) in _EXISTS.items():
        value = filters[name]
        if value is not None and not tx.run(statement, value=value).single(strict=True)["found"]:
            raise NotFound(kind, value)
    return next((name for name, _ in _ANCHORS if filters[name] is not None), None)


def _sort_values(sheet: RunSheet) -> tuple[Any, ...]:
    return (sheet.started_at, sheet.id)


def read_runs_page(tx: ManagedTransaction, filters: dict[str, Any], first: int,
                   after: str | None) -> Page[RunSheet]:
    """``runs_page`` inside a read the caller holds, arguments already checked."""
    anchor = _check_anchors(tx, filters)
    after_at, after_id = decode_cursor(after, 2) if after is not None else (None, None)
    if after is not None and (not isinstance(after_id, str)
                              or not (after_at is None or isinstance(after_at, datetime))):
        raise InvalidInput("after", "is not a cursor this list gave", after)
    rows: list[RunSheet] = []
    if first == 0:
        return Page((), None, False)
    if after is None or after_at is not None:
        start = _DATED if after is None else _DATED_AFTER
        statement = PAGE[(anchor, start, filters["since"] is not None)]
        rows = [_sheet(r) for r in tx.run(statement, limit=first + 1,
                                          afterAt=after_at, afterId=after_id, **filters)]
        after_id = None
    if len(rows) <= first and filters["since"] is None:
        # The undated runs follow every dated one (a ``since`` filter excludes them).
        rows += [_sheet(r) for r in tx.run(PAGE[(anchor, _UNDATED, False)],
                                           limit=first + 1 - len(rows),
                                           afterId=after_id, **filters)]
    items = tuple(rows[:first])
    cursor = encode_cursor(_sort_values(items[-1])) if items else None
    return Page(items, cursor, len(rows) > first)


def read_runs_count(tx: ManagedTransaction, filters: dict[str, Any]) -> int:
    """``runs_count`` inside a read the caller holds."""
    anchor = _check_anchors(tx, filters)
    statement = COUNT_SINCE if anchor is None and filters["since"] is not None else COUNT[anchor]
    return tx.run(statement, **filters).single(strict=True)["total"]


def runs_page(graph: Graph, *, person: str | None = None, experiment: str | None = None,
              model: str | None = None, dataset: str | None = None,
              status: str | None = None, since: datetime | None = None, first: int = 20,
              after: str | None = None) -> Page[RunSheet]:
    """One page of the runs matching every filter given, newest first (``startedAt``
    descending, then ``id``; runs never started last); ``after`` is the ``end_cursor`` of
    the previous page. An unknown person, experiment, model or dataset is NotFound."""
    filters = _filters(person, experiment, model, dataset, status, since)
    return graph.read(read_runs_page, filters, page_size(first), after)


def runs_count(graph: Graph, *, person: str | None = None, experiment: str | None = None,
               model: str | None = None, dataset: str | None = None,
               status: str | None = None, since: datetime | None = None) -> int:
    """How many runs match every filter given, counted from the same anchor."""
    filters = _filters(person, experiment, model, dataset, status, since)
    return graph.read(read_runs_count, filters)


def list_runs(graph: Graph, *, experiment: str | None = None, person: str | None = None,
              status: str | None = None, model: str | None = None,
              dataset: str | None = None, since: datetime | None = None,
              limit: int = 50) -> list[RunSheet]:
    """Runs matching every filter given, newest first, at most ``limit`` (read a page at a
    time through ``runs_page``)."""
    if not 1 <= limit <= MAX_RUNS:
        raise InvalidInput("first", f"must be between 1 and {MAX_RUNS}", limit)
    out: list[RunSheet] = []
    after: str | None = None
    while len(out) < limit:
        page = runs_page(graph, person=person, experiment=experiment, model=model,
                         dataset=dataset, status=status, since=since,
                         first=min(100, limit - len(out)), after=after)
        out.extend(page.items)
        if not page.has_next:
            break
        after = page.end_cursor
    return out


def _by_ids(tx: ManagedTransaction, ids: list[str]) -> dict[str, RunSheet]:
    return {s.id: s for s in (_sheet(r) for r in tx.run(BY_IDS, ids=ids))}


def run_sheets(graph: Graph, ids: list[str]) -> list[RunSheet]:
    """The named runs, in the order given; an unknown id is NotFound."""
    found = graph.read(_by_ids, ids)
    for run_id in ids:
        if run_id not in found:
            raise NotFound("run", run_id)
    return [found[run_id] for run_id in ids]
