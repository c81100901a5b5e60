"""What runs where, since when, and who is behind it: ``deployments``."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import DeploymentStatus
from kb.domain.answers import DeploymentFact, OwnerFact
from kb.errors import InvalidInput

from . import asof
from .driver import Graph, plain
from .people import active

log = logging.getLogger(__name__)

def _anchor(environment: bool, status: bool) -> str:
    """Today's deployments: the environment index, else the status index, so the planner
    seeks instead of scanning every deployment behind an ``$x IS NULL OR`` test. The
    status test under an environment is a CASE, which no index can seek: given both, a
    planner may seek both and join, reading every active deployment anywhere."""
    if environment:
        status_test = (" AND CASE d.status WHEN $status THEN true ELSE false END"
                       if status else "")
        return ("MATCH (d:Deployment) USING INDEX SEEK d:Deployment(environment)\n"
                f"WHERE d.environment = $environment{status_test}\n")
    if status:
        return ("MATCH (d:Deployment) USING INDEX SEEK d:Deployment(status)\n"
                "WHERE d.status = $status\n")
    return "MATCH (d:Deployment)\n"


def _anchor_at(environment: bool, status: str | None) -> str:
    """Deployments as of ``$asOf``. One live then is ACTIVE now or was changed (retired)
    since, so it is found through the status and ``updatedAt`` indexes; one retired by
    then is RETIRED now."""
    env = "d.environment = $environment AND " if environment else ""
    if status == "ACTIVE":
        return ("CALL () {\n  MATCH (d:Deployment) WHERE d.status = 'ACTIVE' RETURN d\n"
                "  UNION\n  MATCH (d:Deployment) WHERE d.updatedAt > $asOf RETURN d\n}\n"
                f"WITH d WHERE {env}{asof.live('d')}\n")
    if status == "RETIRED":
        return ("MATCH (d:Deployment) WHERE d.status = 'RETIRED'\n"
                f"  AND {env}{asof.retired_by('d')}\n")
    return f"MATCH (d:Deployment)\nWHERE {env}{asof.deployed_at('d')} <= $asOf\n"


def _deployments_statement(anchor: str, at: bool) -> str:
    """People are taken one each with bounded subqueries so that a deployment is always
    exactly one row; as of an instant, only links and ownerships that held then count."""
    if at:
        version, run, person = (f" AND {asof.existed('v')}", f" WHERE {asof.existed('r')}",
                                f" WHERE {asof.existed('p')}")
        trainer, owner = f" WHERE {asof.existed('t')}", asof.held("e")
        is_active = asof.active_at
        status = f"CASE WHEN {asof.live('d')} THEN 'ACTIVE' ELSE 'RETIRED' END"
        retired = "CASE WHEN d.retiredAt <= $asOf THEN d.retiredAt END"
    else:
        status, retired = "d.status", "d.retiredAt"
        version = run = person = trainer = ""
        owner, is_active = "e.until IS NULL", active
    return f"""{anchor}MATCH (d)-[:SERVES]->(v:ModelVersion)
WHERE ($model IS NULL OR v.model = $model){version}
CALL (d) {{
  OPTIONAL MATCH (p:Person)-[:DEPLOYED]->(d){person}
  RETURN p LIMIT 1
}}
CALL (v) {{
  OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v){run}
  OPTIONAL MATCH (t:Person)-[:TRAINED]->(r){trainer}
  RETURN r, t ORDER BY r.startedAt DESC LIMIT 1
}}
CALL (v) {{
  OPTIONAL MATCH (o)-[e:OWNS]->(:Model {{name: v.model}}) WHERE {owner}
  RETURN collect(CASE WHEN o IS NULL THEN null ELSE
    {{kind: head(labels(o)), key: coalesce(o.handle, o.name), role: e.role,
     active: CASE WHEN o:Person THEN {is_active('o')} END}} END) AS owners
}}
RETURN d.id AS id, v.model AS model, v.version AS version, d.environment AS environment,
       d.endpoint AS endpoint, {status} AS status, d.deployedAt AS deployedAt,
       {retired} AS retiredAt,
       p.handle AS deployedBy, p.name AS deployedByName,
       CASE WHEN p IS NULL THEN null ELSE {is_active('p')} END
         AS deployedByActive,
       t.handle AS trainedBy,
       CASE WHEN t IS NULL THEN null ELSE {is_active('t')} END
         AS trainedByActive,
       r.id AS runId, owners
ORDER BY environment, model, deployedAt DESC, id
"""


def _model_anchor(environment: bool, status: bool) -> str:
    """Today's deployments of one model: from the model through its versions, so every
    other model's deployments are never read (the tests are CASEs, which no index seeks,
    so the planner cannot also start from the status or environment index)."""
    where = " AND ".join(
        [c for c, on in (("CASE WHEN d.environment = $environment THEN true ELSE false END",
                          environment),
                         ("CASE WHEN d.status = $status THEN true ELSE false END", status))
         if on]) or "true"
    return ("MATCH (a:Model {name: $model})<-[:VERSION_OF]-(:ModelVersion)"
            f"<-[:SERVES]-(d:Deployment) USING INDEX a:Model(name)\nWHERE {where}\n")


#: Keyed by (environment given, status given).
DEPLOYMENTS: dict[tuple[bool, bool], str] = {
    (e, s): _deployments_statement(_anchor(e, s), False)
    for e in (False, True) for s in (False, True)}
#: The same for one model (``$model`` given), keyed alike.
DEPLOYMENTS_OF_MODEL: dict[tuple[bool, bool], str] = {
    (e, s): _deployments_statement(_model_anchor(e, s), False)
    for e in (False, True) for s in (False, True)}
#: As of ``$asOf``, keyed by (environment given, status or None).
DEPLOYMENTS_AT: dict[tuple[bool, str | None], str] = {
    (e, s): _deployments_statement(_anchor_at(e, s), True)
    for e in (False, True) for s in (None, "ACTIVE", "RETIRED")}


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
                     status: str | None = None, model: str | None = None,
                     as_of: datetime | None = None) -> list[DeploymentFact]:
    """``deployments`` inside a read the caller holds (the site's production page); with
    ``as_of``, ``status`` is the status then (ACTIVE: live then)."""
    if as_of is None:
        statements = DEPLOYMENTS if model is None else DEPLOYMENTS_OF_MODEL
        statement = statements[(environment is not None, status is not None)]
    else:
        statement = DEPLOYMENTS_AT[(environment is not None, status)]
    rows = tx.run(statement, environment=environment, status=status, model=model,
                  asOf=asof.instant(as_of))
    return [_fact(r.data()) for r in rows]


def deployments(graph: Graph, *, environment: str | None = None,
                status: str | None = "ACTIVE", model: str | None = None,
                as_of: datetime | None = None) -> list[DeploymentFact]:
    """Deployments by environment and model; ``status=None`` gives every status; with
    ``as_of``, those that had gone live by then, in the status they had then."""
    if status is not None:
        status = str(status).upper()
        if status not in DeploymentStatus.__members__:
            raise InvalidInput("status", "must be ACTIVE or RETIRED", status)
    env = environment.strip().lower() if environment else None
    return graph.read(read_deployments, env, status, model, as_of)


ENVIRONMENTS = ("MATCH (d:Deployment) WHERE d.environment IS NOT NULL "
                "RETURN DISTINCT d.environment AS environment ORDER BY environment")


def environments(graph: Graph) -> list[str]:
    """Every environment some deployment names, in order (for "did you mean" answers)."""
    return [row["environment"] for row in graph.query(ENVIRONMENTS)]
