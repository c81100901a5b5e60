"""Who is left holding what: ``handover(person)`` and ``orphans()``.

A person is active as ``people.active`` says; a team counts as an active owner while it
has an active member.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from kb.domain import KEY_PROPERTY, Label
from kb.errors import InvalidInput, NotFound

from .driver import Graph, plain
from .labels import kb_label
from .lineage import IMPACT_MAX_DEPTH
from .people import active

log = logging.getLogger(__name__)

#: The environment whose deployments are production, as the site and ``kb prod`` name it.
PRODUCTION = "production"


def _active_owner(exclude: str) -> str:
    """An owner ``o`` that counts: an active person, or a team with an active member."""
    return (f"(o:Person AND {active('o')}"
            " OR o:Team AND EXISTS { MATCH (q:Person)-[:MEMBER_OF]->(o)"
            f" WHERE {exclude} AND {active('q')} }})")



# An owner as its ref (``person:alice``, ``team:ml``); callers that want the bare name
# take what follows the colon.
_OWNER_REF = ("CASE WHEN o:Team THEN 'team:' + o.name ELSE 'person:' + o.handle END")

HANDOVER = f"""
MATCH (p:Person {{handle: $handle}})
CALL (p) {{
  MATCH (p)-[o:OWNS]->(a) WHERE o.until IS NULL
  RETURN a, 'OWNS' AS relation, o.role AS role
  UNION
  MATCH (p)-[:TRAINED]->(:Run)-[:PRODUCED]->(:ModelVersion)-[:VERSION_OF]->(a:Model)
  RETURN DISTINCT a, 'TRAINED' AS relation, null AS role
  UNION
  MATCH (p)-[:DEPLOYED]->(a:Deployment {{status: 'ACTIVE'}})
  RETURN a, 'DEPLOYED' AS relation, null AS role
}}
WITH p, a, collect(DISTINCT relation) AS relations, collect(DISTINCT role) AS roles
RETURN labels(a) AS labels, coalesce(a.name, a.id) AS key, relations, roles,
  COLLECT {{ MATCH (o)-[e:OWNS]->(a)
            WHERE e.until IS NULL AND o <> p AND {_active_owner('q <> p')}
            RETURN DISTINCT {_OWNER_REF} }} AS otherOwners,
  COLLECT {{ MATCH (q:Person)-[:TRAINED]->(:Run)-[:PRODUCED|USED]->(v)
            WHERE q <> p AND {active('q')}
              AND ((v:ModelVersion OR v:DatasetVersion) AND (v)-[:VERSION_OF]->(a)
                   OR v:ModelVersion AND (a)-[:SERVES]->(v))
            RETURN DISTINCT q.handle }} AS otherTrainers
ORDER BY key
"""
PERSON_EXISTS = "MATCH (p:Person {handle: $handle}) RETURN count(p) > 0 AS found"

# Whether an asset reaches an active production deployment: a model through its versions,
# an experiment through the versions its runs produced, a dataset along the data path as far
# as impact walks, a deployment by being one.
_DATA_PATH = (f"((:DatasetVersion)<-[:USED]-(:Run)-[:PRODUCED]->()){{1,{IMPACT_MAX_DEPTH // 2}}}"
              "(:ModelVersion)")
_IN_PRODUCTION = "d.status = 'ACTIVE' AND d.environment = $production"
FEEDS_PRODUCTION = f"""CASE
    WHEN a:Deployment THEN a.environment = $production
    WHEN a:Model THEN EXISTS {{
      MATCH (a)<-[:VERSION_OF]-(:ModelVersion)<-[:SERVES]-(d:Deployment)
      WHERE {_IN_PRODUCTION} }}
    WHEN a:Experiment THEN EXISTS {{
      MATCH (a)<-[:PART_OF]-(:Run)-[:PRODUCED]->(:ModelVersion)<-[:SERVES]-(d:Deployment)
      WHERE {_IN_PRODUCTION} }}
    ELSE EXISTS {{
      MATCH (a)<-[:VERSION_OF]-(){_DATA_PATH}<-[:SERVES]-(d:Deployment)
      WHERE {_IN_PRODUCTION} }} END"""

ORPHANS = f"""
MATCH (a) WHERE (a:Model OR a:Dataset OR a:Experiment
                 OR a:Deployment AND a.status = 'ACTIVE')
  AND NOT EXISTS {{ MATCH (o)-[e:OWNS]->(a) WHERE e.until IS NULL AND {_active_owner('true')} }}
WITH a, COLLECT {{ MATCH (o)-[e:OWNS]->(a) RETURN DISTINCT {_OWNER_REF} }} AS formerOwners
RETURN labels(a) AS labels, coalesce(a.name, a.id) AS key, formerOwners,
  COLLECT {{ MATCH (o)-[e:OWNS]->(a) WITH coalesce(e.until, e.since) AS t
            RETURN t ORDER BY t DESC LIMIT 1 }}[0] AS lastOwnedAt,
  {FEEDS_PRODUCTION} AS feedsProduction
