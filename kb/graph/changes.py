"""Collect what one write changed, entity by entity, and record it in its transaction.

Each write statement returns what it really changed (``statements``: fields from what to
what, links added or closed); ``ChangeLog`` folds those into one record per entity and
``record`` writes them all with one more statement, in the same transaction as the change:
no change without its record, no record without its change (``kb.domain.changes``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import CHANGE_LABEL
from kb.domain.changes import (
    LinkChange,
    Op,
    categories,
    encode_fields,
    encode_links,
)

from .driver import plain

RECORD = f"""
UNWIND $rows AS c
CREATE (x:{CHANGE_LABEL} {{id: c.id, at: datetime($now), actor: $actor, path: $path,
                         batch: $batch, kind: c.kind, key: c.key, op: c.op,
                         categories: c.categories, fields: c.fields, links: c.links}})
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

    def upserted(self, rows: list[dict[str, Any]]) -> None:
        """The ``changes`` an upsert statement returned (``statements.upsert_all``)."""
        for row in rows:
            kind, key = row["kind"], row["key"]
            entry = self._entry(kind, key)
            if row["created"]:
                entry.op = Op.CREATE
            for name, before, after in row["fields"]:
                self.field(kind, key, name, before, after)
            entry.links.extend(LinkChange(x["rel"], x["direction"], x["kind"], x["key"])
                               for x in row["links"])

    def rows(self, batch: str) -> list[dict[str, Any]]:
        out = []
        for i, ((kind, key), entry) in enumerate(self._entries.items()):
            fields = {k: v for k, v in entry.fields.items()
                      if entry.op == Op.CREATE or v[0] != v[1]}
            if entry.op == Op.UPDATE and not fields and not entry.links:
                continue
            out.append({
                "id": f"{batch}.{i:05d}", "kind": kind, "key": key, "op": entry.op.value,
                "categories": categories(kind, entry.op, fields, entry.links),
                "fields": encode_fields(fields), "links": encode_links(entry.links)})
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
