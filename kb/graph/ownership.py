"""Who is left holding what: ``handover(person)`` and ``orphans()``.

A person is active as ``people.active`` says; a team counts as an active owner while it
has an active member.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from neo4j import ManagedTransaction

from kb.domain import KEY_PROPERTY, Label, Rel
from kb.errors import InvalidInput, NotFound

from . import asof
from .driver import Graph, plain
from .labels import kb_label
from .lineage import IMPACT_MAX_DEPTH
from .nodes import LIST_CAP, Linked
from .people import active
from .properties import decode, decode_link

log = logging.getLogger(__name__)

#: The environment whose deployments are production, as the site and ``kb prod`` name it.
PRODUCTION = "production"


def _active_owner(exclude: str, at: bool = False) -> str:
    """An owner ``o`` that counts: an active person, or a team with an active member
    (``at``: active as of ``$asOf``)."""
    is_active = asof.active_at if at else active
    return (f"(o:Person AND {is_active('o')}"
            " OR o:Team AND EXISTS { MATCH (q:Person)-[:MEMBER_OF]->(o)"
            f" WHERE {exclude} AND {is_active('q')} }})")


def _open(edge: str, at: bool) -> str:
    """The ownership ``edge`` holds now, or (``at``) held as of ``$asOf``."""
    return asof.held(edge) if at else f"{edge}.until IS NULL"



# An owner as its ref (``person:alice``, ``team:ml``); callers that want the bare name
# take what follows the colon.
_OWNER_REF = ("CASE WHEN o:Team THEN 'team:' + o.name ELSE 'person:' + o.handle END")

def _handover_statement(at: bool) -> str:
    """What the person holds now, or (``at``) held as of ``$asOf``: ownerships open then,
    models of versions trained by then, deployments live then."""
    since = (lambda var: f" WHERE {asof.existed(var)}") if at else (lambda var: "")
    deployed = (f"MATCH (p)-[:DEPLOYED]->(a:Deployment) WHERE {asof.live('a')}" if at
                # A CASE, which no index can seek: the status index would read every
                # active deployment anywhere.
                else "MATCH (p)-[:DEPLOYED]->(a:Deployment)"
                     " WHERE CASE a.status WHEN 'ACTIVE' THEN true ELSE false END")
    is_active = asof.active_at if at else active
    versions = (f" AND {asof.existed('r')} AND {asof.existed('v')}" if at else "")
    trained = f"WHERE {asof.existed('r')} AND {asof.existed('v')}" if at else ""
    return f"""
MATCH (p:Person {{handle: $handle}}){since('p')}
CALL (p) {{
  MATCH (p)-[o:OWNS]->(a) WHERE {_open('o', at)}
  RETURN a, 'OWNS' AS relation, o.role AS role
  UNION
  MATCH (p)-[:TRAINED]->(r:Run)-[:PRODUCED]->(v:ModelVersion)-[:VERSION_OF]->(a:Model)
  {trained}
  RETURN DISTINCT a, 'TRAINED' AS relation, null AS role
  UNION
  {deployed}
  RETURN a, 'DEPLOYED' AS relation, null AS role
}}
WITH p, a, collect(DISTINCT relation) AS relations, collect(DISTINCT role) AS roles
RETURN labels(a) AS labels, coalesce(a.name, a.id) AS key, relations, roles,
  COLLECT {{ MATCH (o)-[e:OWNS]->(a)
            WHERE {_open('e', at)} AND o <> p AND {_active_owner('q <> p', at)}
            RETURN DISTINCT {_OWNER_REF} }} AS otherOwners,
  COLLECT {{ MATCH (a)<-[:VERSION_OF]-(v)<-[:PRODUCED|USED]-(r:Run)<-[:TRAINED]-(q:Person)
            WHERE (v:ModelVersion OR v:DatasetVersion)
              AND q <> p AND {is_active('q')}{versions}
            RETURN DISTINCT q.handle }}
  + COLLECT {{ MATCH (a)-[:SERVES]->(v:ModelVersion)<-[:PRODUCED|USED]-(r:Run)
                    <-[:TRAINED]-(q:Person)
              WHERE q <> p AND {is_active('q')}{versions}
              RETURN DISTINCT q.handle }} AS otherTrainers
