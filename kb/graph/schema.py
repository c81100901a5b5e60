"""Constraints, indexes and the recorded schema version.

Constraints and property indexes derive from the graph model (``kb.domain.model``).
Community 5.26 accepts single and composite uniqueness constraints (checked on the real
server) but not existence constraints; composite keys are constrained through their
derived ``key`` property so that a MERGE on one property stays safe under concurrency.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from neo4j import ManagedTransaction

from kb.domain import CHANGE_LABEL, KEY_PROPERTY, Label, model
from kb.errors import GraphError

if TYPE_CHECKING:
    from .driver import Graph

log = logging.getLogger(__name__)

#: 2: change records (``Change``) and alias tenures (``ALIAS`` edges), see ``migrate``.
SCHEMA_VERSION = 2

CONSTRAINTS = [
    f"CREATE CONSTRAINT {label.value.lower()}_key IF NOT EXISTS "
    f"FOR (n:{label.value}) REQUIRE n.{prop} IS UNIQUE"
    for label, prop in KEY_PROPERTY.items()
]

# The model's indexed properties, and every label's ``updatedAt`` (what changed since).
_INDEXED = [(e.label, p.name) for e in model.ENTITIES for p in e.props if p.indexed] + [
    (label, p.name) for p in model.STAMPS if p.indexed for label in Label]

INDEXES = [
    f"CREATE INDEX {label.value.lower()}_{prop.lower()} IF NOT EXISTS "
    f"FOR (n:{label.value}) ON (n.{prop})"
    for label, prop in _INDEXED
]

# Change records are read by entity, newest first; by time; and by who wrote them. Their
# ids are unique by construction (the write's batch id, then the entity), unconstrained.
CHANGE_SCHEMA = [
    f"CREATE INDEX change_entity IF NOT EXISTS FOR (c:{CHANGE_LABEL}) ON (c.kind, c.key, c.at)",
    f"CREATE INDEX change_at IF NOT EXISTS FOR (c:{CHANGE_LABEL}) ON (c.at)",
    f"CREATE INDEX change_actor IF NOT EXISTS FOR (c:{CHANGE_LABEL}) ON (c.actor, c.at)",
]

FULLTEXT_INDEX = "kb_search"
FULLTEXT = (
    f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS "
    "FOR (n:Person|Team|Dataset|Model|Experiment|Note|Run) "
    "ON EACH [n.handle, n.name, n.description, n.body, n.task, n.intendedUse, n.domain]"
)

RECORD_VERSION = """
MERGE (m:KbMeta {id: 'schema'})
ON CREATE SET m.createdAt = datetime()
SET m.version = CASE WHEN coalesce(m.version, 0) < $version THEN $version ELSE m.version END,
    m.appliedAt = datetime()
RETURN m.version AS version
"""

READ_VERSION = "MATCH (m:KbMeta {id: 'schema'}) RETURN m.version AS version"


def _run_each(tx: ManagedTransaction, statements: list[str]) -> None:
    for statement in statements:
        tx.run(statement).consume()


def _record(tx: ManagedTransaction, version: int) -> int:
    return tx.run(RECORD_VERSION, version=version).single(strict=True)["version"]


def _read(tx: ManagedTransaction) -> int | None:
    record = tx.run(READ_VERSION).single()
    return None if record is None else record["version"]


#: What Neo4j answers when a concurrent ``CREATE ... IF NOT EXISTS`` won the race.
_CREATED_BY_ANOTHER = frozenset({
    "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
    "Neo.ClientError.Schema.IndexAlreadyExists",
    "Neo.ClientError.Schema.ConstraintAlreadyExists",
})


def create_missing(graph: Graph, statements: Iterable[str]) -> None:
    """Run ``CREATE ... IF NOT EXISTS`` schema commands, each in a transaction of its own
    (Neo4j wants that).

    Several processes may run them at once (``kb serve --workers``): ``IF NOT EXISTS``
    does not cover two creations in flight, and the loser is told the rule exists - which
    is what it wanted.
    """
    for statement in statements:
        try:
            graph.write(_run_each, [statement])
        except GraphError as exc:
            if exc.server_code not in _CREATED_BY_ANOTHER:
                raise
            log.debug("created concurrently: %s", statement)


def apply_schema(graph: Graph) -> int:
    """Create what is missing, bring the data of an older graph up to this version and
    record it."""
    create_missing(graph, [*CONSTRAINTS, *INDEXES, *CHANGE_SCHEMA, FULLTEXT,
                           "CREATE CONSTRAINT kbmeta_id "
                           "IF NOT EXISTS FOR (n:KbMeta) REQUIRE n.id IS UNIQUE"])
    before = graph.read(_read)
    if before is not None and before < SCHEMA_VERSION:
        from .migrations import migrate

        migrate(graph, before)
    version = graph.write(_record, SCHEMA_VERSION)
    log.debug("graph schema at version %s", version)
    return version


def schema_version(graph: Graph) -> int | None:
    return graph.read(_read)
