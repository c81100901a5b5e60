"""Who trained a model version, on which data, with which code: ``who_trained``."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from kb.domain import versioned_key
from kb.domain.answers import DatasetVersionFact, TrainingFact
from kb.errors import NotFound

from .driver import Graph, Question, Read
from .people import active
from .stamps import read_stamp

log = logging.getLogger(__name__)

# Everything one version needs, gathered per version with bounded subqueries so that a
# version with many inputs still costs one row. Stamps come back as ISO text: the driver
# takes longer to build its temporal values than the whole rest of the row.
_FACTS = """
CALL (v) {
  OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v)
  RETURN r ORDER BY r.startedAt DESC LIMIT 1
}
CALL (r) {
  OPTIONAL MATCH (p:Person)-[:TRAINED]->(r)
  RETURN p LIMIT 1
}
RETURN v.model AS model, v.version AS version, toString(v.createdAt) AS createdAt,
       coalesce(v.aliases, []) AS aliases,
       p.handle AS person, p.name AS personName,
       CASE WHEN p IS NULL THEN null ELSE """ + active("p") + """ END AS active,
       r.id AS runId, r.status AS runStatus, toString(r.startedAt) AS startedAt,
       toString(r.endedAt) AS endedAt,
       r.params AS params, r.metrics AS metrics, r.command AS command, r.seed AS seed,
       COLLECT { MATCH (r)-[:PART_OF]->(e:Experiment) RETURN e.name LIMIT 1 } AS experiment,
       COLLECT { MATCH (r)-[:AT_COMMIT]->(c:CodeVersion)
                 RETURN c {.repo, .commit, .branch, .dirty} LIMIT 1 } AS code,
       COLLECT { MATCH (r)-[:IN_ENV]->(x:Environment) RETURN x.digest LIMIT 1 } AS env,
       COLLECT { MATCH (r)-[u:USED]->(d:DatasetVersion)
                 RETURN {dataset: d.dataset, version: d.version, digest: d.digest,
                         uri: d.uri, role: u.role} } AS inputs
"""

ONE_VERSION = "MATCH (v:ModelVersion {key: $key})\n" + _FACTS
ALL_VERSIONS = "MATCH (v:ModelVersion {model: $model})\n" + _FACTS
MODEL_EXISTS = "MATCH (m:Model {name: $model}) RETURN count(m) > 0 AS found"


def _decode(text: str | None) -> dict:
    return json.loads(text) if text else {}


def _fact(row: dict[str, Any]) -> TrainingFact:
    code = row["code"][0] if row["code"] else {}
    inputs = sorted(row["inputs"], key=lambda i: (i["role"] or "", i["dataset"], i["version"]))
    return TrainingFact(
        model=row["model"], version=row["version"], created_at=read_stamp(row["createdAt"]),
        aliases=tuple(row["aliases"]), person=row["person"], person_name=row["personName"],
        person_active=row["active"], run_id=row["runId"], run_status=row["runStatus"],
        started_at=read_stamp(row["startedAt"]), ended_at=read_stamp(row["endedAt"]),
        experiment=row["experiment"][0] if row["experiment"] else None,
        params=_decode(row["params"]), metrics=_decode(row["metrics"]),
        inputs=tuple(DatasetVersionFact(**i) for i in inputs),
        repo=code.get("repo"), commit=code.get("commit"), branch=code.get("branch"),
        dirty=code.get("dirty"), command=row["command"], seed=row["seed"],
        environment_digest=row["env"][0] if row["env"] else None,
    )


def newest_first(version: str, created_at: datetime | None) -> tuple:
    """Sort key: numbered versions by number, then named ones by creation, newest first."""
    if version.isdigit():
        return (0, -int(version), "")
    stamp = -created_at.timestamp() if created_at else 0.0
    return (1, stamp, version)


def asking_who_trained(model: str, version: str | None = None
                       ) -> Question[list[TrainingFact]]:
    """Every version of ``model`` newest first, or only ``version``, as a question.

    Each statement is a read of its own; the existence check runs only for an empty
    answer, and a model created between the two reads is simply reported as found."""
    if version is not None:
        rows = yield Read(ONE_VERSION, {"key": versioned_key(model, version)})
    else:
        rows = yield Read(ALL_VERSIONS, {"model": model})
    if not rows:
        found = yield Read(MODEL_EXISTS, {"model": model})
        if not found[0]["found"]:
            raise NotFound("model", model)
        if version is not None:
            raise NotFound("model version", versioned_key(model, version))
    facts = [_fact(r) for r in rows]
    return sorted(facts, key=lambda f: newest_first(f.version, f.created_at))


def who_trained(graph: Graph, model: str, version: str | None = None) -> list[TrainingFact]:
    """Every version of ``model`` newest first, or only ``version``."""
    return graph.ask(asking_who_trained(model, version))
