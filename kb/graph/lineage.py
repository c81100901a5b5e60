"""Lineage (a breadth-first walk) and impact (shortest paths) along the data path.

The path is ``DatasetVersion <-USED- Run -PRODUCED-> ModelVersion|DatasetVersion``,
repeated, then ``ModelVersion <-SERVES- Deployment``. People who trained a run or deployed
a deployment are attached to every run and deployment reached, as leaves.

A walk is two statements in one read transaction: the start (``ROOT``), then every hop at
once (``WALK``). The walk statement unrolls the breadth-first loop server-side: each hop
expands the whole frontier, each frontier node taking at most ``cap + 1`` neighbours
inside a ``CALL`` subquery, so a dataset version read by ten thousand runs costs ``cap + 1``
expansions, not ten thousand; the extra one tells us that the answer was cut. The next
frontier is what the hop reached that no earlier hop had, so every node is expanded once
per direction. Rows come back per hop, in hop order, which is all the caller needs to
rebuild the drawable graph in one pass. Impact is one statement of its own (``IMPACT``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import (
    KEY_PROPERTY,
    DeploymentStatus,
    Label,
    Ref,
    Rel,
    split_versioned,
    to_global_id,
    versioned_key,
)
from kb.domain.answers import (
    ImpactItem,
    LineageCut,
    LineageEdge,
    LineageGraph,
    LineageNeighbour,
    LineageNode,
)
from kb.domain.paging import Page, decode_cursor, encode_cursor, page_size
from kb.domain.when import utc
from kb.errors import InvalidInput, NotFound

from .asof import existed, live
from .driver import Graph, Question, Read, plain
from .labels import kb_label

log = logging.getLogger(__name__)

DIRECTIONS = ("UPSTREAM", "DOWNSTREAM", "BOTH")
MAX_DEPTH = 10
IMPACT_CAP = 100_000
IMPACT_MAX_DEPTH = 25

_DV, _RUN, _MV, _DEP = (Label.DATASET_VERSION.value, Label.RUN.value,
                        Label.MODEL_VERSION.value, Label.DEPLOYMENT.value)
_DS = Label.DATASET.value
_DV_LABEL, _RUN_LABEL, _MV_LABEL = Label.DATASET_VERSION, Label.RUN, Label.MODEL_VERSION
_USED, _PRODUCED, _SERVES = Rel.USED.value, Rel.PRODUCED.value, Rel.SERVES.value
_PEOPLE = f"{Rel.TRAINED.value}|{Rel.DEPLOYED.value}"


# What the caller needs of a node, as a compact list (Bolt decodes lists of scalars much
# faster than maps): element id, labels, natural key (whichever of the key properties the
# label has), then the few properties that name it or that impact reports.
def _node_list(var: str) -> str:
    return (f"[elementId({var}), labels({var}), coalesce({var}.key, {var}.id, {var}.handle, "
            f"{var}.name, {var}.digest), {var}.name, {var}.environment, {var}.status, "
            f"{var}.deployedAt]")




def _people_of(var: str, as_of: bool = False) -> str:
    """Who trained (a run) or deployed (a deployment) ``var``: leaves, never expanded."""
    return (f"COLLECT {{ MATCH (p:{Label.PERSON.value})-[t:{_PEOPLE}]->({var})\n"
            f"{_existed('p', as_of)}    RETURN [p.handle, p.name, type(t)] }}")


def _existed(var: str, as_of: bool) -> str:
    """The as-of filter on a node just matched (nothing without ``asOf``)."""
    return f"    WHERE {existed(var)}\n" if as_of else ""


# One branch per (label, direction); a node has one label, so at most one branch per
# frontier row yields rows, and each branch stops after $cap neighbours.
_BRANCHES = [
    ("down", f"MATCH (n:{_DV})<-[r:{_USED}]-(m:{_RUN})"),
    ("down", f"MATCH (n:{_RUN})-[r:{_PRODUCED}]->(m:{_MV}|{_DV})"),
    ("down", f"MATCH (n:{_MV})<-[r:{_SERVES}]-(m:{_DEP})"),
    ("up", f"MATCH (n:{_MV}|{_DV})<-[r:{_PRODUCED}]-(m:{_RUN})"),
    ("up", f"MATCH (n:{_RUN})-[r:{_USED}]->(m:{_DV})"),
    ("up", f"MATCH (n:{_DEP})-[r:{_SERVES}]->(m:{_MV})"),
]


# Each node's neighbours come in one fixed order, so a cut one can be continued from the
# last neighbour shown (``neighbours``): by key, a model version after a dataset version of
# the same key (the only two kinds one node can reach under one key), which keeps a cursor
# short enough to paste.
_TIE = "CASE WHEN {v}:ModelVersion THEN 1 ELSE 0 END"
_ORDER = f"ORDER BY coalesce(m.key, m.id), {_TIE.format(v='m')}"


def _tie(node: list[Any]) -> int:
    """``_TIE`` of a node row (``_node_list``)."""
    return 1 if _MV in node[1] else 0


def _branches(direction: str, as_of: bool = False) -> str:
    # A link existed when both its ends did; ``n`` passed the test when it was reached.
    return "\n    UNION ALL\n".join(f"    {match}\n{_existed('m', as_of)}"
                                  f"    RETURN r, m {_ORDER} LIMIT $cap1"
                                  for d, match in _BRANCHES if d == direction)


# One hop of the unrolled loop. ``f`` is the frontier, ``seen`` every node reached so far
# in this direction, ``out`` the hops done. ``hits`` are [from, type, stored outwards,
# node, people]; a node the hop reached again is an edge, not a new frontier node.
_HOP = """CALL (f) {{
  UNWIND f AS n
  CALL (n) {{
{branches}
  }}
  WITH n, collect([r, m]) AS found
  WITH n, size(found) > $cap AS cut, found[..$cap] AS found
  WITH n, found, CASE WHEN cut THEN [elementId(n), size(found),
       coalesce(found[-1][1].key, found[-1][1].id),
       CASE WHEN found[-1][1]:ModelVersion THEN 1 ELSE 0 END] END AS cutAt
  UNWIND found AS x
  WITH n, cutAt, x[0] AS r, x[1] AS m
  RETURN collect([elementId(n), type(r), startNode(r) = n, {node},
                  {people}]) AS hits,
         collect(DISTINCT m) AS reached, collect(DISTINCT cutAt) AS cut
}}
WITH out + [[hits, cut]] AS out, seen, [m IN reached WHERE NOT m IN seen] AS f
WITH out, f, seen + f AS seen
"""


def _walk(direction: str, depth: int, with_people: bool, as_of: bool = False) -> str:
    hop = _HOP.format(branches=_branches(direction, as_of), node=_node_list("m"),
                      people=_people_of("m", as_of) if with_people else "[]")
    return (
        "MATCH (s) WHERE elementId(s) IN $frontier\n"
        "WITH collect(s) AS f\n"
        "WITH f, f AS seen, [] AS out\n"
        + hop * depth
        + "UNWIND range(1, size(out)) AS hop\n"
        f"RETURN '{direction}' AS dir, hop, out[hop - 1][0] AS hits, out[hop - 1][1] AS cut"
    )


_DIRS = {"UPSTREAM": ("up",), "DOWNSTREAM": ("down",), "BOTH": ("up", "down")}
#: The walk for (direction, depth): every hop in one statement, people attached. BOTH
#: walks each direction with its own frontier and seen set.
WALK: dict[tuple[str, int], str] = {
    (name, depth): "\nUNION ALL\n".join(_walk(d, depth, with_people=True) for d in dirs)
    for name, dirs in _DIRS.items() for depth in range(1, MAX_DEPTH + 1)}
#: The same walk over only what existed at ``$asOf``.
WALK_AS_OF: dict[tuple[str, int], str] = {
    (name, depth): "\nUNION ALL\n".join(_walk(d, depth, with_people=True, as_of=True)
                                         for d in dirs)
    for name, dirs in _DIRS.items() for depth in range(1, MAX_DEPTH + 1)}


def _root(label: Label, as_of: bool = False) -> str:
    """The start node; a dataset or a model also brings its versions (at most $cap + 1).

    As of an instant, ``existed`` says whether the start had been created by then, and
    only members created by then come along.
    """
    members = ""
    when = f"\n  WHERE {existed('m')}\n  " if as_of else " "
    if label in (Label.DATASET, Label.MODEL):
        members = (f"  MATCH (n)<-[r:{Rel.VERSION_OF.value}]-(m){when}"
                   f"RETURN r, m {_ORDER} LIMIT $cap\n")
    elif label is Label.EXPERIMENT:
        members = (f"  MATCH (n)<-[r:{Rel.PART_OF.value}]-(m:{_RUN}){when}"
                   f"RETURN r, m {_ORDER} LIMIT $cap\n")
    sub = (f"OPTIONAL CALL (n) {{\n{members}}}\n" if members
           else "WITH n, null AS r, null AS m\n")
    return (
        f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}})\n"
        f"{sub}"
        "WITH n, collect(CASE WHEN m IS NULL THEN null ELSE\n"
        f"     [type(r), false, {_node_list('m')}, {_people_of('m', as_of)}] END) AS members\n"
        f"RETURN {_node_list('n')} AS node, members,\n"
        f"       {_people_of('n', as_of)} AS people"
        + (f",\n       {existed('n')} AS existed" if as_of else "")
    )


STARTS: tuple[Label, ...] = (Label.DATASET, Label.DATASET_VERSION, Label.MODEL,
                             Label.MODEL_VERSION, Label.RUN, Label.DEPLOYMENT,
                             Label.EXPERIMENT)
ROOT: dict[Label, str] = {label: _root(label) for label in STARTS}
ROOT_AS_OF: dict[Label, str] = {label: _root(label, as_of=True) for label in STARTS}


# -- turning rows into answers --------------------------------------------------------------
def display_name(label: Label, key: str | None, name: str | None,
                 environment: str | None = None) -> str:
    """What a drawing shows for a node: a run's name, a deployment with its environment,
    a person's name; otherwise the natural key."""
    if label is Label.RUN or label is Label.PERSON:
        return name or key or ""
    if label is Label.DEPLOYMENT:
        return f"{key} ({environment})" if environment else str(key)
    return str(key or "")


