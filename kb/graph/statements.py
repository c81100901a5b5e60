"""Generic upsert and link statements, built once from the fixed label and type lists.

Each statement is an ``UNWIND $rows`` batch that MERGEs on the natural key and only
stamps ``updatedAt``/``updatedBy`` when a property really changes, so a second delivery
of the same facts changes nothing at all. UTC timestamps arrive as ISO text in
``row.times`` / ``row.createdAtText`` and are stored as ``datetime`` (see ``Plan.node_rows``).
"""

from __future__ import annotations

from kb.domain import KEY_PROPERTY, Label, Rel


def _upsert(label: Label) -> str:
    key = KEY_PROPERTY[label]
    return (
        "UNWIND $rows AS row\n"
        f"MERGE (n:{label.value} {{{key}: row.key}})\n"
        "ON CREATE SET n.createdAt = coalesce(datetime(row.createdAtText), row.createdAt, $now),\n"
        "              n.updatedAt = $now, n.updatedBy = $actor\n"
        "WITH n, row\n"
        "WHERE any(k IN keys(row.props) WHERE n[k] IS NULL OR n[k] <> row.props[k])\n"
        "   OR any(k IN keys(row.times) WHERE n[k] IS NULL OR n[k] <> datetime(row.times[k]))\n"
        "SET n += row.props, n.updatedAt = $now, n.updatedBy = $actor\n"
        "FOREACH (k IN keys(row.times) | SET n[k] = datetime(row.times[k]))"
    )


def _link(a: Label, rel: Rel, b: Label) -> str:
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (a:{a.value} {{{KEY_PROPERTY[a]}: row.a}})\n"
        f"MATCH (b:{b.value} {{{KEY_PROPERTY[b]}: row.b}})\n"
        f"MERGE (a)-[r:{rel.value}]->(b)\n"
        "ON CREATE SET r.createdAt = $now\n"
        "SET r += row.props"
    )


def _missing(label: Label) -> str:
    return (
        "UNWIND $keys AS k\n"
        f"OPTIONAL MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: k}})\n"
        "WITH k, n WHERE n IS NULL\n"
        "RETURN collect(k) AS missing"
    )


UPSERT: dict[Label, str] = {label: _upsert(label) for label in Label}
MISSING: dict[Label, str] = {label: _missing(label) for label in Label}

#: Every (from, type, to) triple the graph model allows; nothing else can be linked.
LINKS: frozenset[tuple[Label, Rel, Label]] = frozenset(
    {
        (Label.PERSON, Rel.MEMBER_OF, Label.TEAM),
        (Label.PERSON, Rel.TRAINED, Label.RUN),
        (Label.RUN, Rel.PART_OF, Label.EXPERIMENT),
        (Label.RUN, Rel.CHILD_OF, Label.RUN),
        (Label.RUN, Rel.USED, Label.DATASET_VERSION),
        (Label.RUN, Rel.PRODUCED, Label.DATASET_VERSION),
        (Label.RUN, Rel.PRODUCED, Label.MODEL_VERSION),
        (Label.DATASET_VERSION, Rel.VERSION_OF, Label.DATASET),
        (Label.MODEL_VERSION, Rel.VERSION_OF, Label.MODEL),
        (Label.RUN, Rel.AT_COMMIT, Label.CODE_VERSION),
        (Label.RUN, Rel.IN_ENV, Label.ENVIRONMENT),
        (Label.DEPLOYMENT, Rel.SERVES, Label.MODEL_VERSION),
        (Label.PERSON, Rel.DEPLOYED, Label.DEPLOYMENT),
        (Label.PERSON, Rel.WROTE, Label.NOTE),
    }
    | {(Label.NOTE, Rel.ABOUT, label) for label in Label if label is not Label.NOTE}
)
LINK: dict[tuple[Label, Rel, Label], str] = {t: _link(*t) for t in LINKS}

# Owners are people or teams; an ownership edge is never deleted, only closed (`until`).
_OWN_PAIRS = [(o, a) for o in (Label.PERSON, Label.TEAM) for a in
              (Label.MODEL, Label.DATASET, Label.EXPERIMENT, Label.DEPLOYMENT)]


def _own(owner: Label, asset: Label) -> str:
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (o:{owner.value} {{{KEY_PROPERTY[owner]}: row.owner}})\n"
        f"MATCH (a:{asset.value} {{{KEY_PROPERTY[asset]}: row.asset}})\n"
        # An open edge, or one with this very `since` (closed later), is this fact again.
        "OPTIONAL MATCH (o)-[e:OWNS {role: row.role}]->(a)\n"
        "  WHERE e.until IS NULL OR e.since = row.since\n"
        "WITH o, a, row, count(e) AS open\n"
        "FOREACH (_ IN CASE WHEN open = 0 THEN [1] ELSE [] END |\n"
        "  CREATE (o)-[:OWNS {role: row.role, since: coalesce(row.since, $now),\n"
        "                     createdAt: $now, createdBy: $actor}]->(a)\n"
        "  SET a.updatedAt = $now, a.updatedBy = $actor)"
    )


def _close(asset: Label) -> str:
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (o)-[e:OWNS]->(a:{asset.value} {{{KEY_PROPERTY[asset]}: row.asset}})\n"
        "WHERE e.until IS NULL AND e.role = row.role\n"
        "  AND (o:Person AND o.handle = row.fromKey AND row.fromLabel = 'Person'\n"
        "       OR o:Team AND o.name = row.fromKey AND row.fromLabel = 'Team')\n"
        "SET e.until = coalesce(row.since, $now), e.closedBy = $actor,\n"
        "    a.updatedAt = $now, a.updatedBy = $actor"
    )


OWN: dict[tuple[Label, Label], str] = {pair: _own(*pair) for pair in _OWN_PAIRS}
CLOSE_OWNERSHIP: dict[Label, str] = {a: _close(a) for a in
                                     (Label.MODEL, Label.DATASET, Label.EXPERIMENT,
                                      Label.DEPLOYMENT)}
