"""What runs where, since when, and who is behind it: ``deployments``."""

from __future__ import annotations

import logging
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import DeploymentStatus
from kb.domain.answers import DeploymentFact, OwnerFact
from kb.errors import InvalidInput

from .driver import Graph, plain
from .people import active

log = logging.getLogger(__name__)

def _deployments_statement(environment: bool, status: bool) -> str:
    """One statement per filter combination, so that the planner seeks the environment or
    status index instead of scanning every deployment behind an ``$x IS NULL OR`` test."""
    where = " AND ".join(
        [c for c, on in (("d.environment = $environment", environment),
                         ("d.status = $status", status)) if on]) or "true"
    return f"""
MATCH (d:Deployment)
WHERE {where}
MATCH (d)-[:SERVES]->(v:ModelVersion)
WHERE $model IS NULL OR v.model = $model
CALL (d) {{
  OPTIONAL MATCH (p:Person)-[:DEPLOYED]->(d)
  RETURN p LIMIT 1
}}
CALL (v) {{
  OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v)
  OPTIONAL MATCH (t:Person)-[:TRAINED]->(r)
  RETURN r, t ORDER BY r.startedAt DESC LIMIT 1
}}
CALL (v) {{
  OPTIONAL MATCH (o)-[e:OWNS]->(:Model {{name: v.model}}) WHERE e.until IS NULL
  RETURN collect(CASE WHEN o IS NULL THEN null ELSE
    {{kind: head(labels(o)), key: coalesce(o.handle, o.name), role: e.role,
     active: CASE WHEN o:Person THEN {active('o')} END}} END) AS owners
}}
RETURN d.id AS id, v.model AS model, v.version AS version, d.environment AS environment,
       d.endpoint AS endpoint, d.status AS status, d.deployedAt AS deployedAt,
       d.retiredAt AS retiredAt,
       p.handle AS deployedBy, p.name AS deployedByName,
       CASE WHEN p IS NULL THEN null ELSE {active('p')} END
         AS deployedByActive,
       t.handle AS trainedBy,
       CASE WHEN t IS NULL THEN null ELSE {active('t')} END
         AS trainedByActive,
       r.id AS runId, owners
ORDER BY environment, model, deployedAt DESC, id
"""


#: Keyed by (environment given, status given); people are taken one each with bounded
#: subqueries so that a deployment is always exactly one row.
DEPLOYMENTS: dict[tuple[bool, bool], str] = {
    (e, s): _deployments_statement(e, s) for e in (False, True) for s in (False, True)}


def _fact(row: dict[str, Any]) -> DeploymentFact:
    return DeploymentFact(
        id=row["id"], model=row["model"], version=row["version"],
        environment=row["environment"], endpoint=row["endpoint"], status=row["status"],
        deployed_at=plain(row["deployedAt"]), retired_at=plain(row["retiredAt"]),
        deployed_by=row["deployedBy"], deployed_by_name=row["deployedByName"],
        deployed_by_active=row["deployedByActive"], trained_by=row["trainedBy"],
        trained_by_active=row["trainedByActive"], run_id=row["runId"],
        owners=tuple(OwnerFact(**o) for o in sorted(
            row["owners"], key=lambda o: (o["kind"], o["key"], o["role"] or ""))),
    )


def read_deployments(tx: ManagedTransaction, environment: str | None = None,
                     status: str | None = None, model: str | None = None
                     ) -> list[DeploymentFact]:
    """``deployments`` inside a read the caller holds (the site's production page)."""
    statement = DEPLOYMENTS[(environment is not None, status is not None)]
    rows = tx.run(statement, environment=environment, status=status, model=model)
    return [_fact(r.data()) for r in rows]


def deployments(graph: Graph, *, environment: str | None = None,
                status: str | None = "ACTIVE", model: str | None = None
                ) -> list[DeploymentFact]:
    """Deployments by environment and model; ``status=None`` gives every status."""
    if status is not None:
        status = str(status).upper()
        if status not in DeploymentStatus.__members__:
            raise InvalidInput("status", "must be ACTIVE or RETIRED", status)
    env = environment.strip().lower() if environment else None
    return graph.read(read_deployments, env, status, model)


ENVIRONMENTS = ("MATCH (d:Deployment) WHERE d.environment IS NOT NULL "
                "RETURN DISTINCT d.environment AS environment ORDER BY environment")


def environments(graph: Graph) -> list[str]:
    """Every environment some deployment names, in order (for "did you mean" answers)."""
    return [row["environment"] for row in graph.query(ENVIRONMENTS)]