def _node(raw: list[Any]) -> LineageNode:
    _, labels, key, name, environment, _, _ = raw
    label = kb_label(labels)
    if label is None:
        raise ValueError(f"no kb label among {labels!r}")
    return LineageNode(to_global_id(label, key), label.value, key,
                       display_name(label, key, name, environment))


def _person(handle: str, name: str | None) -> LineageNode:
    return LineageNode(to_global_id(Label.PERSON, handle), Label.PERSON.value, handle,
                       name or handle)


@dataclass
class _Walk:
    """The growing answer, keyed by element id while walking (cheap per hit); global ids
    and display names are made once per node, at the end.

    People are keyed ``"person:<handle>"``, which no element id can look like.
    """

    raw: dict[str, list[Any]] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], None] = field(default_factory=dict)
    people_seen: dict[str, LineageNode] = field(default_factory=dict)
    built: dict[str, LineageNode] = field(default_factory=dict)
    truncated: bool = False
    # (element id, direction, shown, last key, last tie) per cut node
    cuts: list[tuple[str, str, int, str, int]] = field(default_factory=list)

    def add(self, raw: list[Any]) -> str:
        self.raw.setdefault(raw[0], raw)
        return raw[0]

    def people(self, owner: str, people: list[list[Any]]) -> None:
        for handle, name, type_ in people:
            key = f"person:{handle}"
            if key not in self.people_seen:
                self.people_seen[key] = _person(handle, name)
            self.edges[(key, owner, type_)] = None

    def hop(self, hits: list[list[Any]]) -> None:
        """One hop's hits, in the order the statement returned them."""
        raw, edges = self.raw, self.edges
        for here, type_, out, node, people in hits:
            there = node[0]
            if there not in raw:
                raw[there] = node
            edges[(here, there, type_) if out else (there, here, type_)] = None
            if people:
                self.people(there, people)

    def node(self, key: str) -> LineageNode:
        node = self.built.get(key) or self.people_seen.get(key)
        if node is None:
            node = self.built[key] = _node(self.raw[key])
        return node

    def answer(self, root: str, direction: str, depth: int) -> LineageGraph:
        nodes = [self.node(k) for k in self.raw]
        nodes.extend(self.people_seen.values())
        ids = {k: n.id for k, n in self.built.items()}
        ids.update((k, n.id) for k, n in self.people_seen.items())
        edges = tuple(LineageEdge(ids[a], ids[b], t) for a, b, t in self.edges)
        cuts = tuple(LineageCut(ids[n], way, shown, encode_cursor((key, last)))
                     for n, way, shown, key, last in self.cuts)
        return LineageGraph(ids[root], direction, depth, tuple(nodes), edges, self.truncated,
                            cuts)