ORDER BY key
"""


HANDOVER = _handover_statement(False)
HANDOVER_AT = _handover_statement(True)
PERSON_EXISTS = "MATCH (p:Person {handle: $handle}) RETURN count(p) > 0 AS found"

# Whether an asset reaches an active production deployment: a model through its versions,
# an experiment through the versions its runs produced, a dataset along the data path as far
# as impact walks, a deployment by being one.
_DATA_PATH = (f"((:DatasetVersion)<-[:USED]-(:Run)-[:PRODUCED]->()){{1,{IMPACT_MAX_DEPTH // 2}}}"
              "(:ModelVersion)")


def _feeds_production(at: bool) -> str:
    """Whether ``a`` reaches a production deployment active now, or (``at``) live as of
    ``$asOf``; a path to a deployment live then runs through nodes older than it."""
    serving = (f"d.environment = $production AND {asof.live('d')}" if at
               else "d.status = 'ACTIVE' AND d.environment = $production")
    deployment = (f"a.environment = $production AND {asof.live('a')}" if at
                  else "a.environment = $production")
    return f"""CASE
    WHEN a:Deployment THEN {deployment}
    WHEN a:Model THEN EXISTS {{
      MATCH (a)<-[:VERSION_OF]-(:ModelVersion)<-[:SERVES]-(d:Deployment)
      WHERE {serving} }}
    WHEN a:Experiment THEN EXISTS {{
      MATCH (a)<-[:PART_OF]-(:Run)-[:PRODUCED]->(:ModelVersion)<-[:SERVES]-(d:Deployment)
      WHERE {serving} }}
    ELSE EXISTS {{
      MATCH (a)<-[:VERSION_OF]-(){_DATA_PATH}<-[:SERVES]-(d:Deployment)
      WHERE {serving} }} END"""



# What production stands on, found once from the few production deployments rather than
# by walking down from every asset: the served versions, their models, the experiments of
# the runs that produced them, and the datasets upstream along the data path.
_PRODUCTION_UPSTREAM = f"""
CALL () {{
  MATCH (d:Deployment) USING INDEX SEEK d:Deployment(environment)
  WHERE d.environment = $production AND CASE d.status WHEN 'ACTIVE' THEN true ELSE false END
  MATCH (d)-[:SERVES]->(v:ModelVersion)
  RETURN collect(DISTINCT v) AS served
}}
WITH served, COLLECT {{ UNWIND served AS v MATCH (v)-[:VERSION_OF]->(m:Model)
                       RETURN DISTINCT elementId(m) }}
  + COLLECT {{ UNWIND served AS v MATCH (v)<-[:PRODUCED]-(:Run)-[:PART_OF]->(x:Experiment)
              RETURN DISTINCT elementId(x) }}
  + COLLECT {{ UNWIND served AS v
              MATCH (ds:Dataset)<-[:VERSION_OF]-(){_DATA_PATH.removesuffix("(:ModelVersion)")}(v)
              RETURN DISTINCT elementId(ds) }} AS fed
"""

# One label scan per kind of asset (a label disjunction would scan every node).
ORPHANS = f"""{_PRODUCTION_UPSTREAM}
CALL () {{
  MATCH (a:Model) RETURN a
  UNION
  MATCH (a:Dataset) RETURN a
  UNION
  MATCH (a:Experiment) RETURN a
  UNION
  MATCH (a:Deployment) USING INDEX SEEK a:Deployment(status) WHERE a.status = 'ACTIVE'
  RETURN a
}}
WITH fed, a WHERE NOT EXISTS {{
  MATCH (o)-[e:OWNS]->(a) WHERE e.until IS NULL AND {_active_owner('true')} }}
