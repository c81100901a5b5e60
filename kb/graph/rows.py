"""The column layout of one label's node rows: the one contract between the write
planner (``plan.py``), which lays rows out, and the statement builder
(``statements.py``), which names their columns.

A node row is a positional list, because lists keep the statement parameters far smaller
than maps: the key, the creation time, one column per embedded link the rows carry, one
per property they carry, then the label's defaults. Only this module knows an offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kb.domain import Label, Rel

Triple = tuple[Label, Rel, Label]


def link_item(other: str, props: dict[str, Any], names: tuple[str, ...]) -> Any:
    """One entry of a link column: the other end's key, or for a link with properties
    (``names``, in the model's order) ``[key, *values]``, ``None`` meaning not stated.
    A bare key keeps the rows of the many links without properties small."""
    return [other, *(props.get(n) for n in names)] if names else other


@dataclass(frozen=True)
class RowLayout:
    """Where each column of one label's rows is, for one shape (the links and properties
    the rows carry). Build it with ``plan.row_layout``."""

    label: Label
    #: The embedded triples the rows carry, in column order.
    links: tuple[Triple, ...]
    #: Each of ``links``' own property names, in the order its entries hold them.
    link_props: tuple[tuple[str, ...], ...]
    #: The properties the rows carry, in column order; ``None`` in a row: leave as is.
    values: tuple[str, ...]
    #: The properties with a default (``plan.DEFAULTS``), in column order; ``None`` in a
    #: stub's row, which states nothing.
    defaults: tuple[str, ...]

    key: ClassVar[int] = 0
    created: ClassVar[int] = 1

    def row(self, key: str, created: str | None, links: list[Any], values: list[Any],
            defaults: list[Any]) -> list[Any]:
        """A row: ``links``, ``values`` and ``defaults`` in the order of this layout's."""
        return [key, created, *links, *values, *defaults]

    def link(self, triple: Triple) -> int:
        """The column of ``triple``'s entries (each a ``link_item``)."""
        return 2 + _index(self.links, triple, self.label, "link")

    def link_properties(self, triple: Triple) -> tuple[str, ...]:
        """The link properties an entry of ``triple`` holds, in their order."""
        return self.link_props[_index(self.links, triple, self.label, "link")]

    def link_key(self, triple: Triple) -> int | None:
        """Where an entry of ``triple`` holds the other end's key; ``None``: the entry is
        the key itself."""
        return 0 if self.link_properties(triple) else None

    def link_value(self, triple: Triple, name: str) -> int:
        """Where an entry of ``triple`` holds the link property ``name``."""
        names = self.link_properties(triple)
        return 1 + _index(names, name, self.label, "link property")

    def value(self, name: str) -> int:
        return 2 + len(self.links) + _index(self.values, name, self.label, "property")

    def default(self, name: str) -> int:
        return (2 + len(self.links) + len(self.values)
                + _index(self.defaults, name, self.label, "default"))


def _index(items: tuple[Any, ...], item: Any, label: Label, what: str) -> int:
    try:
        return items.index(item)
    except ValueError:
        raise KeyError(f"{label.value} rows of this shape carry no {what} {item!r}") from None
