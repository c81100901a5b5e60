"""Batched reads for the API: nodes by key, relationship lists per key, and pages.

Every function takes a whole batch of keys and is ONE statement, so a dataloader that
collects the keys of a page costs one round trip, whatever the page size. Relationship
lists are capped per key inside a ``CALL`` subquery, so one hub node cannot blow a
request up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import KEY_PROPERTY, OWNABLE, Label, Rel

from .labels import kb_label
from .people import active
from .properties import decode, decode_link

log = logging.getLogger(__name__)

#: The most items one relationship list returns per key.
LIST_CAP = 100


@dataclass(frozen=True)
class Linked:
    """A neighbour: its label, its properties, and the relationship's properties."""

    label: Label
    props: dict[str, Any]
    rel: dict[str, Any]

    @property
    def key(self) -> str:
        return self.props[KEY_PROPERTY[self.label]]


# -- nodes by key -------------------------------------------------------------------------
def _nodes(label: Label) -> str:
    return (f"UNWIND $keys AS k MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: k}})\n"
            "RETURN k, properties(n) AS props")


NODES: dict[Label, str] = {label: _nodes(label) for label in Label}


def nodes_by_keys(tx: ManagedTransaction, label: Label, keys: list[str]
                  ) -> dict[str, dict[str, Any]]:
    """Each found key's node properties, decoded."""
    return {r["k"]: decode(label, r["props"]) for r in tx.run(NODES[label], keys=list(keys))}


# -- relationship lists -------------------------------------------------------------------
@dataclass(frozen=True)
class Relation:
    source: Label
    rel: Rel
    outgoing: bool
    targets: tuple[Label, ...]
    order: str = "m.createdAt DESC"
    open_only: bool = False  # ownership: only edges not closed by a transfer


def _target(targets: tuple[Label, ...]) -> str:
    return ":" + "|".join(t.value for t in targets) if targets else ""


def _neighbours(r: Relation) -> str:
    """The opening both relation statements share: each key's node and its neighbours
    along ``r``, up to the clause that orders them."""
    arrow = (f"-[r:{r.rel.value}]->" if r.outgoing else f"<-[r:{r.rel.value}]-")
    where = "  WHERE r.until IS NULL\n" if r.open_only else ""
    return (
        "UNWIND $keys AS k\n"
        f"MATCH (n:{r.source.value} {{{KEY_PROPERTY[r.source]}: k}})\n"
        "CALL (n) {\n"
        f"  MATCH (n){arrow}(m{_target(r.targets)})\n{where}"
    )


def _relation(r: Relation) -> str:
    return (
        _neighbours(r) +
        f"  RETURN r, m ORDER BY {r.order}, elementId(m) LIMIT $limit\n"
        "}\n"
        "RETURN k, labels(m) AS labels, properties(m) AS props, properties(r) AS rel"
    )


L = Label
_ALL = tuple(Label)
_OWNERS = (L.PERSON, L.TEAM)
_BY_START = "m.startedAt DESC"

