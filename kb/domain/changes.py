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
    #: ``{name: (before, after)}``; a creation's ``before`` is ``None``, and so is its
    #: ``after`` for maps and lists (the entity holds them). Times are ISO text.
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


# How a record is stored. Neo4j properties hold no maps, so each changed field's values
# are properties of their own, named by these prefixes and the field's name, and the links
# are parallel lists. A record names the fields it changed in ``fields``.
BEFORE = "was."
AFTER = "now."
LINK_LISTS = {"rel": "linkRel", "direction": "linkDirection", "kind": "linkKind",
              "key": "linkKey", "action": "linkAction"}
#: Each link's own facts, as JSON text, where a record's links have any.
LINK_PROPS = "linkProps"


def stored(fields: dict[str, tuple[Any, Any]], links: list[LinkChange]) -> dict[str, Any]:
    """A record's fields and links as the properties it is stored with."""
    out: dict[str, Any] = {"fields": sorted(fields)}
    for name, (before, after) in fields.items():
        out[BEFORE + name] = before
        out[AFTER + name] = after
    if links:
        for part, prop in LINK_LISTS.items():
            out[prop] = [getattr(x, part) for x in links]
        if any(x.props for x in links):
            out[LINK_PROPS] = [json.dumps({k: _text(v) for k, v in sorted(x.props.items())},
                                          separators=(",", ":"), ensure_ascii=False)
                               for x in links]
    return out


def read_fields(props: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{name: (before, after)}`` from a stored record; times as ISO text."""
    return {name: (_text(props.get(BEFORE + name)), _text(props.get(AFTER + name)))
            for name in props.get("fields") or ()}


def read_links(props: dict[str, Any]) -> tuple[LinkChange, ...]:
    rels = props.get(LINK_LISTS["rel"]) or []
    n = len(rels)
    parts = {part: props.get(prop) or [None] * n for part, prop in LINK_LISTS.items()}
    extra = props.get(LINK_PROPS) or ["{}"] * n
    return tuple(
        LinkChange(rels[i], parts["direction"][i], parts["kind"][i], parts["key"][i],
                   parts["action"][i] or "add", json.loads(extra[i] or "{}"))
        for i in range(n))


def _text(value: Any) -> Any:
    """A value as readers get it: times as ISO text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value
