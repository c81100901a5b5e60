"""The change record: what one write did to one entity, kept for as long as the graph.

Every write path (the SDK, the CLI, GraphQL, OpenLineage, the MLflow importer) goes
through ``kb.graph.write``, which records one ``Change`` per entity it created or
altered, in the same transaction. A write that changes nothing records nothing.

A record names its entity by kind and key, never by a link to the node: a delete or an
erasure keeps the record of what happened without the node, and without what was erased.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    """What a write did to the entity as a whole."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ERASE = "erase"
    #: Written by a schema migration (facts kb learnt to keep after they were written).
    MIGRATE = "migrate"


class Category(StrEnum):
    """What a change touched; a record has one or more, and readers filter by them."""

    CREATED = "created"
    PROPERTIES = "properties"
    LINKS = "links"
    OWNERSHIP = "ownership"
    ALIASES = "aliases"
    STATUS = "status"
    DELETED = "deleted"
    ERASED = "erased"
    MIGRATED = "migrated"


#: The path a write came in by: ``RunSource`` values, and the schema's own migrations.
MIGRATION_PATH = "migration"

#: Properties whose change is a change of status: a run finishing, a deployment retired,
#: a person leaving.
STATUS_FIELDS = frozenset({"status", "active", "leftAt", "retiredAt", "endedAt"})


@dataclass(frozen=True)
class LinkChange:
    """A link added or closed: ``rel`` from or to (``direction``) the entity ``kind:key``.

    ``props`` are the link's own facts that matter to history (an ownership's role and
    dates, an alias's name).
    """

    rel: str
    direction: str  # "out": the changed entity is the link's start; "in": its end
    kind: str
    key: str
    action: str = "add"  # or "close"
    props: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ChangeFact:
    """One record, as readers get it: Python values only, times in UTC."""

    id: str
    at: datetime
    actor: str
    path: str
    batch: str
    kind: str
    key: str
    op: str
    categories: tuple[str, ...]
    #: ``{name: (before, after)}``; a creation's ``before`` is ``None``. Times are ISO text.
    fields: dict[str, tuple[Any, Any]] = field(hash=False)
    links: tuple[LinkChange, ...] = ()


def categories(kind: str, op: str, fields: dict[str, Any], links: list[LinkChange]
               ) -> list[str]:
    """What a record touched, from its parts (``Category``)."""
    found: list[str] = []
    if op == Op.CREATE:
        found.append(Category.CREATED)
    elif op in (Op.DELETE, Op.ERASE, Op.MIGRATE):
        found.append({Op.DELETE: Category.DELETED, Op.ERASE: Category.ERASED,
                      Op.MIGRATE: Category.MIGRATED}[Op(op)])
    names = set(fields)
    if names - {"aliases"} - STATUS_FIELDS or (op != Op.CREATE and names & {"aliases"}
                                                and kind != "ModelVersion"):
        found.append(Category.PROPERTIES)
    if names & STATUS_FIELDS and op != Op.CREATE:
        found.append(Category.STATUS)
    if "aliases" in names or any(link.rel == "ALIAS" for link in links):
        found.append(Category.ALIASES)
    if any(link.rel == "OWNS" for link in links):
        found.append(Category.OWNERSHIP)
    if any(link.rel not in ("OWNS", "ALIAS") for link in links):
        found.append(Category.LINKS)
    return list(dict.fromkeys(found))


def encode_fields(fields: dict[str, tuple[Any, Any]]) -> str:
    return json.dumps({k: [_text(b), _text(a)] for k, (b, a) in sorted(fields.items())},
                      separators=(",", ":"), ensure_ascii=False)


def decode_fields(text: str | None) -> dict[str, tuple[Any, Any]]:
    return {k: (v[0], v[1]) for k, v in json.loads(text or "{}").items()}


def encode_links(links: list[LinkChange]) -> str:
    return json.dumps([{"rel": x.rel, "direction": x.direction, "kind": x.kind, "key": x.key,
                        "action": x.action, **({"props": {k: _text(v) for k, v in
                                                          sorted(x.props.items())}}
                                               if x.props else {})}
                       for x in links], separators=(",", ":"), ensure_ascii=False)


def decode_links(text: str | None) -> tuple[LinkChange, ...]:
    return tuple(LinkChange(x["rel"], x["direction"], x["kind"], x["key"], x["action"],
                            x.get("props", {})) for x in json.loads(text or "[]"))


def _text(value: Any) -> Any:
    """A value JSON can hold: times as ISO text, lists as lists."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value
