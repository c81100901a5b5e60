"""What the OpenLineage importer needs to know before it merges more events into a run.

Events arrive duplicated and out of order; the importer folds each run's events into a
small merge state (canonical JSON on the Run as ``mergeState``) so that the end state
depends only on the set of events seen. This module reads those states back, either on
their own or, under the runs' write locks, inside the very transaction that writes the
merged runs; for the HTTP endpoint that transaction also looks up the caller's token, so
a request costs one transaction and one read statement before its writes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from neo4j import ManagedTransaction

from kb.domain import Batch, Label

from .driver import Graph
from .run_sources import SourceConflict, claim, refused
from .statements import KEYED, NEW, lock
from .tokens import TOKEN_MAP, Token, token_from_map
from .write import WriteResult, write_batch

# Both find their nodes by unique keys (token hash, run id): their plans never depend on
# the counts, which lineage traffic moves all the time (see statements.KEYED).
RUN_STATES = (
    KEYED +
    "UNWIND $ids AS id\n"
    f"MATCH (r:{Label.RUN.value} {{id: id}})\n"
    "RETURN r.id AS id, r.mergeState AS state"
)

# The states a write merges into, read under the runs' write locks (``statements.lock``):
# two server processes (or an import beside the server) merging events of one run at once
# would otherwise both read the same old state, and the last commit would drop the other's
# events. A run not yet in the graph is created here, so that a concurrent creator waits
# on its key instead; it gets its ``createdAt`` as the Run upsert would (lineage runs have
# no ``createdAt`` of their own), and the rest from that upsert, in the same transaction.
# A new run is claimed for ``$source`` here too (``run_sources``), and each run's source
# comes back, so that a run of another source refuses the write before anything else.
def _locked_states(ids: str) -> str:
    return (
        f"UNWIND {ids} AS id\n"
        f"MERGE (r:{Label.RUN.value} {{id: id}})\n"
        f"ON CREATE SET r.createdAt = datetime($now), r.{NEW} = true\n"
        + lock("r")
        + claim("r", "$source")
        + f"WITH r, r.{NEW} IS NOT NULL AS created\n"
        f"REMOVE r.{NEW}\n"
    )


LOCKED_RUN_STATES = (KEYED + _locked_states("$ids") + "WITH r, created\n"
                     "RETURN r.id AS id, r.mergeState AS state, r.source AS source,\n"
                     "       r.acceptSources AS accepts, created")

# The same, with the caller's token; an unknown token locks and creates nothing.
TOKEN_AND_RUN_STATES = (
    KEYED +
    "CALL () {\n"
    "  OPTIONAL MATCH (t:ApiToken {hash: $hash})\n"
    f"  RETURN {TOKEN_MAP} AS token\n"
    "}\n"
    "CALL (token) {\n"
    + "".join(f"  {line}\n" for line in _locked_states(
        "CASE WHEN token IS NULL THEN [] ELSE $ids END").splitlines())
    + "  WITH r, created\n"
    "  RETURN collect([r.id, r.mergeState, r.source, r.acceptSources, created]) AS states\n"
    "}\n"
    "RETURN token, states"
)

#: Builds the batch to write from ``{run id: merge state JSON or None}``; pure, no I/O.
BuildFromStates = Callable[[dict[str, str | None]], Batch]


def _run_states(tx: ManagedTransaction, ids: list[str]) -> dict[str, str | None]:
    return {rec["id"]: rec["state"] for rec in tx.run(RUN_STATES, ids=ids)}


def run_states(graph: Graph, ids: list[str]) -> dict[str, str | None]:
    """``{run id: merge state JSON or None}`` for the runs that already exist."""
    if not ids:
        return {}
    return graph.read(_run_states, sorted(set(ids)))


def _states(rows: list[list[Any]], source: str) -> dict[str, str | None]:
    """``{run id: merge state}`` from rows ``[id, state, source, accepts]``; raises
    ``SourceConflict`` for a run that ``source`` may not write."""
    for run_id, _, owner, accepts, _ in rows:
        if refused(owner, accepts, source):
            raise SourceConflict(run_id, owner, source)
    return {run_id: state for run_id, state, _, _, _ in rows}


def _created(rows: list[list[Any]]) -> frozenset[str]:
    """The runs of rows ``[id, state, source, accepts, created]`` that were created."""
    return frozenset(row[0] for row in rows if row[4])


def _merge_write(tx: ManagedTransaction, ids: list[str], build: BuildFromStates,
                 now: datetime, actor: str, source: str) -> WriteResult:
    found = tx.run(LOCKED_RUN_STATES, ids=ids, now=now.isoformat(), source=source)
    rows = [[r["id"], r["state"], r["source"], r["accepts"], r["created"]] for r in found]
    return write_batch(tx, build(_states(rows, source)), now, actor, claimed=_created(rows),
                       path=source)


def merge_write(graph: Graph, ids: list[str], build: BuildFromStates, *, actor: str,
                now: datetime, source: str) -> WriteResult:
    """Read the runs' states, build the merged batch and write it: one transaction.

    One round of BEGIN/COMMIT instead of two, and the states the batch merges are read,
    under the runs' write locks, by the transaction that writes it: a concurrent writer
    of the same runs waits for this commit and then reads what it wrote. ``build`` runs
    again if the driver retries. The runs are claimed for ``source``; one that another
    source created and did not open to it refuses the write (``SourceConflict``).
    """
    return graph.write(_merge_write, sorted(set(ids)), build, now, actor, source)


class Caller(Protocol):
    """Who a checked write is for: its ``actor`` stamps the write."""

    @property
    def actor(self) -> str: ...


C = TypeVar("C", bound=Caller)


def checked_merge_write(graph: Graph, token_hash: str, ids: list[str],
                        build: BuildFromStates, check: Callable[[Token | None], C], *,
                        now: datetime, source: str) -> C:
    """``merge_write`` for a caller known by a token hash: one transaction, one read.

    The token and the runs' states come back from one statement; ``check`` turns the token
    (None when unknown) into the caller whose actor stamps the write, or raises to refuse
    the whole write. The token is judged by the transaction that writes, so a token
    revoked before the commit writes nothing. Returns the caller.
    """

    def work(tx: ManagedTransaction) -> C:
        row = tx.run(TOKEN_AND_RUN_STATES, hash=token_hash, ids=ids, now=now.isoformat(),
                     source=source).single(strict=True)
        caller = check(None if row["token"] is None else token_from_map(row["token"]))
        write_batch(tx, build(_states(row["states"], source)), now, caller.actor,
                    claimed=_created(row["states"]), path=source)
        return caller

    return graph.write(work)
