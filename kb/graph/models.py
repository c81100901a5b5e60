"""Model-version numbering and alias moves: the two writes that need more than MERGE."""

from __future__ import annotations

from neo4j import ManagedTransaction

from kb.domain import Label, ModelVersionRecord, Rel
from kb.domain.changes import LinkChange

from .changes import ChangeLog
from .statements import NEW, lock

# The write lock on the Model node (``statements.lock``) serialises concurrent
# registrations, so two runs can never be handed the same version number, and one run
# logged twice at once gets one version.
LOCK_AND_TOP_VERSION = f"""
UNWIND $models AS name
MERGE (m:Model {{name: name}})
ON CREATE SET m.createdAt = datetime($now), m.updatedAt = datetime($now), m.updatedBy = $actor,
              m.{NEW} = true
WITH m, m.{NEW} IS NOT NULL AS created
""" + lock("m") + f"""REMOVE m.{NEW}
WITH m, created
OPTIONAL MATCH (v:ModelVersion)-[:VERSION_OF]->(m)
WITH m, created, max(CASE WHEN v.version =~ '[0-9]+' THEN toInteger(v.version) END) AS top
RETURN m.name AS model, coalesce(top, 0) AS top, created
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
WITH o, row, o.aliases AS before
SET o.aliases = [a IN o.aliases WHERE NOT a IN row.aliases],
    o.updatedAt = datetime($now), o.updatedBy = $actor
RETURN o.key AS key, before, o.aliases AS after
"""

# Each alias's tenure is an ALIAS edge from the model, open (no ``until``) while the
# version holds it: the version's ``aliases`` says what holds now, the edges what held
# when. A row's ``aliases`` are all its version's (``plan``), so an open edge of one of
# them to another version, or of another alias to this one, is closed.
ALIAS_TENURES = """
UNWIND $rows AS row
MATCH (m:Model {name: row.model})
MATCH (v:ModelVersion {key: row.key})
CALL (m, v, row) {
  MATCH (m)-[e:ALIAS]->(x:ModelVersion)
  WHERE e.until IS NULL AND (x <> v AND e.alias IN row.aliases
                             OR x = v AND NOT e.alias IN row.aliases)
  SET e.until = datetime($now), e.closedBy = $actor
  RETURN collect([e.alias, x.key]) AS closed
}
CALL (m, v, row) {
  UNWIND row.aliases AS alias
  OPTIONAL MATCH (m)-[e:ALIAS {alias: alias}]->(v) WHERE e.until IS NULL
  WITH m, v, alias, e WHERE e IS NULL
  CREATE (m)-[:ALIAS {alias: alias, since: datetime($now), createdAt: datetime($now),
                      createdBy: $actor}]->(v)
  RETURN collect(alias) AS opened
}
RETURN row.model AS model, row.key AS key, closed, opened
"""


def assign_versions(
    tx: ManagedTransaction, records: tuple[ModelVersionRecord, ...], now: str, actor: str,
    created: set[str],
) -> tuple[ModelVersionRecord, ...]:
    """Give each version-less record the next number of its model; adds the models it
    had to create to ``created``, for their change records.

    A run that already produced a version of the model gets that same version back, so
    logging the same run twice registers nothing new.
    """
    pending = [r for r in records if r.version is None]
    if not pending:
        return records
    # Locked first: what the runs already produced is then read after any concurrent
    # registration of these models has committed.
    models = sorted({r.model for r in pending})
    top = {}
    for rec in tx.run(LOCK_AND_TOP_VERSION, models=models, now=now, actor=actor):
        top[rec["model"]] = rec["top"]
        if rec["created"]:
            created.add(rec["model"])
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
                 now: str, actor: str, log: ChangeLog) -> None:
    """Take each record's aliases from the model's other versions and keep their tenures
    (``ALIAS`` edges), noting each change in ``log``."""
    rows = [{"model": r.model, "key": r.key, "aliases": list(r.aliases)}
            for r in records if r.aliases]
    if not rows:
        return
    for rec in tx.run(MOVE_ALIASES, rows=rows, now=now, actor=actor):
        log.field(Label.MODEL_VERSION, rec["key"], "aliases", rec["before"], rec["after"])
    for rec in tx.run(ALIAS_TENURES, rows=rows, now=now, actor=actor):
        for alias, key in rec["closed"]:
            log.link(Label.MODEL, rec["model"], LinkChange(
                Rel.ALIAS, "out", Label.MODEL_VERSION, key, "close", {"alias": alias}))
        for alias in rec["opened"]:
            log.link(Label.MODEL, rec["model"], LinkChange(
                Rel.ALIAS, "out", Label.MODEL_VERSION, rec["key"], "add", {"alias": alias}))
