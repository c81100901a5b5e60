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
from kb.domain.changes import AFTER, BEFORE, LINK_PROPS, LinkChange, Op, categories, stored

from .driver import plain

# One record per entity and write: what the other statements changed joins the record
# the upsert wrote for the same entity in this write, if it wrote one (found through the
# (kind, key, at) index: same entity, same write time, same batch).
RECORD = f"""
WITH datetime($now) AS now
UNWIND $rows AS row
OPTIONAL MATCH (c:{CHANGE_LABEL} {{kind: row.record.kind, key: row.record.key, at: now}})
  WHERE c.batch = $batch
CALL (row, c, now) {{
  WITH row, c, now WHERE c IS NULL
  CREATE (n:{CHANGE_LABEL})
  SET n = row.record, n += row.values, n.at = now, n.actor = $actor, n.path = $path,
      n.batch = $batch
}}
CALL (row, c) {{
  WITH row, c WHERE c IS NOT NULL
  SET c += row.values,
      c.fields = c.fields + [f IN row.record.fields WHERE NOT f IN c.fields],
      c.categories = c.categories + [k IN row.record.categories WHERE NOT k IN c.categories],
      c.links = coalesce(c.links, []) + coalesce(row.record.links, []),
      c.{LINK_PROPS} = CASE WHEN row.record.{LINK_PROPS} IS NULL THEN c.{LINK_PROPS}
        ELSE [x IN coalesce(c.links, []) | '{{}}'] + row.record.{LINK_PROPS} END
}}
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
        out = []
        for i, ((kind, key), entry) in enumerate(self._entries.items()):
            fields = {k: v for k, v in entry.fields.items()
                      if entry.op == Op.CREATE or v[0] != v[1]}
            if entry.op == Op.UPDATE and not fields and not entry.links:
                continue
            props = stored(fields, entry.links, created=entry.op == Op.CREATE)
            values = {k: props.pop(k) for k in list(props) if k.startswith((BEFORE, AFTER))}
            out.append({"values": values, "record": {
                "id": f"{batch}/1/{i:05d}", "kind": kind, "key": key, "op": entry.op.value,
                "categories": categories(kind, entry.op, fields, entry.links), **props}})
        return out


def new_batch() -> str:
    """The id that ties together the records of one write."""
    return uuid.uuid4().hex


def record(tx: ManagedTransaction, log: ChangeLog, *, now: str, actor: str, path: str,
           batch: str) -> int:
    """Write ``log``'s records in ``tx``; returns how many."""
    rows = log.rows(batch)
    if rows:
        tx.run(RECORD, rows=rows, now=now, actor=actor, path=path, batch=batch).consume()
    return len(rows)
