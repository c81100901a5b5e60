"""Shapes every part of the schema shares: ``Node``, cursor connections, key/value pairs."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from kb.domain import Label, from_global_id
from kb.domain.paging import Page, Scalar, encode_cursor
from kb.errors import InvalidInput

from .limits import MAX_PAGE

if TYPE_CHECKING:
    from .history import ChangeConnection, ChangeKind

T = TypeVar("T")
_HISTORY = "kb.api.history"


@strawberry.interface(description="An entity with an opaque global id; fetch any with node(id:).")
class Node:
    id: strawberry.ID

    @strawberry.field(description="Its changes, newest first: who changed what, when, and "
                      "through which path. A model's include its versions' and their "
                      "deployments'; a dataset's its versions'.")
    async def history(
        self, info: strawberry.Info,
        first: Annotated[int, strawberry.argument(
            description=f"Page size, {MAX_PAGE} at most.")] = 20,
        after: Annotated[str | None, strawberry.argument(
            description="The endCursor of the previous page.")] = None,
        kinds: Annotated[list[Annotated[ChangeKind, strawberry.lazy(_HISTORY)]] | None,
                         strawberry.argument(
                             description="Only changes that touched one of these.")] = None,
    ) -> Annotated[ChangeConnection, strawberry.lazy(_HISTORY)]:
        from .history import node_history

        return await node_history(info, str(self.id), first, after, kinds)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list: first/after cursors, at most 100 a page.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    # What totalCount reads, only when a query selects it: counting is the one part of a
    # page whose cost grows with the whole list.
    count: strawberry.Private[Callable[[], Awaitable[int]] | int] = 0

    @strawberry.field
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]

    @strawberry.field(description="How many the whole list holds; counted only when asked.")
    async def total_count(self) -> int:
        if isinstance(self.count, int):
            return self.count
        return await self.count()


@strawberry.type(description="One parameter or metric; the value keeps its JSON type.")
class KeyValue:
    key: str
    value: JSON | None


def key_values(values: dict[str, Any] | None) -> list[KeyValue]:
    return [KeyValue(key=k, value=v) for k, v in sorted((values or {}).items())]


def to_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def from_cursor(cursor: str | None) -> int:
    """The offset after ``cursor`` (the next item to return)."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        kind, _, number = text.partition(":")
        if kind != "offset":
            raise ValueError(text)
        return int(number) + 1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("after", "is not a cursor returned by this list", cursor) from None


@dataclass(frozen=True)
class PageRequest:
    skip: int
    limit: int


def page_request(first: int | None, after: str | None) -> PageRequest:
    if first is None:
        first = 20
    if first < 0 or first > MAX_PAGE:
        raise InvalidInput("first", f"must be between 0 and {MAX_PAGE}", first)
    return PageRequest(from_cursor(after), first)


def connection(items: list[Any], total: int, req: PageRequest) -> Connection[Any]:
    edges = [Edge(cursor=to_cursor(req.skip + i), node=item) for i, item in enumerate(items)]
    return Connection(
        edges=edges, count=total,
        page_info=PageInfo(
            has_next_page=req.skip + len(items) < total, has_previous_page=req.skip > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None))


def keyset_connection(page: Page[Any], build: Callable[[Any], Any],
                      sort_values: Callable[[Any], Sequence[Scalar]], after: str | None,
                      count: Callable[[], Awaitable[int]]) -> Connection[Any]:
    """A connection over a keyset ``Page``: each edge's cursor continues after it, and
    ``count`` runs only if ``totalCount`` is selected."""
    edges = [Edge(cursor=encode_cursor(sort_values(item)), node=build(item))
             for item in page.items]
    return Connection(
        edges=edges, count=count,
        page_info=PageInfo(
            has_next_page=page.has_next, has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=page.end_cursor))


# -- plain lists: ``first`` and ``after`` (the id of the last item the client has) --------
FIRST_ITEMS = strawberry.argument(description=f"At most this many ({MAX_PAGE} at most).")
AFTER_ID = strawberry.argument(
    description="The `id` of the last item you already have (for lists of ownerships, of "
    "the owner or asset they list; for run inputs, of the dataset version): the items "
    "that follow it in this list's order. An id that is not in the list gives none.")


def list_size(first: int | None) -> int:
    """The number of items a plain list returns, checked against the page size limit."""
    if first is None:
        return MAX_PAGE
    if isinstance(first, bool) or not 0 <= first <= MAX_PAGE:
        raise InvalidInput("first", f"must be between 0 and {MAX_PAGE}", first)
    return first


def after_ref(after: str | None) -> tuple[Label, str] | None:
    """The label and key named by an ``after`` id, or None without one."""
    if after is None:
        return None
    try:
        ref = from_global_id(str(after))
    except InvalidInput:
        raise InvalidInput("after", "must be the id of an item of this list", after) from None
    return ref.label, ref.key


def items_after(items: list[T], after: str | None, id_of: Any) -> list[T]:
    """The items that follow the one whose id (``id_of(item)``) is ``after``."""
    if after is None:
        return items
    after_ref(after)  # refuses what is not an id at all
    for i, item in enumerate(items):
        if id_of(item) == after:
            return items[i + 1:]
    return []