def _start(tx: ManagedTransaction, walk: _Walk, ref: Ref, cap: int,
           as_of: datetime | None = None, direction: str = "DOWNSTREAM"
           ) -> tuple[str, list[str]]:
    """Add the root (and a dataset's or model's versions); return the first frontier."""
    if ref.label not in ROOT:
        kinds = "dataset, dataset version, model, model version, run, deployment, experiment"
        raise InvalidInput("entity", f"lineage starts from a {kinds}", str(ref))
    if as_of is None:
        row = tx.run(ROOT[ref.label], key=ref.key, cap=cap + 1).single()
    else:
        row = tx.run(ROOT_AS_OF[ref.label], key=ref.key, cap=cap + 1, asOf=as_of).single()
    if row is None:
        raise NotFound(_kind(ref.label), ref.key)
    if as_of is not None and not row["existed"]:
        raise InvalidInput("asOf", f"{_kind(ref.label)} {ref.key!r} did not exist yet then",
                           as_of.isoformat())
    root = walk.add(row["node"])
    walk.people(root, row["people"])
    members = row["members"]
    if len(members) > cap:
        walk.truncated, members = True, members[:cap]
        last = members[-1][2]
        # The members start both directions; either direction lists them again.
        walk.cuts.append((row["node"][0], "UPSTREAM" if direction == "UPSTREAM"
                          else "DOWNSTREAM", cap, last[2], _tie(last)))
    if not members:
        return root, [row["node"][0]]
    frontier = []
    for type_, _, node, people in members:
        member = walk.add(node)
        walk.edges[(member, root, type_)] = None  # VERSION_OF / PART_OF point at the root
        walk.people(member, people)
        frontier.append(node[0])
    return root, frontier


