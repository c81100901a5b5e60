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
#: The path of what ``kb import kb`` changed in entities that were there before it.
IMPORT_PATH = "import"

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
    #: ``{name: (before, after)}`` of the fields changed; a creation names the fields it
    #: set, each ``(None, None)`` (the entity holds them). Times are ISO text.
    fields: dict[str, tuple[Any, Any]] = field(hash=False)
    links: tuple[LinkChange, ...] = ()
    #: Why, as the writer said it: a delete's or an erasure's reason.
    reason: str | None = None


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
    # A creation sets its properties; "properties" and "status" say a later change did.
    if op != Op.CREATE and names - {"aliases"} - STATUS_FIELDS:
        found.append(Category.PROPERTIES)
    if op != Op.CREATE and names & STATUS_FIELDS:
        found.append(Category.STATUS)
    if "aliases" in names or any(link.rel == "ALIAS" for link in links):
        found.append(Category.ALIASES)
    if any(link.rel == "OWNS" for link in links):
        found.append(Category.OWNERSHIP)
    if any(link.rel not in ("OWNS", "ALIAS") for link in links):
        found.append(Category.LINKS)
    return list(dict.fromkeys(found))


# How a record is stored. Neo4j properties hold no maps, so a changed field's values are
# properties of their own, named by these prefixes and the field's name, and each link is
# one text of its parts. A record names the fields it set or changed in ``fields``; a
# creation stores no values (the entity's first state is the entity itself, or the
# ``before`` of the field's next change).
BEFORE = "was."
AFTER = "now."
LINK_PARTS = ("rel", "direction", "kind", "key", "action")
#: Keys and names never hold control characters (``kb.domain.text``).
LINK_SEPARATOR = "\x1f"
#: Each link's own facts, as JSON text, where a record's links have any.
LINK_PROPS = "linkProps"


def stored(fields: dict[str, tuple[Any, Any]], links: list[LinkChange], *,
           created: bool = False) -> dict[str, Any]:
    """A record's fields and links as the properties it is stored with."""
    out: dict[str, Any] = {"fields": sorted(fields)}
    if not created:
        for name, (before, after) in fields.items():
            out[BEFORE + name] = before
            out[AFTER + name] = after
    if links:
        out["links"] = [LINK_SEPARATOR.join(getattr(x, part) for part in LINK_PARTS)
                        for x in links]
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
    texts = props.get("links") or []
    extra = props.get(LINK_PROPS) or ["{}"] * len(texts)
    out = []
    for text, more in zip(texts, extra, strict=False):
        rel, direction, kind, key, *action = text.split(LINK_SEPARATOR)
        out.append(LinkChange(rel, direction, kind, key, action[0] if action else "add",
                              json.loads(more or "{}")))
    return tuple(out)


def _text(value: Any) -> Any:
    """A value as readers get it: times as ISO text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value