RELATIONS: dict[str, Relation] = {
    "Model.versions": Relation(L.MODEL, Rel.VERSION_OF, False, (L.MODEL_VERSION,)),
    "Dataset.versions": Relation(L.DATASET, Rel.VERSION_OF, False, (L.DATASET_VERSION,)),
    "DatasetVersion.dataset": Relation(L.DATASET_VERSION, Rel.VERSION_OF, True, (L.DATASET,)),
    "DatasetVersion.usedBy": Relation(L.DATASET_VERSION, Rel.USED, False, (L.RUN,), _BY_START),
    "DatasetVersion.producedBy": Relation(L.DATASET_VERSION, Rel.PRODUCED, False, (L.RUN,),
                                          _BY_START),
    "ModelVersion.model": Relation(L.MODEL_VERSION, Rel.VERSION_OF, True, (L.MODEL,)),
    "ModelVersion.runs": Relation(L.MODEL_VERSION, Rel.PRODUCED, False, (L.RUN,), _BY_START),
    "ModelVersion.deployments": Relation(L.MODEL_VERSION, Rel.SERVES, False, (L.DEPLOYMENT,),
                                         "m.deployedAt DESC"),
    "Run.person": Relation(L.RUN, Rel.TRAINED, False, (L.PERSON,)),
    "Run.experiment": Relation(L.RUN, Rel.PART_OF, True, (L.EXPERIMENT,)),
    "Run.inputs": Relation(L.RUN, Rel.USED, True, (L.DATASET_VERSION,), "m.key"),
    "Run.outputs": Relation(L.RUN, Rel.PRODUCED, True, (L.DATASET_VERSION,), "m.key"),
    "Run.modelVersions": Relation(L.RUN, Rel.PRODUCED, True, (L.MODEL_VERSION,), "m.key"),
    "Run.code": Relation(L.RUN, Rel.AT_COMMIT, True, (L.CODE_VERSION,)),
    "Run.environment": Relation(L.RUN, Rel.IN_ENV, True, (L.ENVIRONMENT,)),
    "Run.parent": Relation(L.RUN, Rel.CHILD_OF, True, (L.RUN,)),
    "Run.children": Relation(L.RUN, Rel.CHILD_OF, False, (L.RUN,), _BY_START),
    "Experiment.runs": Relation(L.EXPERIMENT, Rel.PART_OF, False, (L.RUN,), _BY_START),
    "Person.teams": Relation(L.PERSON, Rel.MEMBER_OF, True, (L.TEAM,), "m.name"),
    "Person.runs": Relation(L.PERSON, Rel.TRAINED, True, (L.RUN,), _BY_START),
    "Person.deployments": Relation(L.PERSON, Rel.DEPLOYED, True, (L.DEPLOYMENT,),
                                   "m.deployedAt DESC"),
    "Person.owns": Relation(L.PERSON, Rel.OWNS, True, OWNABLE, "r.since DESC", True),
    "Team.members": Relation(L.TEAM, Rel.MEMBER_OF, False, (L.PERSON,), "m.handle"),
    "Team.owns": Relation(L.TEAM, Rel.OWNS, True, OWNABLE, "r.since DESC", True),
    "Deployment.modelVersion": Relation(L.DEPLOYMENT, Rel.SERVES, True, (L.MODEL_VERSION,)),
    "Deployment.deployedBy": Relation(L.DEPLOYMENT, Rel.DEPLOYED, False, (L.PERSON,)),
    "Note.author": Relation(L.NOTE, Rel.WROTE, False, (L.PERSON,)),
    "Note.about": Relation(L.NOTE, Rel.ABOUT, True, ()),
}
for _label in _ALL:
    if _label is not L.NOTE:
        RELATIONS[f"{_label.value}.notes"] = Relation(_label, Rel.ABOUT, False, (L.NOTE,))
for _label in OWNABLE:
    RELATIONS[f"{_label.value}.owners"] = Relation(_label, Rel.OWNS, False, _OWNERS,
                                                   "r.since DESC")
    RELATIONS[f"{_label.value}.currentOwners"] = Relation(_label, Rel.OWNS, False, _OWNERS,
                                                          "r.since DESC", True)

def _relation_after(r: Relation) -> str:
    """The page of neighbours that follows one of them (``$afterLabel``/``$afterKey``) in
    the list's order; nothing when that one is not in the list."""
    return (
        _neighbours(r) +
        f"  WITH r, m ORDER BY {r.order}, elementId(m)\n"
        "  WITH collect([r, m]) AS rows\n"
        "  WITH rows, [i IN range(0, size(rows) - 1) WHERE $afterLabel IN labels(rows[i][1])"
        " AND rows[i][1][$afterProperty] = $afterKey] AS at\n"
        "  WITH rows, coalesce(at[0] + 1, size(rows)) AS start\n"
        "  UNWIND rows[start .. start + $limit] AS row\n"
        "  RETURN row[0] AS r, row[1] AS m\n"
        "}\n"
        "RETURN k, labels(m) AS labels, properties(m) AS props, properties(r) AS rel"
    )


RELATED: dict[str, str] = {name: _relation(r) for name, r in RELATIONS.items()}
RELATED_AFTER: dict[str, str] = {name: _relation_after(r) for name, r in RELATIONS.items()}


