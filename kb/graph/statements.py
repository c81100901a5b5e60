"""Generic upsert and link statements, built once from the fixed label and type lists.

Each upsert is an ``UNWIND $rows`` batch that MERGEs on the natural key, links the node
along the triples of ``plan.EMBEDDED`` in the same pass, and only stamps
``updatedAt``/``updatedBy`` when a property really changes, so a second delivery of the
same facts changes nothing at all. UTC timestamps, the write's own ``$now`` included,
arrive as ISO text and are stored as ``datetime``. Every column a statement reads is
named by the rows' layout (``rows.RowLayout``), the one the planner laid them out with.
"""

from __future__ import annotations

from functools import lru_cache

from kb.domain import CHANGE_LABEL, KEY_PROPERTY, Label, Rel, changes, model

from .plan import LINK_DEFAULTS, LINKS, NODE_ORDER, TIMES, Shape, row_layout
from .rows import RowLayout

# These statements find every node through its uniqueness constraint, so their plan never
# depends on how much data there is. Without this, Neo4j re-plans each of them (costly
# for the larger upserts) whenever the counts have moved enough, which a
# growing graph does all the time.
KEYED = "CYPHER replan=skip\n"
# The write's time arrives as ISO text (``$now``) and is parsed once per statement: the
# driver's own datetime encoding costs a few hundred microseconds per parameter.
NOW = "WITH datetime($now) AS now\n"
# Marks, until the end of its own statement, a node or link that statement created: MERGE
# does not say whether it created, and the change record must. Never committed.
NEW = "`_new`"


def unmark(var: str, flag: str) -> str:
    """Clauses that take the creation mark off ``var`` when ``flag`` holds (kb's own
    variable names only); a node merged, not created, is left untouched and unlocked."""
    return f"FOREACH (_ IN CASE WHEN {flag} THEN [1] ELSE [] END | REMOVE {var}.{NEW})\n"


def lock(node: str) -> str:
    """Clauses that take ``node``'s write lock, held to the commit, and change nothing.

    For a check-then-write (is there an open ownership? what is the run's merge state?):
    a concurrent transaction doing the same waits here until this one commits, then sees
    what it wrote. Setting a property is what takes the lock; removing it again leaves no
    trace. ``node`` is a variable name of kb's own statements, never user text.
    """
    return f"SET {node}._lock = true\nREMOVE {node}._lock\n"


def link_defaults_parameter(triple: tuple[Label, Rel, Label]) -> str:
    """The parameter that holds ``plan.LINK_DEFAULTS[triple]``."""
    a, rel, b = triple
    return f"defaults_{a.value}_{rel.value}_{b.value}"


#: Every statement that creates links takes these, so a new link gets its defaults.
LINK_DEFAULT_PARAMETERS: dict[str, dict[str, object]] = {
    link_defaults_parameter(t): d for t, d in LINK_DEFAULTS.items()}


def _created_defaults(triple: tuple[Label, Rel, Label]) -> str:
    """``ON CREATE`` items that give a new link its defaults (plan.LINK_DEFAULTS)."""
    return f", r += ${link_defaults_parameter(triple)}" if triple in LINK_DEFAULTS else ""


def _carry(layout: RowLayout, triple: tuple[Label, Rel, Label]) -> str:
    """A unit subquery that links the bound node ``n`` along one embedded triple."""
    a, rel, b = triple
    outgoing = a is layout.label
    other = b if outgoing else a
    pattern = f"(n)-[r:{rel.value}]->(o)" if outgoing else f"(o)-[r:{rel.value}]->(n)"
    sets = "".join(
        f"  SET r.`{name}` = coalesce(l[{layout.link_value(triple, name)}], r.`{name}`)\n"
        for name in layout.link_properties(triple))
    return (
        "CALL (n, row, now) {\n"
        f"  UNWIND row[{layout.link(triple)}] AS l\n"
        f"  MATCH (o:{other.value} {{{KEY_PROPERTY[other]}: {_link_key(layout, triple)}}})\n"
        f"  MERGE {pattern}\n"
        f"  ON CREATE SET r.createdAt = now{_created_defaults(triple)}\n"
        f"{sets}"
        "}\n"
    )