ORDER BY size(formerOwners) = 0, feedsProduction DESC, labels[0], key
"""


@dataclass(frozen=True)
class HandoverItem:
    """An asset the person holds; ``at_risk`` when nobody else active owns or trained it."""

    kind: str
    key: str
    relations: tuple[str, ...]
    roles: tuple[str, ...]
    other_owners: tuple[str, ...]
    other_trainers: tuple[str, ...]
    other_owner_refs: tuple[str, ...] = ()

    @property
    def at_risk(self) -> bool:
        return not self.other_owners and not self.other_trainers


@dataclass(frozen=True)
class Orphan:
    """An asset with no active owner: ``former_owners`` (people or teams, none active) when
    its owner left, none when it never had one; ``feeds_production`` when it reaches an
    active deployment in the production environment."""

    kind: str
    key: str
    former_owners: tuple[str, ...]
    last_owned_at: datetime | None
    feeds_production: bool = False
    former_owner_refs: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "OWNER_LEFT" if self.former_owners else "NEVER_OWNED"


def _kind(labels: list[str]) -> str:
    label = kb_label(labels)
    return label.value if label else labels[0]


def _names(refs: list[str]) -> tuple[str, ...]:
    return tuple(sorted(r.partition(":")[2] for r in refs))


def _handover(tx: ManagedTransaction, handle: str) -> list[HandoverItem] | None:
    if not tx.run(PERSON_EXISTS, handle=handle).single(strict=True)["found"]:
        return None
    rows = tx.run(HANDOVER, handle=handle)
    return [HandoverItem(_kind(r["labels"]), r["key"], tuple(sorted(r["relations"])),
                         tuple(sorted(x for x in r["roles"] if x)),
                         _names(r["otherOwners"]), tuple(sorted(r["otherTrainers"])),
                         tuple(sorted(r["otherOwners"])))
            for r in rows]


def handover(graph: Graph, person: str) -> list[HandoverItem]:
    """Everything ``person`` owns, trained (models) or deployed (active deployments)."""
    items = graph.read(_handover, person)
    if items is None:
        raise NotFound("person", person)
    return items


def read_orphans(tx: ManagedTransaction) -> list[Orphan]:
    """``orphans`` inside a read the caller holds (the site reads its home page in one)."""
    return [Orphan(_kind(r["labels"]), r["key"], _names(r["formerOwners"]),
                   plain(r["lastOwnedAt"]), bool(r["feedsProduction"]),
                   tuple(sorted(r["formerOwners"])))
            for r in tx.run(ORPHANS, production=PRODUCTION)]


def orphans(graph: Graph) -> list[Orphan]:
    """Models, datasets, experiments and active deployments with no active owner: those
    whose owner left first, then those never owned, each led by what feeds production."""
    return graph.read(read_orphans)



def _owners_of(label: str) -> str:
    return f"""
UNWIND $keys AS key
MATCH (a:{label} {{{KEY_PROPERTY[Label(label)]}: key}})
RETURN key, COLLECT {{
  MATCH (o)-[e:OWNS]->(a) WHERE e.until IS NULL
  RETURN [CASE WHEN o:Team THEN 'team' ELSE 'person' END, coalesce(o.handle, o.name),
          {_active_owner('true')}] AS owner ORDER BY owner[1]
}} AS owners
"""


#: The open ownerships of each asset of a kind, one statement per kind that can be owned.
OWNABLE = (Label.MODEL, Label.DATASET, Label.EXPERIMENT, Label.DEPLOYMENT)
OWNERS_OF = {label: _owners_of(label.value) for label in OWNABLE}


@dataclass(frozen=True)
class Owner:
    """An open ownership: ``kind`` is ``person`` or ``team``; ``active`` is False for a
    person who left or a team with no active member."""

    kind: str
    key: str
    active: bool


def _owners(tx: ManagedTransaction, label: Label, keys: list[str]
            ) -> dict[str, tuple[Owner, ...]]:
    return {r["key"]: tuple(Owner(k, key, bool(on)) for k, key, on in r["owners"])
            for r in tx.run(OWNERS_OF[label], keys=keys)}


def owners_of(graph: Graph, label: Label, keys: list[str]) -> dict[str, tuple[Owner, ...]]:
    """The current owners of each named asset, in one read; one with none maps to an
    empty tuple, one that does not exist is left out."""
    if label not in OWNERS_OF:
        raise InvalidInput("kind", "must be a model, dataset, experiment or deployment",
                           label.value)
    return graph.read(_owners, label, sorted(set(keys)))


def model_owners(graph: Graph, models: list[str]) -> dict[str, tuple[Owner, ...]]:
    """``owners_of`` for models."""
    return owners_of(graph, Label.MODEL, models)
