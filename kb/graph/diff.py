"""``model_diff``: what changed about one model between two instants.

Everything is read from the model outwards (its versions, their deployments, its
ownership and alias edges), so the cost follows the model's own history. A span is
``start < t <= end``: a fact dated exactly ``start`` belongs to the state at ``start``.
The production versions at each end and the data upstream of them are the as-of
questions themselves (``kb.graph.asof``, ``kb.graph.lineage``), asked at both instants.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import Label, Ref, Rel, versioned_key
from kb.domain.diff import AliasMove, DeploymentChange, ModelDiff, OwnerChange, VersionAdded
from kb.domain.when import utc
from kb.errors import InvalidInput, NotFound

from .asof import deployed_at, live, retired_at
from .driver import Graph, plain
from .history import history_of
from .lineage import MAX_DEPTH, read_lineage
from .ownership import PRODUCTION

_MV, _DEP, _RUN, _PERSON = (Label.MODEL_VERSION.value, Label.DEPLOYMENT.value,
                            Label.RUN.value, Label.PERSON.value)
_VERSION_OF, _SERVES = Rel.VERSION_OF.value, Rel.SERVES.value


def _within(value: str) -> str:
    return f"({value} > $start AND {value} <= $end)"


MODEL_DIFF = f"""
MATCH (m:{Label.MODEL.value} {{name: $name}})
RETURN COLLECT {{
  MATCH (m)<-[:{_VERSION_OF}]-(v:{_MV}) WHERE {_within('v.createdAt')}
  CALL (v) {{
    OPTIONAL MATCH (r:{_RUN})-[:{Rel.PRODUCED.value}]->(v)
    OPTIONAL MATCH (t:{_PERSON})-[:{Rel.TRAINED.value}]->(r)
    RETURN r, t ORDER BY r.startedAt DESC LIMIT 1
  }}
  RETURN [v.version, v.createdAt, r.id, t.handle]
}} AS versions,
COLLECT {{
  MATCH (m)<-[:{_VERSION_OF}]-(v:{_MV})<-[:{_SERVES}]-(d:{_DEP})
  WHERE {_within(deployed_at('d'))}
  CALL (d) {{
    OPTIONAL MATCH (p:{_PERSON})-[:{Rel.DEPLOYED.value}]->(d)
    RETURN p LIMIT 1
  }}
  RETURN [d.id, d.environment, v.version, {deployed_at('d')}, p.handle]
}} AS started,
COLLECT {{
  MATCH (m)<-[:{_VERSION_OF}]-(v:{_MV})<-[:{_SERVES}]-(d:{_DEP})
  WHERE {_within(retired_at('d'))}
  RETURN [d.id, d.environment, v.version, {retired_at('d')}]
}} AS retired,
COLLECT {{
  MATCH (o)-[e:{Rel.OWNS.value}]->(m) WHERE {_within('e.since')}
  RETURN [head(labels(o)), coalesce(o.handle, o.name), e.role, e.since, e.createdBy]
}} AS ownersAdded,
COLLECT {{
  MATCH (o)-[e:{Rel.OWNS.value}]->(m) WHERE {_within('e.until')}
  RETURN [head(labels(o)), coalesce(o.handle, o.name), e.role, e.until, e.closedBy]
}} AS ownersRemoved,
COLLECT {{
  MATCH (m)-[e:{Rel.ALIAS.value}]->(v:{_MV})
  WHERE {_within('e.since')} OR {_within('e.until')}
  RETURN [e.alias, v.version, e.since, e.until, e.createdBy, e.closedBy]
}} AS tenures,
COLLECT {{
  MATCH (m)<-[:{_VERSION_OF}]-(v:{_MV})<-[:{_SERVES}]-(d:{_DEP} {{environment: $production}})
  WHERE {live('d', '$start')}
  RETURN DISTINCT v.version
}} AS productionBefore,
COLLECT {{
  MATCH (m)<-[:{_VERSION_OF}]-(v:{_MV})<-[:{_SERVES}]-(d:{_DEP} {{environment: $production}})
  WHERE {live('d', '$end')}
  RETURN DISTINCT v.version
}} AS productionAfter
"""


def _order(version: str) -> tuple[int, str]:
    """Versions in number order when they are numbers."""
    return (int(version), "") if version.isdigit() else (1 << 62, version)


def _moves(tenures: list[list[Any]], start: datetime, end: datetime) -> list[AliasMove]:
    """Alias tenures begun or ended in the span, as moves: a tenure begun where another of
    the same alias ended at that instant moved it from there; one ended with no successor
    took it away."""
    rows = [(alias, version, plain(since), plain(until), by, closed_by)
            for alias, version, since, until, by, closed_by in tenures]
    ended = {(alias, until): (version, closed_by)
             for alias, version, _, until, _, closed_by in rows
             if until is not None and start < until <= end}
    moves, followed = [], set()
    for alias, version, since, _, by, _ in rows:
        if since is None or not start < since <= end:
            continue
        previous = ended.get((alias, since))
        if previous is not None:
            followed.add((alias, since))
        moves.append(AliasMove(alias, previous and previous[0], version, since, by))
    moves.extend(AliasMove(alias, version, None, until, closed_by)
                 for (alias, until), (version, closed_by) in ended.items()
                 if (alias, until) not in followed)
    return moves


def _retirers(tx: ManagedTransaction, ids: list[str], end: datetime) -> dict[str, str]:
    """Who retired each deployment: the actor of its last change to RETIRED by ``end``."""
    if not ids:
        return {}
    # A deployment changes status rarely (retired, at most redeployed and retired again),
    # so a few records each reach its last retirement.
    page = history_of(tx, [(_DEP, i) for i in ids], first=4 * len(ids),
                      kinds=["status"], until=end)
    who: dict[str, str] = {}
    for change in page.items:  # newest first
        if change.fields.get("status", (None, None))[1] == "RETIRED":
            who.setdefault(change.key, change.actor)
    return who


def _data(tx: ManagedTransaction, name: str, versions: list[str], at: datetime
          ) -> set[str]:
    """Dataset versions upstream of the model's ``versions`` as the graph stood at ``at``."""
    found: set[str] = set()
    for version in versions:
        walk = read_lineage(tx, Ref(Label.MODEL_VERSION, versioned_key(name, version)),
                        "UPSTREAM", MAX_DEPTH, 200, at)
        found.update(n.key for n in walk.nodes if n.label == Label.DATASET_VERSION.value)
    return found


