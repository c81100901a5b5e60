"""Runs as the shell lists and compares them: ``list_runs`` and ``run_sheets``.

A filtered list starts from its most selective anchor (the person, the experiment, the
model's versions, the dataset's versions, or the status and start-time indexes), so a
filter never walks every Run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import Label
from kb.errors import InvalidInput, NotFound

from .driver import Graph
from .properties import decode, projection

log = logging.getLogger(__name__)

MAX_RUNS = 500

# The anchor each filter gives, most selective first; the first one set starts the read.
_ANCHORS: tuple[tuple[str, str], ...] = (
    ("person", "MATCH (:Person {handle: $person})-[:TRAINED]->(n:Run)"),
    ("experiment", "MATCH (n:Run)-[:PART_OF]->(:Experiment {name: $experiment})"),
    ("model", "MATCH (:Model {name: $model})<-[:VERSION_OF]-(:ModelVersion)"
              "<-[:PRODUCED]-(n:Run)"),
    ("dataset", "MATCH (:Dataset {name: $dataset})<-[:VERSION_OF]-(:DatasetVersion)"
                "<-[:USED]-(n:Run)"),
    ("status", "MATCH (n:Run {status: $status})"),
    ("since", "MATCH (n:Run) WHERE n.startedAt >= $since"),
)
_FILTER = """
WITH DISTINCT n
WHERE ($since IS NULL OR n.startedAt >= $since)
  AND ($status IS NULL OR n.status = $status)
  AND ($person IS NULL OR EXISTS { MATCH (:Person {handle: $person})-[:TRAINED]->(n) })
  AND ($experiment IS NULL OR EXISTS { MATCH (n)-[:PART_OF]->(:Experiment {name: $experiment}) })
  AND ($model IS NULL OR EXISTS {
        MATCH (n)-[:PRODUCED]->(:ModelVersion)-[:VERSION_OF]->(:Model {name: $model}) })
  AND ($dataset IS NULL OR EXISTS {
        MATCH (n)-[:USED]->(:DatasetVersion)-[:VERSION_OF]->(:Dataset {name: $dataset}) })
WITH n ORDER BY n.startedAt IS NULL, n.startedAt DESC, n.id LIMIT $limit
"""
_RUN = projection("n", Label.RUN, ("id", "status", "startedAt", "params", "metrics"))
_ROW = """
RETURN """ + _RUN + """ AS run,
  COLLECT { MATCH (p:Person)-[:TRAINED]->(n) RETURN p.handle LIMIT 1 } AS person,
  COLLECT { MATCH (n)-[:PART_OF]->(e:Experiment) RETURN e.name LIMIT 1 } AS experiment,
  COLLECT { MATCH (n)-[:PRODUCED]->(v:ModelVersion) RETURN v.key AS k ORDER BY k } AS produced,
  COLLECT { MATCH (n)-[:USED]->(d:DatasetVersion) RETURN d.key AS k ORDER BY k } AS inputs,
  COLLECT { MATCH (n)-[:AT_COMMIT]->(c:CodeVersion)
            RETURN c {.repo, .commit, .dirty} LIMIT 1 } AS code,
  COLLECT { MATCH (n)-[:IN_ENV]->(x:Environment) RETURN x.digest LIMIT 1 } AS env
"""
LIST = {name: anchor + _FILTER + _ROW for name, anchor in _ANCHORS}
LIST_ALL = "MATCH (n:Run)" + _FILTER + _ROW
BY_IDS = "UNWIND $ids AS id MATCH (n:Run {id: id})" + _ROW
# Whether each named anchor exists, so an unknown name is an error, not an empty list.
_EXISTS = {
    "person": ("person", "MATCH (x:Person {handle: $value}) RETURN count(x) > 0 AS found"),
    "experiment": ("experiment",
                   "MATCH (x:Experiment {name: $value}) RETURN count(x) > 0 AS found"),
    "model": ("model", "MATCH (x:Model {name: $value}) RETURN count(x) > 0 AS found"),
    "dataset": ("dataset", "MATCH (x:Dataset {name: $value}) RETURN count(x) > 0 AS found"),
}


@dataclass(frozen=True)
class RunSheet:
    """One run as the shell shows it: who, where, on what, with which code."""

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
        environment=(row["env"] or [None])[0])


def _list(tx: ManagedTransaction, filters: dict[str, Any], limit: int) -> list[RunSheet]:
    for name, (kind, statement) in _EXISTS.items():
        value = filters[name]
        if value is not None and not tx.run(statement, value=value).single(strict=True)["found"]:
            raise NotFound(kind, value)
    anchor = next((name for name, _ in _ANCHORS if filters[name] is not None), None)
    statement = LIST[anchor] if anchor else LIST_ALL
    return [_sheet(r) for r in tx.run(statement, limit=limit, **filters)]


def list_runs(graph: Graph, *, experiment: str | None = None, person: str | None = None,
              status: str | None = None, model: str | None = None,
              dataset: str | None = None, since: datetime | None = None,
              limit: int = 50) -> list[RunSheet]:
    """Runs matching every filter given, newest first, at most ``limit``."""
    if not 1 <= limit <= MAX_RUNS:
        raise InvalidInput("first", f"must be between 1 and {MAX_RUNS}", limit)
    filters = {"experiment": experiment, "person": person, "status": status, "model": model,
               "dataset": dataset, "since": since}
    return graph.read(_list, filters, limit)


def _by_ids(tx: ManagedTransaction, ids: list[str]) -> dict[str, RunSheet]:
    return {s.id: s for s in (_sheet(r) for r in tx.run(BY_IDS, ids=ids))}


def run_sheets(graph: Graph, ids: list[str]) -> list[RunSheet]:
    """The named runs, in the order given; an unknown id is NotFound."""
    found = graph.read(_by_ids, ids)
    for run_id in ids:
        if run_id not in found:
            raise NotFound("run", run_id)
    return [found[run_id] for run_id in ids]