def _link_key(layout: RowLayout, triple: tuple[Label, Rel, Label], entry: str = "l") -> str:
    at = layout.link_key(triple)
    return entry if at is None else f"{entry}[{at}]"


def _added(layout: RowLayout, triple: tuple[Label, Rel, Label]) -> str:
    """The links along ``triple`` this row will add, as their stored texts: all of them for
    a node just created, else those not there yet (read before the links are merged)."""
    a, rel, b = triple
    outgoing = a is layout.label
    other = b if outgoing else a
    key = _link_key(layout, triple)
    sep = f"\\u{ord(changes.LINK_SEPARATOR):04X}"  # a Cypher escape, never a raw control
    text = (f"'{rel.value}{sep}{'out' if outgoing else 'in'}{sep}{other.value}{sep}' + {key}")
    end = f"(:{other.value} {{{KEY_PROPERTY[other]}: {key}}})"
    pattern = f"(n)-[:{rel.value}]->{end}" if outgoing else f"{end}-[:{rel.value}]->(n)"
    column = f"row[{layout.link(triple)}]"
    return (f"CASE WHEN created THEN [l IN {column} | {text}]\n"
            f"     ELSE [l IN {column} WHERE NOT EXISTS {{ {pattern} }} | {text}] END")


#: Labels whose nodes another statement of the write may create first (a run claimed for
#: its source, a model numbered for its versions): each upsert takes a parameter
#: ``created_<label>``, a map of those keys, so that its record says it created them.
CREATED_ELSEWHERE: tuple[Label, ...] = (Label.RUN, Label.MODEL)


def created_parameter(label: Label) -> str:
    return f"created_{label.value}"


def _upsert(label: Label, shape: Shape, rows: str = "rows") -> str:
    """Rows (parameter ``rows``) laid out as ``row_layout(label, shape)``, given ``now``
    bound to the write's time, and the change record of each node it changes.

    A property is compared and set only when the row knows it (not null), and a default
    (``plan.DEFAULTS``) only where the node has no value; the stamps move only when one
    of them changes what is stored. Columns no row of a batch holds are
    left out of the statement, which would otherwise compare each of them, and run each
    link's subquery, for every row.
    """
    layout = row_layout(label, shape)
    times = TIMES[label]
    values = []
    for name in layout.values:
        raw = f"row[{layout.value(name)}]"
        values.append((name, f"datetime({raw})" if name in times else raw, raw))
    # For a node that has no such property yet.
    defaults = {name: f"row[{layout.default(name)}]" for name in layout.defaults}
    changed = "\n   OR ".join(
        [f"({raw} IS NOT NULL AND NOT coalesce(n.`{name}` = {value}, false))"
         for name, value, raw in values]
        + [f"({default} IS NOT NULL AND n.`{name}` IS NULL)"
           for name, default in defaults.items()])
    given = {name for name, _, _ in values}
    sets = ",\n      ".join(
        [f"n.`{name}` = coalesce({value}, n.`{name}`"
         + (f", {defaults[name]})" if name in defaults else ")")
         for name, value, _ in values]
        + [f"n.`{name}` = coalesce(n.`{name}`, {default})"
           for name, default in defaults.items() if name not in given])
    names = [name for name, _, _ in values] + [n for n in defaults if n not in given]
    key = KEY_PROPERTY[label]
    created = f"n.{NEW} IS NOT NULL"
    if label in CREATED_ELSEWHERE:
        created += f" OR ${created_parameter(label)}[n.`{key}`] IS NOT NULL"
    statement = (
        f"UNWIND ${rows} AS row\n"
        f"MERGE (n:{label.value} {{{key}: row[{layout.key}]}})\n"
        f"ON CREATE SET n.createdAt = coalesce(datetime(row[{layout.created}]), now),\n"
        f"              n.updatedAt = now, n.updatedBy = $actor, n.{NEW} = true\n"
        f"WITH n, row, now, {created} AS created\n"
        # What the node held before this write, for its change record.
        f"WITH n, row, now, created, CASE WHEN created THEN {{}} "
        f"ELSE n {{{', '.join(f'.`{name}`' for name in names)}}} END AS before\n"
        + unmark("n", f"n.{NEW} IS NOT NULL")
    )
    added = " +\n  ".join(_added(layout, triple) for triple in layout.links) or "[]"
    statement += f"WITH n, row, now, created, before,\n  {added} AS links\n"
    statement += "".join(_carry(layout, triple) for triple in layout.links)
    if sets:
        statement += (
            f"FOREACH (_ IN CASE WHEN {changed}\n"
            "  THEN [1] ELSE [] END |\n"
            f"  SET {sets},\n"
            "      n.updatedAt = now, n.updatedBy = $actor)\n")
    return statement + _record(label, names)


