"""Model-version numbering and alias moves: the two writes that need more than MERGE."""

from __future__ import annotations

from neo4j import ManagedTransaction

from kb.domain import ModelVersionRecord

from .statements import lock

# The write lock on the Model node (``statements.lock``) serialises concurrent
# registrations, so two runs can never be handed the same version number, and one run
# logged twice at once gets one version.
LOCK_AND_TOP_VERSION = """
UNWIND $models AS name
MERGE (m:Model {name: name})
ON CREATE SET m.createdAt = datetime($now), m.updatedAt = datetime($now), m.updatedBy = $actor
""" + lock("m") + """WITH m
OPTIONAL MATCH (v:ModelVersion)-[:VERSION_OF]->(m)
WITH m, max(CASE WHEN v.version =~ '[0-9]+' THEN toInteger(v.version) END) AS top
RETURN m.name AS model, coalesce(top, 0) AS top
"""

VERSIONS_ALREADY_PRODUCED = """
UNWIND $pairs AS p
MATCH (:Run {id: p.run})-[:PRODUCED]->(v:ModelVersion {model: p.model})
RETURN p.run AS run, p.model AS model, max(v.version) AS version
"""

# An alias names one version of a model at a time: giving it to one takes it from the rest.
MOVE_ALIASES = """
UNWIND $rows AS row
MATCH (o:ModelVersion {model: row.model})
WHERE o.key <> row.key AND any(a IN coalesce(o.aliases, []) WHERE a IN row.aliases)
SET o.aliases = [a IN o.aliases WHERE NOT a IN row.aliases],
    o.updatedAt = datetime($now), o.updatedBy = $actor
"""


def assign_versions(
    tx: ManagedTransaction, records: tuple[ModelVersionRecord, ...], now: str, actor: str
) -> tuple[ModelVersionRecord, ...]:
    """Give each version-less record the next number of its model.

    A run that already produced a version of the model gets that same version back, so
    logging the same run twice registers nothing new.
    """
    pending = [r for r in records if r.version is None]
    if not pending:
        return records
    # Locked first: what the runs already produced is then read after any concurrent
    # registration of these models has committed.
    models = sorted({r.model for r in pending})
    top = {rec["model"]: rec["top"] for rec in tx.run(
        LOCK_AND_TOP_VERSION, models=models, now=now, actor=actor)}
    pairs = [{"run": r.run_id, "model": r.model} for r in pending if r.run_id]
    existing = {
        (rec["run"], rec["model"]): rec["version"]
        for rec in tx.run(VERSIONS_ALREADY_PRODUCED, pairs=pairs)
    } if pairs else {}
    out = []
    for r in records:
        if r.version is None:
            version = existing.get((r.run_id, r.model))
            if version is None:
                top[r.model] += 1
                version = str(top[r.model])
                existing[(r.run_id, r.model)] = version
            r = r.model_copy(update={"version": version})
        out.append(r)
    return tuple(out)


def move_aliases(tx: ManagedTransaction, records: tuple[ModelVersionRecord, ...],
                 now: str, actor: str) -> None:
    rows = [{"model": r.model, "key": r.key, "aliases": list(r.aliases)}
            for r in records if r.aliases]
    if rows:
        tx.run(MOVE_ALIASES, rows=rows, now=now, actor=actor).consume()