def _kind(label: Label) -> str:
    return {Label.DATASET_VERSION: "dataset version", Label.MODEL_VERSION: "model version"
            }.get(label, label.value.lower())


def _expand(tx: ManagedTransaction, walk: _Walk, frontier: list[str], statement: str,
            cap: int, **params: Any) -> None:
    """Every hop in one statement; rows arrive per direction in hop order."""
    for way, _, hits, cuts in tx.run(statement, frontier=frontier, cap=cap, cap1=cap + 1,
                                     **params):
        if cuts:
            walk.truncated = True
            name = "UPSTREAM" if way == "up" else "DOWNSTREAM"
            walk.cuts.extend((n, name, shown, key, last) for n, shown, key, last in cuts)
        walk.hop(hits)


def read_lineage(tx: ManagedTransaction, ref: Ref, direction: str, depth: int, cap: int,
                 as_of: datetime | None = None) -> LineageGraph:
    """``lineage`` inside a read the caller holds, arguments already checked."""
    walk = _Walk()
    root, frontier = _start(tx, walk, ref, cap, as_of, direction)
    if as_of is None:
        _expand(tx, walk, frontier, WALK[(direction, depth)], cap)
    else:
        _expand(tx, walk, frontier, WALK_AS_OF[(direction, depth)], cap, asOf=as_of)
    return walk.answer(root, direction, depth)


