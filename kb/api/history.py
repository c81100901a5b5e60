"""Change history in the schema: ``history`` on every node, the root ``changes``.

Both read ``kb.graph.history`` (the readers the CLI uses) in a worker thread and pass its
keyset cursors through: a page continues after the last record the client has, so
records written meanwhile never shift it.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from kb.domain import Label, to_global_id
from kb.domain.changes import Category, ChangeFact
from kb.domain.changes import LinkChange as LinkFact
from kb.errors import InvalidInput
from kb.graph.history import ChangePage, changes, cursor, entity_history

from .common import PageInfo
from .context import Info
from .limits import MAX_PAGE

ChangeKind = strawberry.enum(Category, name="ChangeKind",
                             description="What a change touched; a change has one or more.")

FIRST = strawberry.argument(description=f"Page size, {MAX_PAGE} at most.")
AFTER = strawberry.argument(description="The endCursor of the previous page.")
KINDS = strawberry.argument(description="Only changes that touched one of these.")


@strawberry.type(description="The entity a change was made to. It may no longer exist (a "
                 "deleted or erased entity keeps its history).")
class ChangedEntity:
    kind: str = strawberry.field(description="Its kind, as in EntityKind (`ModelVersion`).")
    key: str = strawberry.field(description="Its natural key (`churn@3`, a run's id).")
    entity_id: strawberry.ID | None = strawberry.field(
        description="Its global id, for node(id:).")


@strawberry.type(description="One field's value before and after a change; a creation's "
                 "before is null. Times are ISO 8601 text.")
class FieldChange:
    name: str
    before: JSON | None
    after: JSON | None


@strawberry.type(description="A link added or closed by a change: `direction` out when the "
                 "changed entity is the link's start, in when it is its end.")
class LinkChange:
    rel: str
    direction: str
    kind: str
    key: str
    action: str = strawberry.field(description="add or close.")
    props: JSON = strawberry.field(description="The link's own facts that matter to history "
                                   "(an ownership's role and dates, an alias's name).")


@strawberry.type(description="What one write did to one entity: who, when, through which "
                 "path, and each field and link from what to what.")
class Change:
    id: str
    at: datetime
    actor: str
    path: str = strawberry.field(
        description="sdk, cli, api, openlineage, mlflow, import or migration.")
    batch: str = strawberry.field(description="The write it was part of; the other entities "
                                  "that write changed carry the same batch.")
    entity: ChangedEntity
    op: str = strawberry.field(description="create, update, delete, erase or migrate.")
    kinds: list[ChangeKind]
    fields: list[FieldChange]
    links: list[LinkChange]
    reason: str | None = strawberry.field(
        default=None, description="Why, as the writer said it (a delete's or an erasure's).")


@strawberry.type
class ChangeEdge:
    cursor: str
    node: Change


@strawberry.type(description="A page of changes, newest first; continue with after: "
                 "pageInfo.endCursor.")
class ChangeConnection:
    edges: list[ChangeEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Change]:
        return [e.node for e in self.edges]


_CATEGORIES = frozenset(c.value for c in Category)


def _entity_id(kind: str, key: str) -> strawberry.ID | None:
    try:
        return strawberry.ID(to_global_id(Label(kind), key))
    except ValueError:  # a kind that is not an entity's has no node to fetch
        return None


def _link(link: LinkFact) -> LinkChange:
    return LinkChange(rel=link.rel, direction=link.direction, kind=link.kind, key=link.key,
                      action=link.action, props=dict(link.props))


def change(fact: ChangeFact) -> Change:
    return Change(
        id=fact.id, at=fact.at, actor=fact.actor, path=fact.path, batch=fact.batch,
        entity=ChangedEntity(kind=fact.kind, key=fact.key,
                             entity_id=_entity_id(fact.kind, fact.key)),
        op=fact.op, kinds=[Category(k) for k in fact.categories if k in _CATEGORIES],
        fields=[FieldChange(name=n, before=b, after=a)
                for n, (b, a) in sorted(fact.fields.items())],
        links=[_link(x) for x in fact.links], reason=fact.reason)


def change_connection(page: ChangePage, after: str | None) -> ChangeConnection:
    edges = [ChangeEdge(cursor=cursor(f), node=change(f)) for f in page.items]
    return ChangeConnection(edges=edges, page_info=PageInfo(
        has_next_page=page.has_next, has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None, end_cursor=page.end_cursor))


def page_size(first: int | None, default: int) -> int:
    if first is None:
        return default
    if isinstance(first, bool) or not 0 <= first <= MAX_PAGE:
        raise InvalidInput("first", f"must be between 0 and {MAX_PAGE}", first)
    return first


def _kinds(kinds: list[Category] | None) -> list[str]:
    return [Category(k).value for k in kinds or ()]


def _histories(tx: Any, refs: list[tuple[Label, str]], **page: Any) -> list[ChangePage]:
    return [entity_history(tx, label, key, **page) for label, key in refs]


def _loader(info: Info, first: int, after: str | None, kinds: list[str]
            ) -> DataLoader[tuple[Label, str], ChangePage]:
    """One loader per request and page asked for: the histories of a list of nodes are
    read in one transaction, not one each."""
    loaders = info.context.extra.setdefault("history", {})
    wanted = (first, after, tuple(kinds))
    loader = loaders.get(wanted)
    if loader is None:
        async def load(refs: list[tuple[Label, str]]) -> list[ChangePage]:
            return await info.context.loaders.read(partial(
                _histories, refs=list(refs), first=first, after=after, kinds=kinds))

        loader = loaders[wanted] = DataLoader(load_fn=load, max_batch_size=MAX_PAGE)
    return loader


async def node_history(info: Info, node_id: str, first: int | None, after: str | None,
                       kinds: list[Category] | None) -> ChangeConnection:
    """The history of the node whose global id is ``node_id`` (``entity_history``)."""
    from kb.domain import from_global_id

    ref = from_global_id(node_id)
    page = await _loader(info, page_size(first, 20), after, _kinds(kinds)).load(
        (ref.label, ref.key))
    return change_connection(page, after)


async def changes_between(info: Info, since: datetime | None, until: datetime | None,
                          actor: str | None, kinds: list[Category] | None,
                          first: int | None, after: str | None) -> ChangeConnection:
    if since is not None and until is not None and since > until:
        raise InvalidInput("since", "must not be later than until", since.isoformat())
    page = await info.context.loaders.read(partial(
        changes, since=since, until=until, actor=actor, kinds=_kinds(kinds),
        first=page_size(first, 50), after=after))
    return change_connection(page, after)

