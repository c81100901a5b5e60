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
from kb.domain.paging import Page, decode_cursor, page_of
from kb.errors import InvalidInput

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
        f"  RETURN r, m ORDER BY {r.order}, elementId(r) LIMIT $limit\n"
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

def _seek(order: str) -> str:
    """True for a neighbour ``(r, m)`` that follows ``(ra, a)`` in ``order`` then
    ``elementId(r)`` (Cypher sorts nulls last ascending, first descending)."""
    expr, _, way = order.partition(" ")
    x, y = expr, expr.replace("m.", "a.").replace("r.", "ra.")
    tie = "elementId(r) > elementId(ra)"
    if way == "DESC":
        return (f"CASE WHEN {y} IS NULL THEN {x} IS NOT NULL OR {tie}\n"
                f"    ELSE {x} < {y} OR ({x} = {y} AND {tie}) END")
    return (f"CASE WHEN {y} IS NULL THEN {x} IS NULL AND {tie}\n"
            f"    ELSE {x} IS NULL OR {x} > {y} OR ({x} = {y} AND {tie}) END")


def _relation_after(r: Relation) -> str:
    """The page of neighbours that follows one of them (``$afterLabel``/``$afterKey``) in
    the list's order, sought from that one's sort values (nothing is collected); nothing
    when that one is not in the list."""
    arrow = (f"-[ra:{r.rel.value}]->" if r.outgoing else f"<-[ra:{r.rel.value}]-")
    where = " AND ra.until IS NULL" if r.open_only else ""
    y = r.order.replace("m.", "a.").replace("r.", "ra.")
    return (
        "UNWIND $keys AS k\n"
        f"MATCH (n:{r.source.value} {{{KEY_PROPERTY[r.source]}: k}})\n"
        "CALL (n) {\n"
        f"  MATCH (n){arrow}(a{_target(r.targets)})\n"
        f"  WHERE $afterLabel IN labels(a) AND a[$afterProperty] = $afterKey{where}\n"
        f"  RETURN ra, a ORDER BY {y}, elementId(ra) LIMIT 1\n"
        "}\n"
        "CALL (n, ra, a) {\n"
        + _neighbours(r).split("CALL (n) {\n", 1)[1]
        + ("    AND " if r.open_only else "  WHERE ") + _seek(r.order) + "\n"
        f"  RETURN r, m ORDER BY {r.order}, elementId(r) LIMIT $limit\n"
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
# A root list is ordered by its key (unique, indexed by its constraint), and a page seeks
# past the previous page's last key: the index gives the order, so a page reads about as
# many nodes as it returns. An owner or a team filter starts from that person or team
# instead, so a filtered page costs what the owner holds, whatever else the graph holds.
_OPEN = "WHERE o.until IS NULL"
_OWNED_BY = ("($owner IS NULL OR EXISTS { MATCH (:Person {handle: $owner})-[o:OWNS]->(n) "
             f"{_OPEN} }})")
_OWNED_BY_TEAM = (
    f"($team IS NULL OR EXISTS {{ MATCH (:Team {{name: $team}})-[o:OWNS]->(n) {_OPEN} }} "
    "OR EXISTS { MATCH (:Team {name: $team})<-[:MEMBER_OF]-"
    f"(:Person)-[o:OWNS]->(n) {_OPEN} }})"
)


@dataclass(frozen=True)
class RootList:
    label: Label
    key: str  # the key property, which orders the list
    params: tuple[str, ...]
    where: str  # what every filter keeps (true when unset)
    anchors: tuple[tuple[str, str], ...]  # (filter, MATCH from it), most selective first


def _owned(label: Label) -> RootList:
    v = label.value
    return RootList(label, "name", ("owner", "team"), f"{_OWNED_BY} AND {_OWNED_BY_TEAM}", (
        ("owner", f"MATCH (:Person {{handle: $owner}})-[o:OWNS]->(n:{v}) {_OPEN}"),
        ("team", "CALL () {\n"
                 f"  MATCH (:Team {{name: $team}})-[o:OWNS]->(n:{v}) {_OPEN} RETURN n\n"
                 "  UNION\n"
                 f"  MATCH (:Team {{name: $team}})<-[:MEMBER_OF]-(:Person)-[o:OWNS]->(n:{v})"
                 f" {_OPEN} RETURN n\n}}")))


ROOTS: dict[str, RootList] = {
    "models": _owned(L.MODEL), "datasets": _owned(L.DATASET),
    "experiments": _owned(L.EXPERIMENT),
    "people": RootList(
        L.PERSON, "handle", ("team", "active"),
        "($team IS NULL OR EXISTS { MATCH (n)-[:MEMBER_OF]->(:Team {name: $team}) }) "
        f"AND ($active IS NULL OR {active('n')} = $active)",
        (("team", "MATCH (:Team {name: $team})<-[:MEMBER_OF]-(n:Person)"),)),
    "teams": RootList(L.TEAM, "name", (), "true", ()),
}
#: The exact names the roots are counted with, for anyone checking a filter.
PAGE_PARAMS = {kind: r.params for kind, r in ROOTS.items()}


def _root_statements(r: RootList) -> dict[tuple[str | None, bool], str]:
    out = {}
    for anchor, match in (*r.anchors, (None, None)):
        for after in (False, True):
            k = f"n.{r.key}"
            if match is None:
                # The constraint's index gives the order; pinned, since a label scan and a
                # sort read every node.
                start = (f"MATCH (n:{r.label.value}) USING INDEX n:{r.label.value}({r.key})\n"
                         f"WHERE {k} {'> $after' if after else 'IS NOT NULL'}")
            else:
                start = f"{match}\nWITH DISTINCT n WHERE " + (f"{k} > $after" if after
                                                               else "true")
            out[(anchor, after)] = (f"{start} AND {r.where}\n"
                                    f"WITH n ORDER BY {k} LIMIT $limit\n"
                                    "RETURN properties(n) AS props")
    return out


def _root_count(r: RootList, anchor: str | None, match: str | None) -> str:
    if match is None:
        if not r.params:
            return f"MATCH (n:{r.label.value}) RETURN count(n) AS total"
        match = f"MATCH (n:{r.label.value})"
    return f"{match}\nWITH DISTINCT n WHERE {r.where}\nRETURN count(n) AS total"


ROOT_PAGE = {kind: _root_statements(r) for kind, r in ROOTS.items()}
ROOT_COUNT = {kind: {anchor: _root_count(r, anchor, match)
                     for anchor, match in (*r.anchors, (None, None))}
              for kind, r in ROOTS.items()}


def _root_anchor(kind: str, filters: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    r = ROOTS[kind]
    params = {name: filters.get(name) for name in r.params}
    return next((a for a, _ in r.anchors if params[a] is not None), None), params


def root_page(tx: ManagedTransaction, kind: str, filters: dict[str, Any], first: int,
              after: str | None = None) -> Page[dict[str, Any]]:
    """One page of a root list (``models``, ``datasets``, ``experiments``, ``people``,
    ``teams``) in key order, after the ``end_cursor`` of the previous page."""
    r = ROOTS[kind]
    anchor, params = _root_anchor(kind, filters)
    last = None
    if after is not None:
        (last,) = decode_cursor(after, 1)
        if not isinstance(last, str):
            raise InvalidInput("after", "is not a cursor this list gave", after)
    if first == 0:
        return Page((), None, False)
    rows = [decode(r.label, row["props"]) for row in
            tx.run(ROOT_PAGE[kind][(anchor, after is not None)], limit=first + 1,
                   after=last, **params)]
    return page_of(rows, first, lambda p: (p[r.key],))


def root_count(tx: ManagedTransaction, kind: str, filters: dict[str, Any]) -> int:
    """How many a root list holds under its filters, counted from the same anchor."""
    anchor, params = _root_anchor(kind, filters)
    return tx.run(ROOT_COUNT[kind][anchor], **params).single(strict=True)["total"]
