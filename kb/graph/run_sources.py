"""Which source created each run, and which others its creator lets write it.

Runs come from several sources (``kb.domain.RunSource``: the SDK, the CLI, the API,
OpenLineage, MLflow), and each names runs by ids of its own making: an OpenLineage
``runId`` that happens to equal an SDK run's id would otherwise rewrite that run (its
status, its experiment). So a run keeps the source that created it (``source``, written
once), and a write from another source is refused with ``SourceConflict``, nothing
written, unless the creator listed that source in the run's ``acceptSources``
(``kb.run(..., accept=["openlineage"])``); then the writes merge as they always did.

A run without a source is either older than this rule (it has a ``kind``) and stays
open to every source, as it always was; or a stub that another run named as its parent,
which its first real writer claims.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from neo4j import ManagedTransaction

from kb.domain import Label
from kb.errors import Conflict

from .statements import KEYED, NEW, lock

if TYPE_CHECKING:
    from .driver import Graph


class SourceConflict(Conflict):
    """A write to a run that another source created and did not open to this one."""

    field = "run.id"

    def __init__(self, run_id: str, source: str, writer: str) -> None:
        super().__init__(
            f"run.id: run {run_id!r} was created by {source} and does not accept writes "
            f"from {writer}; runs from different sources are kept apart unless the run's "
            f"creator lists the other source in its accept field "
            f"(kb.run(..., accept=[{writer!r}]))")
        self.run_id = run_id
        self.source = source
        self.writer = writer


def claim(node: str, source: str) -> str:
    """Clauses that give the write-locked run ``node`` the source ``source`` when it is
    new or a stub. ``node`` and ``source`` are kb's own variable and parameter names."""
    return (
        f"FOREACH (_ IN CASE WHEN {node}.source IS NULL AND {node}.kind IS NULL\n"
        f"                   THEN [1] ELSE [] END | SET {node}.source = {source})\n"
    )


def refused(source: str | None, accepts: Iterable[str] | None, writer: str) -> bool:
    """Whether ``writer`` may not write a run of ``source`` that accepts ``accepts``."""
    return source is not None and source != writer and writer not in (accepts or ())


# Rows are ``[id, source, startedAt]``, sorted by id: concurrent writers lock runs in one
# order. A run came to be when it started (a run logged after the fact, an import), so
# questions asked as of an earlier instant see it from then.
CLAIM_RUNS = (
    KEYED +
    "UNWIND $rows AS row\n"
    f"MERGE (r:{Label.RUN.value} {{id: row[0]}})\n"
    f"ON CREATE SET r.createdAt = coalesce(datetime(row[2]), datetime($now)), r.{NEW} = true\n"
    + lock("r")
    + claim("r", "row[1]") +
    f"WITH r, row, r.{NEW} IS NOT NULL AS created\n"
    f"REMOVE r.{NEW}\n"
    "WITH r, row, created, r.source IS NOT NULL AND r.source <> row[1]\n"
    "  AND NOT row[1] IN coalesce(r.acceptSources, []) AS refused\n"
    "RETURN collect(CASE WHEN created THEN r.id END) AS created,\n"
    "       head(collect(CASE WHEN refused THEN [r.id, r.source, row[1]] END)) AS refused"
)


def claim_runs(tx: ManagedTransaction, runs: Iterable[tuple[str, str, str | None]], now: str
               ) -> frozenset[str]:
    """Create or lock the runs ``(id, source, started at as ISO text)`` and claim the new
    ones for their source;
    raises ``SourceConflict`` (the transaction then writes nothing) for a run that
    another source created and did not open to this one. Returns the runs it created."""
    rows = sorted({(run_id, source, started) for run_id, source, started in runs},
                  key=lambda r: r[:2])
    if not rows:
        return frozenset()
    found = tx.run(CLAIM_RUNS, rows=[list(r) for r in rows], now=now).single(strict=True)
    if found["refused"] is not None:
        raise SourceConflict(*found["refused"])
    return frozenset(found["created"])


OWNERS = (
    "UNWIND $ids AS id\n"
    f"MATCH (r:{Label.RUN.value} {{id: id}})\n"
    "RETURN r.id AS id, r.source AS source, r.acceptSources AS accepts, r.status AS status,\n"
    "       r.endedAt AS endedAt, r.params AS params, r.metrics AS metrics"
)


def _owners(tx: ManagedTransaction, ids: list[str]) -> dict[str, dict[str, Any]]:
    found = {}
    for rec in tx.run(OWNERS, ids=ids):
        ended = rec["endedAt"]
        found[rec["id"]] = {
            "source": rec["source"], "accepts": tuple(rec["accepts"] or ()),
            "status": rec["status"],
            "ended_at": None if ended is None else ended.to_native(),
            "params": json.loads(rec["params"]) if rec["params"] else {},
            "metrics": json.loads(rec["metrics"]) if rec["metrics"] else {}}
    return found


def run_owners(graph: Graph, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For the runs of ``ids`` that exist: their ``source`` and ``accepts``, and what an
    importer merging into them must not lose (``status``, ``ended_at``, ``params``,
    ``metrics``), by run id."""
    wanted = sorted(set(ids))
    return graph.read(_owners, wanted) if wanted else {}