def lineage(graph: Graph, ref: Ref, *, direction: str = "BOTH", depth: int = 3,
            per_hop_limit: int = 200, as_of: datetime | None = None) -> LineageGraph:
    """What ``ref`` came from (UPSTREAM), what came of it (DOWNSTREAM), or both.

    ``depth`` counts relationships along the data path; a dataset's or a model's versions
    are the start, not a hop. Each node contributes at most ``per_hop_limit`` neighbours;
    ``truncated`` says some were left out. With ``as_of``, only the nodes and links that
    existed at that instant (``kb.graph.asof``).
    """
    direction = (direction or "").upper()
    if direction not in DIRECTIONS:
        raise InvalidInput("direction", "must be UPSTREAM, DOWNSTREAM or BOTH", direction)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput("depth", f"must be between 1 and {MAX_DEPTH}", depth)
    if per_hop_limit < 1:
        raise InvalidInput("per_hop_limit", "must be at least 1", per_hop_limit)
    return graph.read(read_lineage, ref, direction, depth, per_hop_limit,
                      None if as_of is None else utc(as_of))


# -- one node's neighbours, a page at a time ---------------------------------------------------
# What a cut node's neighbours are, in the walk's own order, so the page after a cut's
# cursor is exactly what the walk left out. A dataset, model or experiment lists its
# members (versions, runs), which a walk starts from in either direction.
_MEMBERS = {Label.DATASET: f"MATCH (n)<-[r:{Rel.VERSION_OF.value}]-(m:{_DV})",
            Label.MODEL: f"MATCH (n)<-[r:{Rel.VERSION_OF.value}]-(m:{_MV})",
            Label.EXPERIMENT: f"MATCH (n)<-[r:{Rel.PART_OF.value}]-(m:{_RUN})"}
_SEEK = ("coalesce(m.key, m.id) > $afterKey OR "
         f"(coalesce(m.key, m.id) = $afterKey AND {_TIE.format(v='m')} > $afterTie)")


def _start_labels(match: str) -> str:
    """The ``n:A|B`` labels a branch starts from."""
    return match.split("(n:", 1)[1].split(")", 1)[0]


def _neighbour_matches(label: Label, way: str) -> list[str]:
    """The branches from a node of ``label``, starting from ``(n)`` (already matched)."""
    if label in _MEMBERS:
        return [_MEMBERS[label]]
    return [match.replace(f"(n:{_start_labels(match)})", "(n)") for d, match in _BRANCHES
            if d == way and label.value in _start_labels(match).split("|")]


def _neighbours_statement(label: Label, way: str, as_of: bool, after: bool) -> str | None:
    matches = _neighbour_matches(label, way)
    if not matches:
        return None
    tests = ([existed("m")] if as_of else []) + ([f"({_SEEK})"] if after else [])
    where = f"\n    WHERE {' AND '.join(tests)}" if tests else ""
    branches = "\n    UNION ALL\n".join(
        f"    {match}{where}\n    RETURN r, m {_ORDER} LIMIT $limit" for match in matches)
    return (f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}})\n"
            f"CALL (n) {{\n{branches}\n}}\n"
            f"WITH n, r, m {_ORDER} LIMIT $limit\n"
            f"RETURN {_node_list('m')} AS node, type(r) AS type, startNode(r) = n AS out")


#: One page of neighbours per (label, up|down, as of an instant, after a cursor).
NEIGHBOURS: dict[tuple[Label, str, bool, bool], str] = {
    (label, way, as_of, after): statement
    for label in STARTS for way in ("up", "down") for as_of in (False, True)
    for after in (False, True)
    if (statement := _neighbours_statement(label, way, as_of, after)) is not None}