def related(tx: ManagedTransaction, relation: str, keys: list[str], limit: int = LIST_CAP,
            after: tuple[Label, str] | None = None) -> dict[str, list[Linked]]:
    """Neighbours per key along one named relation (``"Model.versions"``), capped per key;
    with ``after`` (a neighbour's label and key), those that follow it in the list."""
    out: dict[str, list[Linked]] = {k: [] for k in keys}
    if after is None:
        rows = tx.run(RELATED[relation], keys=list(keys), limit=limit)
    else:
        rows = tx.run(RELATED_AFTER[relation], keys=list(keys), limit=limit,
                      afterLabel=after[0].value, afterProperty=KEY_PROPERTY[after[0]],
                      afterKey=after[1])
    rel = RELATIONS[relation].rel
    for row in rows:
        label = kb_label(row["labels"])
        if label is None:
            continue
        out[row["k"]].append(Linked(label, decode(label, row["props"]),
                                    decode_link(rel, row["rel"])))
    return out


# -- pages of root lists ------------------------------------------------------------------
_OWNED_BY = ("($owner IS NULL OR EXISTS { MATCH (:Person {handle: $owner})-[o:OWNS]->(n) "
             "WHERE o.until IS NULL })")
_OWNED_BY_TEAM = (
    "($team IS NULL OR EXISTS { MATCH (:Team {name: $team})-[o:OWNS]->(n) "
    "WHERE o.until IS NULL } OR EXISTS { MATCH (:Team {name: $team})<-[:MEMBER_OF]-"
    "(:Person)-[o:OWNS]->(n) WHERE o.until IS NULL })"
)

PAGES: dict[str, tuple[Label, str, str]] = {
    # kind: (label, MATCH ... WHERE ..., ORDER BY)
    "models": (L.MODEL, f"MATCH (n:Model) WHERE {_OWNED_BY} AND {_OWNED_BY_TEAM}", "n.name"),
    "datasets": (L.DATASET, f"MATCH (n:Dataset) WHERE {_OWNED_BY} AND {_OWNED_BY_TEAM}",
                 "n.name"),
    "experiments": (L.EXPERIMENT,
                    f"MATCH (n:Experiment) WHERE {_OWNED_BY} AND {_OWNED_BY_TEAM}", "n.name"),
    "people": (L.PERSON, "MATCH (n:Person) WHERE ($team IS NULL OR EXISTS { MATCH (n)"
               "-[:MEMBER_OF]->(:Team {name: $team}) }) AND ($active IS NULL OR "
               f"{active('n')} = $active)", "n.handle"),
    "teams": (L.TEAM, "MATCH (n:Team)", "n.name"),
    "runs": (L.RUN, "MATCH (n:Run) WHERE ($since IS NULL OR n.startedAt >= $since)"
             " AND ($status IS NULL OR n.status = $status)"
             " AND ($person IS NULL OR EXISTS { MATCH (:Person {handle: $person})"
             "-[:TRAINED]->(n) })"
             " AND ($experiment IS NULL OR EXISTS { MATCH (n)-[:PART_OF]->"
             "(:Experiment {name: $experiment}) })", "n.startedAt DESC, n.id"),
}
PAGE_PARAMS = {"models": ("owner", "team"), "datasets": ("owner", "team"),
               "experiments": ("owner", "team"), "people": ("team", "active"), "teams": (),
               "runs": ("since", "status", "person", "experiment")}
PAGE_COUNT = {kind: f"{match}\nRETURN count(n) AS total"
              for kind, (_, match, _) in PAGES.items()}
PAGE_ROWS = {kind: f"{match}\nWITH n ORDER BY {order} SKIP $skip LIMIT $limit\n"
                   "RETURN properties(n) AS props" for kind, (_, match, order) in PAGES.items()}


def page(tx: ManagedTransaction, kind: str, filters: dict[str, Any], skip: int, limit: int
         ) -> tuple[int, list[dict[str, Any]]]:
    """The total and one page of a root list, both in one read transaction."""
    label = PAGES[kind][0]
    params = {name: filters.get(name) for name in PAGE_PARAMS[kind]}
    total = tx.run(PAGE_COUNT[kind], **params).single(strict=True)["total"]
    rows = [decode(label, r["props"]) for r in
            tx.run(PAGE_ROWS[kind], skip=skip, limit=limit, **params)] if limit > 0 else []
    return total, rows
