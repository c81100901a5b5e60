"""``Results[T]``: a list answer read page by page, only as far as it is used.

Iterating fetches the first page, then the next when that one is used up, and so on;
``first(n)`` and slices stop fetching once they have what they asked for. Pages fetched
are kept, so iterating again, indexing or ``to_pandas()`` after a partial read costs no
second read of what was already fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from kb.domain.paging import Page
from kb.errors import InvalidInput

from .frames import data_frame

T = TypeVar("T")

Fetch = Callable[[str | None], Page[T]]


class Results(Generic[T]):
    """The items of a paged answer, newest or best first as the question orders them.

    ``list(results)`` or ``for item in results`` reads every page; ``results.first(10)``
    or ``results[:10]`` reads only as many as needed; ``results.to_pandas()`` gives a
    DataFrame with one column per field of the records (``params.lr`` for a param).
    """

    def __init__(self, fetch: Fetch[T], record: type | None = None) -> None:
        self._fetch = fetch
        self._record = record
        self._items: list[T] = []
        self._after: str | None = None
        self._done = False
        self._pages = 0

    @classmethod
    def of(cls, items: Sequence[T], record: type | None = None) -> Results[T]:
        """An answer read whole: one page holding ``items`` (of type ``record``)."""
        page = Page(tuple(items), None, False)
        return cls(lambda _after: page, record)

    @property
    def pages_fetched(self) -> int:
        """How many pages have been read so far."""
        return self._pages

    def _more(self) -> bool:
        """Read the next page; False when there is none."""
        if self._done:
            return False
        page = self._fetch(self._after)
        self._pages += 1
        self._items.extend(page.items)
        self._after = page.end_cursor
        self._done = not page.has_next or page.end_cursor is None
        return bool(page.items) or not self._done

    def __iter__(self) -> Iterator[T]:
        i = 0
        while True:
            while i < len(self._items):
                yield self._items[i]
                i += 1
            if not self._more():
                return

    def _upto(self, n: int) -> None:
        while len(self._items) < n and self._more():
            pass

    def first(self, n: int) -> list[T]:
        """The first ``n`` items (fewer if there are fewer), reading no further."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidInput("n", "must be a whole number, 0 or more", n)
        self._upto(n)
        return self._items[:n]

    def all(self) -> list[T]:
        """Every item, reading every page."""
        self._upto_end()
        return list(self._items)

    def _upto_end(self) -> None:
        while self._more():
            pass

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            ends = (index.start, index.stop)
            if any(e is not None and e < 0 for e in ends) or index.stop is None:
                self._upto_end()
            else:
                self._upto(max(e or 0 for e in ends))
            return self._items[index]
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"Results indices must be integers or slices, not "
                            f"{type(index).__name__}")
        if index < 0:
            self._upto_end()
        else:
            self._upto(index + 1)
        return self._items[index]

    def __bool__(self) -> bool:
        """Whether there is any item (reads the first page if need be)."""
        return bool(self.first(1))

    def to_pandas(self) -> Any:
        """Every item as a ``pandas.DataFrame``: one column per record field, in field
        order; a dict field (params, metrics) becomes a column per key (``params.lr``),
        a nested record a column per field (``node.name``). Needs the ``pandas`` extra."""
        return data_frame(self.all(), self._record)

    def __repr__(self) -> str:
        more = "" if self._done else ", more to read"
        return f"<Results: {len(self._items)} read{more}>"
