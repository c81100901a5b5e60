"""Deployment writes beyond the plain upsert: replacing and retiring."""

from __future__ import annotations

from collections.abc import Iterable

from neo4j import ManagedTransaction, Record

from kb.domain import DeploymentRecord, Label, versioned_key

from .changes import ChangeLog
from .statements import lock

# One active deployment of a model per environment and endpoint: the newest (by
# ``deployedAt``, else ``createdAt``; the id breaks ties) stays, the others are retired
# as of its deployment, never deleted, so history stays readable. The model's write lock
# is taken first, so that concurrent deployments of one model see each other's commits
# and the end state does not depend on which committed first; an older deployment
# written after a newer one is retired at once.
RETIRE_REPLACED = (
    """
UNWIND $ids AS id
MATCH (d:Deployment {id: id, status: 'ACTIVE'})-[:SERVES]->(:ModelVersion)
      -[:VERSION_OF]->(m:Model)
WITH DISTINCT m, d.environment AS environment, coalesce(d.endpoint, '') AS endpoint
ORDER BY m.name, environment, endpoint
""" + lock("m") + """WITH m, environment, endpoint
MATCH (o:Deployment {environment: environment, status: 'ACTIVE'})
      -[:SERVES]->(:ModelVersion)-[:VERSION_OF]->(m)
WHERE coalesce(o.endpoint, '') = endpoint
WITH m, environment, endpoint, o
ORDER BY coalesce(o.deployedAt, o.createdAt) DESC, o.id DESC
WITH m, environment, endpoint, collect(o) AS active
WITH active[0] AS newest, active[1..] AS older
UNWIND older AS o
WITH o, newest, o.retiredAt AS before
SET o.status = 'RETIRED', o.retiredAt = coalesce(newest.deployedAt, datetime($now)),
    o.updatedAt = datetime($now), o.updatedBy = $actor
RETURN o.id AS id, before, o.retiredAt AS after
"""
)

RETIRE = """
UNWIND $ids AS id
MATCH (d:Deployment {id: id})
WHERE d.status <> 'RETIRED'
WITH d, d.retiredAt AS before
SET d.status = 'RETIRED', d.retiredAt = datetime($now), d.updatedAt = datetime($now),
    d.updatedBy = $actor
RETURN d.id AS id, before, d.retiredAt AS after
"""

# Taken before looking for the active deployment a new one repeats: of two concurrent
# deployments of one model, the later waits for the earlier to commit, then sees it.
LOCK_MODELS = """
UNWIND $names AS name
MATCH (m:Model {name: name})
WITH m ORDER BY m.name
""" + lock("m")

FIND_ACTIVE = """
UNWIND $rows AS row
OPTIONAL MATCH (d:Deployment {environment: row.environment, status: 'ACTIVE'})
      -[:SERVES]->(:ModelVersion {key: row.key})
WHERE coalesce(d.endpoint, '') = coalesce(row.endpoint, '')
WITH row, min(d.id) AS existing
RETURN row.id AS id, existing
"""


def _retired(log: ChangeLog, rows: Iterable[Record]) -> None:
    for rec in rows:
        log.field(Label.DEPLOYMENT, rec["id"], "status", "ACTIVE", "RETIRED")
        if rec["before"] != rec["after"]:
            log.field(Label.DEPLOYMENT, rec["id"], "retiredAt", rec["before"], rec["after"])


def retire_replaced(tx: ManagedTransaction, records: tuple[DeploymentRecord, ...],
                    now: str, actor: str, log: ChangeLog) -> None:
    ids = [d.id for d in records if d.status.value == "ACTIVE"]
    if ids:
        _retired(log, tx.run(RETIRE_REPLACED, ids=ids, now=now, actor=actor))


def retire(tx: ManagedTransaction, ids: tuple[str, ...], now: str, actor: str,
           log: ChangeLog) -> None:
    if ids:
        _retired(log, tx.run(RETIRE, ids=list(ids), now=now, actor=actor))


def reuse_active(tx: ManagedTransaction, records: tuple[DeploymentRecord, ...],
                 made_up: frozenset[str]) -> tuple[DeploymentRecord, ...]:
    """``records``, where each id kb made up (``made_up``, none given by the caller) is
    replaced by that of the active deployment already serving the same version in the
    same environment and endpoint, if there is one: deploying again is the same
    deployment. The same tuple comes back when no id changes."""
    fresh = [d for d in records if d.id in made_up]
    if not fresh:
        return records
    tx.run(LOCK_MODELS, names=sorted({d.model for d in fresh})).consume()
    rows = [{"id": d.id, "key": versioned_key(d.model, d.version),
             "environment": d.environment, "endpoint": d.endpoint} for d in fresh]
    found = {r["id"]: r["existing"] for r in tx.run(FIND_ACTIVE, rows=rows)
             if r["existing"] is not None}
    if not found:
        return records
    return tuple(d.model_copy(update={"id": found[d.id]}) if d.id in found else d
                 for d in records)