WITH fed, a, COLLECT {{ MATCH (o)-[e:OWNS]->(a) RETURN DISTINCT {_OWNER_REF} }} AS formerOwners
RETURN labels(a) AS labels, coalesce(a.name, a.id) AS key, formerOwners,
  COLLECT {{ MATCH (o)-[e:OWNS]->(a) WITH coalesce(e.until, e.since) AS t
            RETURN t ORDER BY t DESC LIMIT 1 }}[0] AS lastOwnedAt,
  CASE WHEN a:Deployment THEN a.environment = $production
       ELSE elementId(a) IN fed END AS feedsProduction
ORDER BY size(formerOwners) = 0, feedsProduction DESC, labels[0], key
"""

# As of ``$asOf``: the assets that existed then (deployments: live then), one label scan
# each; former owners are those whose ownership had begun by then, and an ownership closed
# after then was last held at the instant itself.
ORPHANS_AT = f"""
CALL () {{
  MATCH (a:Model) WHERE {asof.existed('a')} RETURN a
  UNION
  MATCH (a:Dataset) WHERE {asof.existed('a')} RETURN a
  UNION
  MATCH (a:Experiment) WHERE {asof.existed('a')} RETURN a
  UNION
  MATCH (a:Deployment) WHERE {asof.live('a')} RETURN a
}}
WITH a WHERE NOT EXISTS {{
  MATCH (o)-[e:OWNS]->(a) WHERE {asof.held('e')} AND {_active_owner('true', True)} }}
WITH a, COLLECT {{ MATCH (o)-[e:OWNS]->(a) WHERE e.since <= $asOf
                  RETURN DISTINCT {_OWNER_REF} }} AS formerOwners
RETURN labels(a) AS labels, coalesce(a.name, a.id) AS key, formerOwners,
  COLLECT {{ MATCH (o)-[e:OWNS]->(a) WHERE e.since <= $asOf
            WITH CASE WHEN e.until <= $asOf THEN e.until
                      WHEN e.until IS NULL THEN e.since ELSE $asOf END AS t
            RETURN t ORDER BY t DESC LIMIT 1 }}[0] AS lastOwnedAt,
  {_feeds_production(True)} AS feedsProduction
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


def _handover(tx: ManagedTransaction, handle: str, as_of: datetime | None = None
              ) -> list[HandoverItem] | None:
    if not tx.run(PERSON_EXISTS, handle=handle).single(strict=True)["found"]:
        return None
    rows = tx.run(HANDOVER if as_of is None else HANDOVER_AT, handle=handle,
                  asOf=asof.instant(as_of))
    return [HandoverItem(_kind(r["labels"]), r["key"], tuple(sorted(r["relations"])),
                         tuple(sorted(x for x in r["roles"] if x)),
                         _names(r["otherOwners"]), tuple(sorted(set(r["otherTrainers"]))),
                         tuple(sorted(r["otherOwners"])))
            for r in rows]


def handover(graph: Graph, person: str, as_of: datetime | None = None
             ) -> list[HandoverItem]:
    """Everything ``person`` owns, trained (models) or deployed (active deployments); with
    ``as_of``, what they held then (nothing before they existed)."""
    items = graph.read(_handover, person, as_of)
    if items is None:
        raise NotFound("person", person)
    return items


def read_orphans(tx: ManagedTransaction, as_of: datetime | None = None) -> list[Orphan]:
    """``orphans`` inside a read the caller holds (the site reads its home page in one);
    with ``as_of``, as they stood then."""
    return [Orphan(_kind(r["labels"]), r["key"], _names(r["formerOwners"]),
                   plain(r["lastOwnedAt"]), bool(r["feedsProduction"]),
                   tuple(sorted(r["formerOwners"])))
            for r in tx.run(ORPHANS if as_of is None else ORPHANS_AT, production=PRODUCTION,
                            asOf=asof.instant(as_of))]


def orphans(graph: Graph, as_of: datetime | None = None) -> list[Orphan]:
    """Models, datasets, experiments and active deployments with no active owner: those
    whose owner left first, then those never owned, each led by what feeds production;
    with ``as_of``, those that existed then, judged by who held them then."""
    return graph.read(read_orphans, as_of)