FOUND: dict[tuple[Label, bool], str] = {
    (label, as_of): f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}})\n"
                    f"RETURN {existed('n') if as_of else 'true'} AS existed"
    for label in STARTS for as_of in (False, True)}


def read_neighbours(tx: ManagedTransaction, ref: Ref, direction: str, first: int,
                    after: str | None, as_of: datetime | None = None
                    ) -> Page[LineageNeighbour]:
    """``neighbours`` inside a read the caller holds, arguments already checked."""
    if ref.label not in ROOT:
        kinds = "dataset, dataset version, model, model version, run, deployment, experiment"
        raise InvalidInput("id", f"lineage starts from a {kinds}", str(ref))
    found = tx.run(FOUND[(ref.label, as_of is not None)], key=ref.key, asOf=as_of).single()
    if found is None:
        raise NotFound(_kind(ref.label), ref.key)
    if not found["existed"]:
        raise InvalidInput("asOf", f"{_kind(ref.label)} {ref.key!r} did not exist yet then",
                           as_of.isoformat() if as_of else None)
    after_key = after_tie = None
    if after is not None:
        after_key, after_tie = decode_cursor(after, 2)
        if not isinstance(after_key, str) or after_tie not in (0, 1):
            raise InvalidInput("after", "is not a cursor this list gave", after)
    way = "up" if direction == "UPSTREAM" else "down"
    statement = NEIGHBOURS.get((ref.label, way, as_of is not None, after is not None))
    if statement is None or first == 0:
        return Page((), None, False)
    here = _node([None, [ref.label.value], ref.key, None, None, None, None])
    rows = list(tx.run(statement, key=ref.key, limit=first + 1, afterKey=after_key,
                       afterTie=after_tie, asOf=as_of))
    items = []
    for row in rows[:first]:
        there = _node(row["node"])
        source, target = (here, there) if row["out"] else (there, here)
        items.append(LineageNeighbour(there, LineageEdge(source.id, target.id, row["type"])))
    cursor = None
    if items:
        last = rows[len(items) - 1]["node"]
        cursor = encode_cursor((last[2], _tie(last)))
    return Page(tuple(items), cursor, len(rows) > first)


def neighbours(graph: Graph, ref: Ref, direction: str, *, first: int = 20,
               after: str | None = None, as_of: datetime | None = None
               ) -> Page[LineageNeighbour]:
    """One page of ``ref``'s neighbours along the lineage path, UPSTREAM or DOWNSTREAM, in
    the order a lineage walk shows them: a ``LineageCut``'s ``end_cursor`` as ``after``
    gives exactly the neighbours the walk left out. A dataset, model or experiment lists
    its versions or runs (a walk's start) in either direction."""
    direction = (direction or "").upper()
    direction = {"UP": "UPSTREAM", "DOWN": "DOWNSTREAM"}.get(direction, direction)
    if direction not in ("UPSTREAM", "DOWNSTREAM"):
        raise InvalidInput("direction", "must be UPSTREAM or DOWNSTREAM", direction)
    return graph.read(read_neighbours, ref, direction, page_size(first), after,
                      None if as_of is None else utc(as_of))