def _record(label: Label, names: list[str]) -> str:
    """Clauses that write the change record of each row whose node this upsert created
    or changed (``kb.domain.changes``: field names, each value before and after, links
    added), given ``n``, ``created``, ``before`` and ``links``."""
    key = KEY_PROPERTY[label]
    values = ",\n    ".join(
        f"c.`{changes.BEFORE}{name}` = CASE WHEN 'x' IN fields THEN before.`{name}` END,\n    "
        f"c.`{changes.AFTER}{name}` = CASE WHEN 'x' IN fields THEN n.`{name}` END"
        .replace("'x'", f"'{name}'")
        for name in names)
    statuses = _names(sorted(changes.STATUS_FIELDS))
    plain_fields = _names(sorted(changes.STATUS_FIELDS | {"aliases"}))
    return (
        f"WITH n, now, created, before, links, CASE WHEN created\n"
        f"  THEN [f IN {_names(names)} WHERE n[f] IS NOT NULL]\n"
        f"  ELSE [f IN {_names(names)} WHERE NOT coalesce(\n"
        "    before[f] = n[f], before[f] IS NULL AND n[f] IS NULL)] END AS fields\n"
        "WHERE created OR size(fields) > 0 OR size(links) > 0\n"
        # Ids order a write's records as it wrote them: by label, then key.
        f"CREATE (c:{CHANGE_LABEL} {{id: $batch + '/0/{NODE_ORDER.index(label):02d}/"
        f"{label.value}/' + n.`{key}`, at: now,\n"
        f"  actor: $actor, path: $path, batch: $batch, kind: '{label.value}', key: n.`{key}`,\n"
        "  op: CASE WHEN created THEN 'create' ELSE 'update' END, fields: fields,\n"
        "  categories: [x IN [\n"
        "    CASE WHEN created THEN 'created' END,\n"
        f"    CASE WHEN NOT created AND any(f IN fields WHERE NOT f IN {plain_fields})\n"
        "      THEN 'properties' END,\n"
        f"    CASE WHEN NOT created AND any(f IN fields WHERE f IN {statuses}) "
        "THEN 'status' END,\n"
        "    CASE WHEN 'aliases' IN fields THEN 'aliases' END,\n"
        "    CASE WHEN size(links) > 0 THEN 'links' END] WHERE x IS NOT NULL],\n"
        "  links: CASE WHEN size(links) > 0 THEN links END})\n"
        # A creation's values are the entity's first state; only a change has from and to.
        + (f"FOREACH (_ IN CASE WHEN created THEN [] ELSE [1] END |\n  SET {values})\n"
           if values else "")
    )


def _names(names: list[str]) -> str:
    """A Cypher list literal of property names, which come from the graph model only."""
    return "[" + ", ".join(f"'{name}'" for name in names) + "]"


def _link(a: Label, rel: Rel, b: Label) -> str:
    return (
        KEYED + NOW +
        "UNWIND $rows AS row\n"
        f"MATCH (a:{a.value} {{{KEY_PROPERTY[a]}: row.a}})\n"
        f"MATCH (b:{b.value} {{{KEY_PROPERTY[b]}: row.b}})\n"
        f"MERGE (a)-[r:{rel.value}]->(b)\n"
        f"ON CREATE SET r.createdAt = now, r.{NEW} = true{_created_defaults((a, rel, b))}\n"
        "SET r += row.props\n"
        f"WITH a, b, r, r.{NEW} IS NOT NULL AS added\n"
        + unmark("r", "added") +
        "WITH a, b WHERE added\n"
        f"RETURN a.`{KEY_PROPERTY[a]}` AS a, b.`{KEY_PROPERTY[b]}` AS b"
    )