def model_diff(tx: ManagedTransaction, name: str, start: datetime, end: datetime
               ) -> ModelDiff:
    """The model ``name`` at ``start`` against ``end`` (``start`` no later than ``end``)."""
    if not name or not name.strip():
        raise InvalidInput("name", "must be a model name", name)
    start, end = utc(start), utc(end)
    if start > end:
        raise InvalidInput("from", f"must not be after to ({end.isoformat()})",
                           start.isoformat())
    row = tx.run(MODEL_DIFF, name=name, start=start, end=end,
                 production=PRODUCTION).single()
    if row is None:
        raise NotFound("model", name)
    versions = sorted((VersionAdded(v, plain(at), run, by)
                       for v, at, run, by in row["versions"]), key=lambda v: _order(v.version))
    started = [DeploymentChange(i, env, v, plain(at), by)
               for i, env, v, at, by in row["started"]]
    retired_rows = row["retired"]
    who = _retirers(tx, [r[0] for r in retired_rows], end)
    retired = [DeploymentChange(i, env, v, plain(at), who.get(i))
               for i, env, v, at in retired_rows]
    added = [OwnerChange(*o[:3], plain(o[3]), o[4]) for o in row["ownersAdded"]]
    removed = [OwnerChange(*o[:3], plain(o[3]), o[4]) for o in row["ownersRemoved"]]
    before = sorted(row["productionBefore"], key=_order)
    after = sorted(row["productionAfter"], key=_order)
    data_before = _data(tx, name, before, start)
    data_after = _data(tx, name, after, end)

    def by_time(items: list[Any]) -> tuple[Any, ...]:
        return tuple(sorted(items, key=lambda x: (x.at is None, x.at, repr(x))))

    return ModelDiff(
        model=name, start=start, end=end, versions_added=tuple(versions),
        deployments_started=by_time(started), deployments_retired=by_time(retired),
        owners_added=by_time(added), owners_removed=by_time(removed),
        aliases_moved=by_time(_moves(row["tenures"], start, end)),
        production_before=tuple(before), production_after=tuple(after),
        data_before=tuple(sorted(data_before)), data_after=tuple(sorted(data_after)),
        data_added=tuple(sorted(data_after - data_before)),
        data_removed=tuple(sorted(data_before - data_after)))


def diff(graph: Graph, name: str, start: datetime, end: datetime) -> ModelDiff:
    """``model_diff`` in a read transaction of its own."""
    return graph.read(model_diff, name, start, end)
