"""Reading the change records (``kb.domain.changes``): one entity's history, or every
change in a span of time, newest first, a page at a time.

Pages continue from a cursor that names the last record seen (its time and id), not an
offset, so a page costs what it returns however long the history, and records written
meanwhile never shift the next page. Each read starts from an index: ``(kind, key, at)``
for one entity, ``(at)`` for a span, ``(actor, at)`` for one person's writes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import CHANGE_LABEL, KEY_PROPERTY, Label, Rel
from kb.domain.changes import Category, ChangeFact, read_fields, read_links
from kb.errors import InvalidInput, NotFound

from .driver import plain
from .entities import kind_name

#: The widest span a read of changes covers when a bound is not given.
EARLIEST = "0001-01-01T00:00:00+00:00"
LATEST = "9999-12-31T23:59:59+00:00"

# The cursor's time is also the seek's upper bound (``$until`` is never later than it), so
# a page starts where the last one ended instead of filtering its way there.
_AFTER = """
  AND ($at IS NULL OR c.at < datetime($at) OR c.id < $id)
  AND (size($kinds) = 0 OR any(k IN c.categories WHERE k IN $kinds))
"""

# Each read names its index and orders by all of that index's properties, newest first:
# without both the planner may sort every match (or scan the whole index) before LIMIT.
HISTORY = (
    f"MATCH (c:{CHANGE_LABEL} {{kind: $kind, key: $key}})\n"
    f"USING INDEX SEEK c:{CHANGE_LABEL}(kind, key, at)\n"
    "WHERE c.at <= datetime($until)" + _AFTER +
    "RETURN c ORDER BY c.kind DESC, c.key DESC, c.at DESC, c.id DESC LIMIT $limit"
)

# Several entities at once (a model with its versions and deployments), merged by time.
HISTORY_OF = (
    "UNWIND $refs AS ref\n"
    "CALL (ref) {\n"
    f"  MATCH (c:{CHANGE_LABEL} {{kind: ref[0], key: ref[1]}})\n"
    f"  USING INDEX SEEK c:{CHANGE_LABEL}(kind, key, at)\n"
    "  WHERE c.at <= datetime($until)" + _AFTER.replace("\n", "\n  ") +
    "RETURN c ORDER BY c.kind DESC, c.key DESC, c.at DESC, c.id DESC LIMIT $limit\n"
    "}\n"
    "RETURN c ORDER BY c.at DESC, c.id DESC LIMIT $limit"
)

CHANGES = (
    f"MATCH (c:{CHANGE_LABEL})\n"
    f"USING INDEX SEEK c:{CHANGE_LABEL}(at)\n"
    "WHERE c.at >= datetime($since) AND c.at <= datetime($until)" + _AFTER +
    "RETURN c ORDER BY c.at DESC, c.id DESC LIMIT $limit"
)

CHANGES_BY = (
    f"MATCH (c:{CHANGE_LABEL} {{actor: $actor}})\n"
    f"USING INDEX SEEK c:{CHANGE_LABEL}(actor, at)\n"
    "WHERE c.at >= datetime($since) AND c.at <= datetime($until)" + _AFTER +
    "RETURN c ORDER BY c.actor DESC, c.at DESC, c.id DESC LIMIT $limit"
)


# The entities whose records a reader of one entity's history reads with it: a model's
# versions and their deployments, a dataset's versions. From the entity's key, by its links;
# no row when the entity is not in the graph (grouped by it, so none to aggregate).
_L, _R = Label, Rel
_PARTS = {
    _L.MODEL: (
        f"MATCH (n:{_L.MODEL} {{name: $key}})\n"
        f"OPTIONAL MATCH (n)<-[:{_R.VERSION_OF}]-(v:{_L.MODEL_VERSION})\n"
        f"OPTIONAL MATCH (v)<-[:{_R.SERVES}]-(d:{_L.DEPLOYMENT})\n"
        f"WITH n, collect(DISTINCT ['{_L.MODEL_VERSION}', v.key])"
        f" + collect(DISTINCT ['{_L.DEPLOYMENT}', d.id]) AS parts\n"
        "RETURN [p IN parts WHERE p[1] IS NOT NULL] AS parts"),
    _L.DATASET: (
        f"MATCH (n:{_L.DATASET} {{name: $key}})\n"
        f"OPTIONAL MATCH (n)<-[:{_R.VERSION_OF}]-(v:{_L.DATASET_VERSION})\n"
        f"WITH n, collect(v.key) AS keys\n"
        f"RETURN [k IN keys | ['{_L.DATASET_VERSION}', k]] AS parts"),
}


def _exists(label: Label) -> str:
    return f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}}) RETURN [] AS parts LIMIT 1"


@dataclass(frozen=True)
class ChangePage:
    """One page, newest first; ``end_cursor`` continues after its last record."""

    items: tuple[ChangeFact, ...]
    has_next: bool
    end_cursor: str | None


def cursor(change: ChangeFact) -> str:
    text = f"{change.at.isoformat()}|{change.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _position(after: str | None) -> tuple[str | None, str | None]:
    """The time and id a cursor names; ``InvalidInput`` naming ``after`` if it is none."""
    if after is None:
        return None, None
    try:
        text = base64.urlsafe_b64decode((after + "=" * (-len(after) % 4)).encode()).decode()
        at, change_id = text.split("|", 1)
        datetime.fromisoformat(at)
    except ValueError:
        raise InvalidInput("after", "is not a cursor returned by a history or changes list",
                           after) from None
    return at, change_id


def _kinds(kinds: Sequence[str]) -> list[str]:
    known = {c.value for c in Category}
    for k in kinds:
        if k not in known:
            raise InvalidInput("kinds", f"{k!r} is not a kind of change; one of "
                               + ", ".join(sorted(known)), k)
    return list(kinds)


def _iso(when: datetime | None, default: str) -> str:
    if when is None:
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()


def fact(node: Any) -> ChangeFact:
    """A record from its node (or its properties)."""
    p = {name: plain(value) for name, value in dict(node).items()}
    return ChangeFact(
        id=p["id"], at=p["at"], actor=p.get("actor") or "", path=p.get("path") or "",
        batch=p.get("batch") or "", kind=p["kind"], key=p["key"], op=p["op"],
        categories=tuple(p.get("categories") or ()), fields=read_fields(p),
        links=read_links(p), reason=p.get("reason"))


def _page(tx: ManagedTransaction, statement: str, first: int, after: str | None,
          kinds: Sequence[str], **params: Any) -> ChangePage:
    if first < 0:
        raise InvalidInput("first", "must be 0 or more", first)
    at, change_id = _position(after)
    if at is not None and datetime.fromisoformat(at) < datetime.fromisoformat(params["until"]):
        params["until"] = at
    found = [fact(r["c"]) for r in tx.run(statement, at=at, id=change_id, kinds=_kinds(kinds),
                                          limit=first + 1, **params)]
    items = tuple(found[:first])
    return ChangePage(items, len(found) > first, cursor(items[-1]) if items else None)


def history(tx: ManagedTransaction, kind: str, key: str, *, first: int = 20,
            after: str | None = None, kinds: Sequence[str] = (),
            until: datetime | None = None) -> ChangePage:
    """The changes of the entity ``kind``/``key`` (a label's value and a natural key)."""
    return _page(tx, HISTORY, first, after, kinds, kind=kind, key=key,
                 until=_iso(until, LATEST))


def history_of(tx: ManagedTransaction, refs: Sequence[tuple[str, str]], *, first: int = 20,
               after: str | None = None, kinds: Sequence[str] = (),
               until: datetime | None = None) -> ChangePage:
    """The changes of several entities (``(kind, key)`` pairs), merged newest first."""
    if not refs:
        return ChangePage((), False, None)
    return _page(tx, HISTORY_OF, first, after, kinds, refs=[list(r) for r in refs],
                 until=_iso(until, LATEST))


def changes(tx: ManagedTransaction, *, since: datetime | None = None,
            until: datetime | None = None, actor: str | None = None,
            kinds: Sequence[str] = (), first: int = 50, after: str | None = None
            ) -> ChangePage:
    """Every change from ``since`` to ``until`` (both included), by ``actor`` if given."""
    params = {"since": _iso(since, EARLIEST), "until": _iso(until, LATEST)}
    if actor is None:
        return _page(tx, CHANGES, first, after, kinds, **params)
    return _page(tx, CHANGES_BY, first, after, kinds, actor=actor, **params)


def entity_history(tx: ManagedTransaction, label: Label, key: str, *, first: int = 20,
                   after: str | None = None, kinds: Sequence[str] = (),
                   until: datetime | None = None) -> ChangePage:
    """An entity's history as people read it: a model's with its versions' and their
    deployments', a dataset's with its versions'; any other's its own records.

    ``NotFound`` only when the entity is not in the graph and left no record either (a
    deleted entity keeps its history)."""
    row = tx.run(_PARTS.get(label) or _exists(label), key=key).single()
    parts = [(p[0], p[1]) for p in row["parts"]] if row else []
    page = history_of(tx, [(label.value, key), *parts], first=first, after=after,
                      kinds=kinds, until=until)
    if row is None and not page.items and after is None and not kinds:
        raise NotFound(kind_name(label), key)
    return page
