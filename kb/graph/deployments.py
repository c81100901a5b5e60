"""Deployment writes beyond the plain upsert: replacing and retiring."""

from __future__ import annotations

from neo4j import ManagedTransaction

from kb.domain import DeploymentRecord

# A new active deployment of a model replaces the one at the same environment and
# endpoint: the older one is retired, never deleted, so history stays readable.
RETIRE_REPLACED = """
UNWIND $ids AS id
MATCH (d:Deployment {id: id, status: 'ACTIVE'})-[:SERVES]->(:ModelVersion)-[:VERSION_OF]->(m:Model)
MATCH (o:Deployment {environment: d.environment, status: 'ACTIVE'})
      -[:SERVES]->(:ModelVersion)-[:VERSION_OF]->(m)
WHERE o.id <> d.id AND coalesce(o.endpoint, '') = coalesce(d.endpoint, '')
  AND coalesce(o.deployedAt, o.createdAt) <= coalesce(d.deployedAt, d.createdAt)
SET o.status = 'RETIRED', o.retiredAt = coalesce(d.deployedAt, datetime($now)),
    o.updatedAt = datetime($now), o.updatedBy = $actor
"""

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