def _missing(label: Label) -> str:
    return (
        KEYED +
        "UNWIND $keys AS k\n"
        f"OPTIONAL MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: k}})\n"
        "WITH k, n WHERE n IS NULL\n"
        "RETURN collect(k) AS missing"
    )


def rows_parameter(label: Label) -> str:
    """The parameter that holds ``label``'s rows in an ``upsert_all`` statement."""
    return f"rows_{label.value}"


@lru_cache(maxsize=1024)  # shapes vary little, but a server runs for months
def upsert_all(parts: tuple[tuple[Label, Shape], ...]) -> str:
    """One statement that upserts the rows of every (label, shape) of ``parts``, in that
    order, each label's rows in parameter ``rows_parameter(label)``.

    Each label's ``upsert`` body runs as a unit subquery, one after the other, and each
    sees what the earlier ones wrote, so links embedded towards earlier labels find their
    other ends just as with one statement per label, and a batch's nodes cost one round
    trip instead of one per label (seven for a batch of runs). Built once per combination
    of labels and shapes, which only ever come from the fixed lists.
    """
    bodies = (_upsert(label, shape, rows_parameter(label)) for label, shape in parts)
    return KEYED + NOW + "".join(
        "CALL (now) {\n" + "".join(f"  {line}\n" for line in body.splitlines()) + "}\n"
        for body in bodies
    )


MISSING: dict[Label, str] = {label: _missing(label) for label in Label}

LINK: dict[tuple[Label, Rel, Label], str] = {t: _link(*t) for t in LINKS}

# Owners are people or teams; an ownership edge is never deleted, only closed (`until`).
_OWN_PAIRS = [(link.source, link.target) for link in model.LINKS if link.rel is Rel.OWNS]


def _own(owner: Label, asset: Label) -> str:
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (o:{owner.value} {{{KEY_PROPERTY[owner]}: row.owner}})\n"
        f"MATCH (a:{asset.value} {{{KEY_PROPERTY[asset]}: row.asset}})\n"
        # Two writers of one ownership at once: the second finds the first's edge.
        + lock("a") +
        "WITH o, a, row\n"
        # An open edge, or one with this very `since` (closed later), is this fact again.
        "OPTIONAL MATCH (o)-[e:OWNS {role: row.role}]->(a)\n"
        "  WHERE e.until IS NULL OR e.since = row.since\n"
        "WITH o, a, row, count(e) AS open\n"
        "WITH o, a, row WHERE open = 0\n"
        "CREATE (o)-[e:OWNS {role: row.role, since: coalesce(row.since, datetime($now)),\n"
        "                    createdAt: datetime($now), createdBy: $actor}]->(a)\n"
        "SET a.updatedAt = datetime($now), a.updatedBy = $actor\n"
        "RETURN row.owner AS owner, row.asset AS asset, e.role AS role, e.since AS since"
    )


def _close(asset: Label) -> str:
    return (
        "UNWIND $rows AS row\n"
        f"MATCH (o)-[e:OWNS]->(a:{asset.value} {{{KEY_PROPERTY[asset]}: row.asset}})\n"
        "WHERE e.until IS NULL AND e.role = row.role\n"
        "  AND (o:Person AND o.handle = row.fromKey AND row.fromLabel = 'Person'\n"
        "       OR o:Team AND o.name = row.fromKey AND row.fromLabel = 'Team')\n"
        "SET e.until = coalesce(row.since, datetime($now)), e.closedBy = $actor,\n"
        "    a.updatedAt = datetime($now), a.updatedBy = $actor\n"
        "RETURN row.fromKey AS owner, row.asset AS asset, e.role AS role, e.since AS since,\n"
        "       e.until AS until"
    )


OWN: dict[tuple[Label, Label], str] = {pair: _own(*pair) for pair in _OWN_PAIRS}
CLOSE_OWNERSHIP: dict[Label, str] = {a: _close(a) for a in dict.fromkeys(a for _, a in _OWN_PAIRS)}
