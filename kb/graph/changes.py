"""Collect what one write changed, entity by entity, and record it in its transaction.

The batch upsert writes the records of the nodes it creates or changes itself
(``statements``). The other statements of a write (alias moves, retirements, ownership,
links between runs) return what they really changed; ``ChangeLog`` folds those into one
record per entity and ``record`` writes them with one more statement. All of it happens in
the same transaction as the change: no change without its record, no record without its
change (``kb.domain.changes``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import CHANGE_LABEL
from kb.domain.changes import (
    AFTER,
    BEFORE,
    LINK_PROPS,
    LinkChange,
    Op,
    categories,
    read_links,
    stored,
)

from .driver import plain

# One record per entity and write: what the other statements changed joins the record the
# upsert wrote for the same entity in this write, if it wrote one (found through the
# (kind, key, at) index: same entity, same write time, same batch).
UPSERTED = f"""
UNWIND $keys AS k
MATCH (c:{CHANGE_LABEL} {{kind: k[0], key: k[1], at: datetime($now)}})
WHERE c.batch = $batch
RETURN elementId(c) AS id, c.kind AS kind, c.key AS key, properties(c) AS props
"""

RECORD = f"""
UNWIND $rows AS row
CREATE (c:{CHANGE_LABEL})
SET c = row, c.at = datetime($now), c.actor = $actor, c.path = $path, c.batch = $batch
"""

REWRITE = f"""
UNWIND $rows AS row
MATCH (c:{CHANGE_LABEL}) WHERE elementId(c) = row.id
WITH c, row, c.at AS at
SET c = row.props, c.at = at
"""

# A write that undid what an earlier statement of it did (a deployment sent again as
# active, then retired again) changed nothing, and keeps no record.
DROP = f"""
UNWIND $ids AS id
MATCH (c:{CHANGE_LABEL}) WHERE elementId(c) = id
DELETE c
"""


@dataclass
class _Entry:
    op: str = Op.UPDATE
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    links: list[LinkChange] = field(default_factory=list)


class ChangeLog:
    """What one write changed so far, by (kind, key), in the order first seen."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}

    def __bool__(self) -> bool:
        return bool(self._entries)

    def entities(self) -> list[tuple[str, str]]:
        return list(self._entries)

    def _entry(self, kind: str, key: str) -> _Entry:
        return self._entries.setdefault((kind, key), _Entry())

    def created(self, kind: str, key: str) -> None:
        self._entry(kind, key).op = Op.CREATE

    def migrated(self, kind: str, key: str) -> None:
        self._entry(kind, key).op = Op.MIGRATE

    def field(self, kind: str, key: str, name: str, before: Any, after: Any) -> None:
        entry = self._entry(kind, key)
        first = entry.fields.get(name, (before, after))[0]
        entry.fields[name] = (plain(first), plain(after))

    def link(self, kind: str, key: str, change: LinkChange) -> None:
        self._entry(kind, key).links.append(change)

    def rows(self, batch: str) -> list[dict[str, Any]]:
        """New records, as stored (``kb.domain.changes.stored``)."""
        out = []
        for i, ((kind, key), entry) in enumerate(self._entries.items()):
            fields = {k: v for k, v in entry.fields.items()
                      if entry.op == Op.CREATE or v[0] != v[1]}
            if entry.op == Op.UPDATE and not fields and not entry.links:
                continue
            out.append({
                "id": f"{batch}/1/{i:05d}", "kind": kind, "key": key, "op": entry.op.value,
                "categories": categories(kind, entry.op, fields, entry.links),
                **stored(fields, entry.links, created=entry.op == Op.CREATE)})
        return out

    def joined(self, kind: str, key: str, props: dict[str, Any]) -> dict[str, Any] | None:
        """The upsert's record ``props`` of the same entity with this log's changes joined
        in (each field from its first value to its last); None if together they changed
        nothing. Takes the entity out of this log."""
        entry = self._entries.pop((kind, key))
        op = props["op"]
        fields: dict[str, tuple[Any, Any]] = {
            name: (props.get(BEFORE + name), props.get(AFTER + name))
            for name in props.get("fields") or ()}
        for name, (before, after) in entry.fields.items():
            fields[name] = (fields[name][0] if name in fields else before, after)
        if op != Op.CREATE:
            fields = {k: v for k, v in fields.items() if v[0] != v[1]}
        links = [*read_links(props), *entry.links]
        if op == Op.UPDATE and not fields and not links:
            return None
        kept = {k: v for k, v in props.items()
                if not k.startswith((BEFORE, AFTER))
                and k not in ("at", "fields", "links", LINK_PROPS)}  # ``at`` stays as stored
        return {**kept, "categories": categories(kind, op, fields, links),
                **stored(fields, links, created=op == Op.CREATE)}


def new_batch() -> str:
    """The id that ties together the records of one write."""
    return uuid.uuid4().hex


def record(tx: ManagedTransaction, log: ChangeLog, *, now: str, actor: str, path: str,
           batch: str) -> None:
    """Write ``log``'s changes in ``tx``: joined to the upsert's records of the same
    entities, or as records of their own."""
    if not log:
        return
    keys = [list(k) for k in log.entities()]
    rewrite, drop = [], []
    for found in tx.run(UPSERTED, keys=keys, now=now, batch=batch):
        props = log.joined(found["kind"], found["key"], found["props"])
        if props is None:
            drop.append(found["id"])
        else:
            rewrite.append({"id": found["id"], "props": props})
    if rewrite:
        tx.run(REWRITE, rows=rewrite).consume()
    if drop:
        tx.run(DROP, ids=drop).consume()
    rows = log.rows(batch)
    if rows:
        tx.run(RECORD, rows=rows, now=now, actor=actor, path=path, batch=batch).consume()
