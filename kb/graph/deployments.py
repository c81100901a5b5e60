"""Deployment writes beyond the plain upsert: replacing and retiring."""

from __future__ import annotations

from neo4j import ManagedTransaction

from kb.domain import DeploymentRecord

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
SET o.status = 'RETIRED', o.retiredAt = coalesce(newest.deployedAt, datetime($now)),
    o.updatedAt = datetime($now), o.updatedBy = $actor
"""
)

RETIRE = """
UNWIND $ids AS id
MATCH (d:Deployment {id: id})
WHERE d.status <> 'RETIRED'
SET d.status = 'RETIRED', d.retiredAt = datetime($now), d.updatedAt = datetime($now),
    d.updatedBy = $actor
"""

FIND_ACTIVE = """
MATCH (d:Deployment {environment: $environment, status: 'ACTIVE'})
      -[:SERVES]->(:ModelVersion {key: $key})
WHERE coalesce(d.endpoint, '') = coalesce($endpoint, '')
RETURN d.id AS id LIMIT 1
"""


def retire_replaced(tx: ManagedTransaction, records: tuple[DeploymentRecord, ...],
                    now: str, actor: str) -> None:
    ids = [d.id for d in records if d.status.value == "ACTIVE"]
    if ids:
        tx.run(RETIRE_REPLACED, ids=ids, now=now, actor=actor).consume()


def retire(tx: ManagedTransaction, ids: tuple[str, ...], now: str, actor: str) -> None:
    if ids:
        tx.run(RETIRE, ids=list(ids), now=now, actor=actor).consume()


def find_active(tx: ManagedTransaction, *, model_version_key: str, environment: str,
                endpoint: str | None) -> str | None:
    """The id of the active deployment already serving this version there, if any."""
    record = tx.run(FIND_ACTIVE, key=model_version_key, environment=environment,
                    endpoint=endpoint).single()
    return None if record is None else record["id"]
