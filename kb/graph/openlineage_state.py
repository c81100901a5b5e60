"""What the OpenLineage importer needs to know before it merges more events into a run.

Events arrive duplicated and out of order; the importer folds each run's events into a
small merge state (canonical JSON on the Run as ``mergeState``) so that the end state
depends only on the set of events seen. This module reads those states back.
"""

from __future__ import annotations

from neo4j import ManagedTransaction

from kb.domain import Label

from .driver import Graph

RUN_STATES = (
    "UNWIND $ids AS id\n"
    f"MATCH (r:{Label.RUN.value} {{id: id}})\n"
    "RETURN r.id AS id, r.mergeState AS state"
)


def _run_states(tx: ManagedTransaction, ids: list[str]) -> dict[str, str | None]:
    return {rec["id"]: rec["state"] for rec in tx.run(RUN_STATES, ids=ids)}


def run_states(graph: Graph, ids: list[str]) -> dict[str, str | None]:
    """``{run id: merge state JSON or None}`` for the runs that already exist."""
    if not ids:
        return {}
    return graph.read(_run_states, sorted(set(ids)))
