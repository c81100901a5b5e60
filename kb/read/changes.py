"""An entity's history as Python reads it: ``Change``, named as the GraphQL type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kb.domain import Label, to_global_id
from kb.domain.changes import Category, ChangeFact, LinkChange

__all__ = ["Change", "ChangedEntity", "FieldChange", "LinkChange", "change"]

_CATEGORIES = frozenset(c.value for c in Category)


@dataclass(frozen=True)
class ChangedEntity:
    """What a change was made to: its ``kind`` (label) and ``key``; ``entity_id`` its
    GraphQL id (None for a kind that is not an entity's)."""

    kind: str
    key: str
    entity_id: str | None


@dataclass(frozen=True)
class FieldChange:
    """One property a change set: its value ``before`` and ``after`` (a creation names
    the fields it set, each None to None: the entity holds them)."""

    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Change:
    """One change record: when (``at``), who (``actor``), through which ``path`` (sdk,
    cli, api, openlineage, mlflow, migration) and in which write (``batch``); ``op``
    (create, update, delete, erase, migrate), what it touched (``kinds``), the
    ``fields`` and ``links`` it changed, and a delete's or erasure's ``reason``."""

    id: str
    at: datetime
    actor: str
    path: str
    batch: str
    entity: ChangedEntity
    op: str
    kinds: tuple[str, ...]
    fields: tuple[FieldChange, ...]
    links: tuple[LinkChange, ...]
    reason: str | None


def _entity_id(kind: str, key: str) -> str | None:
    try:
        return to_global_id(Label(kind), key)
    except ValueError:  # a kind that is not an entity's has no node to fetch
        return None


def change(fact: ChangeFact) -> Change:
    return Change(
        id=fact.id, at=fact.at, actor=fact.actor, path=fact.path, batch=fact.batch,
        entity=ChangedEntity(fact.kind, fact.key, _entity_id(fact.kind, fact.key)),
        op=fact.op, kinds=tuple(k for k in fact.categories if k in _CATEGORIES),
        fields=tuple(FieldChange(n, b, a) for n, (b, a) in sorted(fact.fields.items())),
        links=tuple(fact.links), reason=fact.reason)
