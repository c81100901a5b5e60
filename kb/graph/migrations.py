"""Bring a graph written by an older kb up to ``schema.SCHEMA_VERSION``, losing nothing.

Each step is idempotent, so a migration cut short runs again from the start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from neo4j import ManagedTransaction

from kb.domain import Label, Rel
from kb.domain.changes import MIGRATION_PATH, LinkChange

from .changes import ChangeLog, new_batch, record
from .driver import plain

if TYPE_CHECKING:
    from .driver import Graph

log = logging.getLogger(__name__)

ACTOR = "kb-migration"

# Version 2 keeps each alias's tenure as an ALIAS edge. An older graph knows only which
# version holds an alias now, not since when: its tenure starts at the version's last
# update, the earliest moment kb can vouch for it.
ALIAS_TENURES = """
MATCH (v:ModelVersion)-[:VERSION_OF]->(m:Model)
WHERE size(coalesce(v.aliases, [])) > 0
UNWIND v.aliases AS alias
OPTIONAL MATCH (m)-[e:ALIAS {alias: alias}]->(v) WHERE e.until IS NULL
WITH m, v, alias, e WHERE e IS NULL
CREATE (m)-[e2:ALIAS {alias: alias, since: coalesce(v.updatedAt, v.createdAt, datetime($now)),
                      createdAt: datetime($now), createdBy: $actor}]->(v)
RETURN m.name AS model, v.key AS key, alias, e2.since AS since
"""


def _alias_tenures(tx: ManagedTransaction, now: str) -> int:
    changes = ChangeLog()
    for rec in tx.run(ALIAS_TENURES, now=now, actor=ACTOR):
        changes.migrated(Label.MODEL, rec["model"])
        changes.link(Label.MODEL, rec["model"], LinkChange(
            Rel.ALIAS, "out", Label.MODEL_VERSION, rec["key"], "add",
            {"alias": rec["alias"], "since": plain(rec["since"])}))
    models = len(changes.entities())
    record(tx, changes, now=now, actor=ACTOR, path=MIGRATION_PATH, batch=new_batch())
    return models


def migrate(graph: Graph, version: int) -> None:
    """Run every step after ``version``, each in a transaction of its own."""
    now = datetime.now(UTC).isoformat()
    if version < 2:
        n = graph.write(_alias_tenures, now)
        log.info("schema 2: %d models got their alias tenures", n)