# -- impact ---------------------------------------------------------------------------------
# One statement: a quantified path pattern walks DatasetVersion <-USED- Run -PRODUCED-> ...
# and ``ANY SHORTEST`` keeps one shortest path per model version reached, which is what a
# breadth-first walk with first-discoverer parents gave, without shipping every hop's rows to
# be rebuilt here. ``{1,K}`` repetitions of two relationships reach model versions within
# ``max_depth`` relationships; a deployment is one more. A dataset start walks from the
# dataset through any of its versions (the VERSION_OF step is then dropped from the path), so
# a model version reachable from several versions gets its shortest path from any of them.
# The answer is one row holding a list per model version (measured: 63 rows cost the driver
# 2.5 times the CPU of one row carrying them); path nodes are [key, name] lists, their labels
# following from their place on the path (the pattern fixes them): Bolt decodes lists of
# scalars much faster than nodes, paths or maps. At most $cap + 1 model versions come back:
# beyond ``IMPACT_CAP`` the answer is cut (and logged), so a dense node cannot run away.
def _impact_statement(start: Label, max_depth: int, as_of: bool = False) -> str:
    repeat = max(1, max_depth // 2)
    # As of an instant, every node on the path existed then (so did each link), and a
    # deployment counts when it was live then rather than active now.
    def node(var: str, label: str = "") -> str:
        return f"({var}{label} WHERE {existed(var)})" if as_of else f"({label})"

    step = (f"((:{_DV})<-[:{_USED}]-{node('r', ':' + _RUN)}-[:{_PRODUCED}]->{node('o')})"
            f"{{1,{repeat}}}(v:{_MV})")
    serving = (f"MATCH (d:{_DEP})-[:{_SERVES}]->(v) WHERE {live('d')}" if as_of
               else f"MATCH (d:{_DEP} {{status: $active}})-[:{_SERVES}]->(v)")
    if start is Label.DATASET:
        head = (f"MATCH (s:{_DS} {{{KEY_PROPERTY[start]}: $key}})\n",
                f"(s)<-[:{Rel.VERSION_OF.value}]-{node('sv')}", 1)
    else:
        head = (f"MATCH (s:{_DV} {{{KEY_PROPERTY[start]}: $key}})\n", "(s)", 0)
    match, origin, skip = head
    return (
        f"{match}"
        "RETURN COLLECT {\n"
        f"  MATCH p = ANY SHORTEST {origin}{step}\n"
        f"  WITH v, length(p) - {skip} AS hops, nodes(p)[{skip}..] AS path\n"
        "  WHERE hops <= $maxDepth\n"
        "  RETURN [v.key, hops, [n IN path | [coalesce(n.key, n.id), n.name]],\n"
        "          CASE WHEN hops < $maxDepth THEN COLLECT {\n"
        f"            {serving}\n"
        "            RETURN [d.id, d.environment, d.deployedAt] LIMIT $cap1\n"
        "          } ELSE [] END]\n"
        "  LIMIT $cap1\n"
        "} AS items"
        + (f", {existed('s')} AS existed" if as_of else "")
    )


#: Impact's statement per (start label, max_depth).
IMPACT: dict[tuple[Label, int], str] = {
    (label, depth): _impact_statement(label, depth)
    for label in (Label.DATASET, Label.DATASET_VERSION)
    for depth in range(1, IMPACT_MAX_DEPTH + 1)}
#: The same over only what existed at ``$asOf``.
IMPACT_AS_OF: dict[tuple[Label, int], str] = {
    (label, depth): _impact_statement(label, depth, as_of=True)
    for label in (Label.DATASET, Label.DATASET_VERSION)
    for depth in range(1, IMPACT_MAX_DEPTH + 1)}


# An impact path's labels, with their text: data and run nodes by turns, the model version
# last. Looked up once here: enum attributes and hashes are slow, and answers hold hundreds.
_PATH_STEPS = ((_DV_LABEL, _DV_LABEL.value), (_RUN_LABEL, _RUN_LABEL.value))
_PATH_END = (_MV_LABEL, _MV_LABEL.value)


def _path_nodes(raw: list[list[Any]], built: dict[tuple[str, str], LineageNode]
                ) -> list[LineageNode]:
    """A model version's path: dataset version, then run and data node by turns, the model
    version last (the labels the pattern fixes); nodes shared by many paths are built once."""
    last = len(raw) - 1
    path = []
    for i, (key, name) in enumerate(raw):
        label, text = _PATH_END if i == last else _PATH_STEPS[i % 2]
        node = built.get((text, key))
        if node is None:
            node = built[(text, key)] = LineageNode(
                to_global_id(label, key), text, key, display_name(label, key, name))
        path.append(node)
    return path


def _impact_items(rows: list[list[Any]] | None, ref: Ref) -> list[ImpactItem]:
    """The items of impact's one answer row (None when the start does not exist)."""
    if rows is None:
        raise NotFound(_kind(ref.label), ref.key)
    if len(rows) > IMPACT_CAP:
        log.warning("impact of %s: more than %d model versions downstream; the first %d "
                    "are reported", ref, IMPACT_CAP, IMPACT_CAP)
        rows = rows[:IMPACT_CAP]
    built: dict[tuple[str, str], LineageNode] = {}
    items = []
    for key, hops, raw, deployments in rows:
        path = _path_nodes(raw, built)
        model, version = split_versioned(key)
        items.append(ImpactItem("MODEL_VERSION", key, model, version, None, None, None,
                                hops, tuple(path)))
        for dep_id, environment, deployed_at in deployments:
            node = LineageNode(to_global_id(Label.DEPLOYMENT, dep_id), _DEP, dep_id,
                               display_name(Label.DEPLOYMENT, dep_id, None, environment))
            items.append(ImpactItem("DEPLOYMENT", dep_id, model, version, environment,
                                    DeploymentStatus.ACTIVE.value, plain(deployed_at),
                                    hops + 1, (*path, node)))
    items.sort(key=lambda i: (i.hops, i.kind != "MODEL_VERSION", i.model, i.version, i.key))
    return items


def impact(graph: Graph, dataset: str, version: str | None = None, *,
           max_depth: int = IMPACT_MAX_DEPTH, as_of: datetime | None = None
           ) -> list[ImpactItem]:
    """Every model version and active deployment downstream of the dataset (version).

    Without ``version`` every version of the dataset is a start; each item carries one
    shortest path from a start to it. With ``as_of``, what was downstream at that instant
    and the deployments live then.
    """
    return graph.ask(asking_impact(dataset, version, max_depth=max_depth, as_of=as_of))


def asking_impact(dataset: str, version: str | None = None, *,
                  max_depth: int = IMPACT_MAX_DEPTH, as_of: datetime | None = None
                  ) -> Question[list[ImpactItem]]:
    """``impact`` as a question."""
    if not dataset or not dataset.strip():
        raise InvalidInput("dataset", "must be a dataset name", dataset)
    if not 1 <= max_depth <= IMPACT_MAX_DEPTH:
        raise InvalidInput("max_depth", f"must be between 1 and {IMPACT_MAX_DEPTH}",
                           max_depth)
    ref = (Ref(Label.DATASET, dataset) if version is None
           else Ref(Label.DATASET_VERSION, versioned_key(dataset, version)))
    params = {"key": ref.key, "maxDepth": max_depth, "cap1": IMPACT_CAP + 1,
              "active": DeploymentStatus.ACTIVE.value}
    if as_of is None:
        found = yield Read(IMPACT[(ref.label, max_depth)], params)
    else:
        found = yield Read(IMPACT_AS_OF[(ref.label, max_depth)], {**params, "asOf": utc(as_of)})
        if found and not found[0]["existed"]:
            raise InvalidInput("asOf", f"{_kind(ref.label)} {ref.key!r} did not exist yet "
                               "then", utc(as_of).isoformat())
    return _impact_items(found[0]["items"] if found else None, ref)


# -- deployments in an answer ---------------------------------------------------------------
LIVE_AT = (f"UNWIND $ids AS id\nMATCH (d:{_DEP} {{id: id}})\n"
           f"RETURN d.id AS id, d.environment AS environment, {live('d')} AS live")


def live_at(graph: Graph, ids: list[str], as_of: datetime) -> dict[str, tuple[str, bool]]:
    """Each deployment's environment, and whether it was live at ``as_of``: how a tree
    drawn as of an instant marks its deployments."""
    if not ids:
        return {}
    rows = graph.query(LIVE_AT, ids=ids, asOf=utc(as_of))
    return {r["id"]: (r["environment"], bool(r["live"])) for r in rows}