def _owners_of(label: str, at: bool = False) -> str:
    return f"""
UNWIND $keys AS key
MATCH (a:{label} {{{KEY_PROPERTY[Label(label)]}: key}})
RETURN key, COLLECT {{
  MATCH (o)-[e:OWNS]->(a) WHERE {_open('e', at)}
  RETURN [CASE WHEN o:Team THEN 'team' ELSE 'person' END, coalesce(o.handle, o.name),
          {_active_owner('true', at)}] AS owner ORDER BY owner[1]
}} AS owners
"""


#: The open ownerships of each asset of a kind, one statement per kind that can be owned.
OWNABLE = (Label.MODEL, Label.DATASET, Label.EXPERIMENT, Label.DEPLOYMENT)
OWNERS_OF = {label: _owners_of(label.value) for label in OWNABLE}
#: The ownerships of each asset of a kind that held as of ``$asOf``.
OWNERS_OF_AT = {label: _owners_of(label.value, True) for label in OWNABLE}


@dataclass(frozen=True)
class Owner:
    """An open ownership: ``kind`` is ``person`` or ``team``; ``active`` is False for a
    person who left or a team with no active member."""

    kind: str
    key: str
    active: bool


def _owners(tx: ManagedTransaction, label: Label, keys: list[str],
            as_of: datetime | None = None) -> dict[str, tuple[Owner, ...]]:
    statement = OWNERS_OF[label] if as_of is None else OWNERS_OF_AT[label]
    return {r["key"]: tuple(Owner(k, key, bool(on)) for k, key, on in r["owners"])
            for r in tx.run(statement, keys=keys, asOf=asof.instant(as_of))}


def owners_of(graph: Graph, label: Label, keys: list[str], as_of: datetime | None = None
              ) -> dict[str, tuple[Owner, ...]]:
    """The current owners of each named asset, in one read (with ``as_of``: those that
    held then, active as they were then); one with none maps to an empty tuple, one that
    does not exist is left out."""
    if label not in OWNERS_OF:
        raise InvalidInput("kind", "must be a model, dataset, experiment or deployment",
                           label.value)
    return graph.read(_owners, label, sorted(set(keys)), as_of)


def model_owners(graph: Graph, models: list[str]) -> dict[str, tuple[Owner, ...]]:
    """``owners_of`` for models."""
    return owners_of(graph, Label.MODEL, models)


def _held_statement(source: Label) -> str:
    """Ownership edges of each keyed node that held as of ``$asOf``, newest first: an
    asset's owners, or (a person or team) what it owned."""
    arrow = "-[r:OWNS]->" if source in (Label.PERSON, Label.TEAM) else "<-[r:OWNS]-"
    return f"""
UNWIND $keys AS k
MATCH (n:{source.value} {{{KEY_PROPERTY[source]}: k}})
CALL (n) {{
  MATCH (n){arrow}(m) WHERE {asof.held('r')}
  RETURN r, m ORDER BY r.since DESC, elementId(m) LIMIT $limit
}}
RETURN k, labels(m) AS labels, properties(m) AS props, properties(r) AS rel
"""


#: Keyed by the label of the node the ownerships are read from.
HELD = {label: _held_statement(label) for label in (*OWNABLE, Label.PERSON, Label.TEAM)}


def ownerships_held(tx: ManagedTransaction, label: Label, keys: list[str],
                    as_of: datetime, limit: int = LIST_CAP) -> dict[str, list[Linked]]:
    """Per key of ``label``: an asset's owners or an owner's assets whose ownership held
    at ``as_of``, newest first, at most ``limit`` each (the API's ``owners``/``owns``)."""
    out: dict[str, list[Linked]] = {k: [] for k in keys}
    for row in tx.run(HELD[label], keys=list(keys), limit=limit, asOf=asof.instant(as_of)):
        found = kb_label(row["labels"])
        if found is not None:
            out[row["k"]].append(Linked(found, decode(found, row["props"]),
                                        decode_link(Rel.OWNS, row["rel"])))
    return out
