"""How an entity's own properties are read: projected in Cypher, decoded into Python.

Both halves follow the kinds in ``kb.domain.model``, so every reader (the API's loaders,
``show``, the questions, the site) turns the same stored value into the same Python
value: a JSON map into a ``dict``, a ``DATETIME`` into an aware ``datetime`` whether the
driver built it or a statement returned it as ``toString`` text (``stamps``), the rest as
stored. Keys the model does not hold (a row's own columns beside the properties) pass
through as plain Python.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from kb.domain import Label, Rel
from kb.domain.model import DATETIME, ENTITIES, JSON, LINK_STAMPS, LINKS, STAMPS, Kind

from .driver import plain
from .stamps import read_stamp

log = logging.getLogger(__name__)

#: Each label's properties and their kinds: the key, the model's properties, the stamps.
KINDS: dict[Label, dict[str, Kind]] = {
    e.label: {e.key: Kind.TEXT, **{p.name: p.kind for p in (*e.props, *STAMPS)}}
    for e in ENTITIES}

#: Each relationship type's properties and their kinds (alike for every triple of a type).
LINK_KINDS: dict[Rel, dict[str, Kind]] = {}
for _link in LINKS:
    LINK_KINDS.setdefault(_link.rel, {p.name: p.kind for p in LINK_STAMPS}).update(
        {p.name: p.kind for p in _link.props})


def read_json(text: str | None) -> Any:
    """A JSON-held map's value; None for none. Text that is not JSON stays text (logged)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        log.warning("a JSON property holds text that is not JSON; left as text")
        return text


def _stamp(value: Any) -> Any:
    if type(value) is not str:
        return plain(value)
    try:
        return read_stamp(value)
    except ValueError:
        log.warning("a timestamp property holds text that is not a timestamp; left as text")
        return value


def _json(value: Any) -> Any:
    return read_json(value) if type(value) is str else value


_READ: dict[Kind, Callable[[Any], Any]] = {DATETIME: _stamp, JSON: _json}
_Readers = dict[str, Callable[[Any], Any] | None]


def _readers(kinds: dict[str, Kind]) -> _Readers:
    """Each property's reader; None where the stored value is Python already."""
    return {name: _READ.get(kind) for name, kind in kinds.items()}


_NODE_READERS = {label: _readers(kinds) for label, kinds in KINDS.items()}
_LINK_READERS = {rel: _readers(kinds) for rel, kinds in LINK_KINDS.items()}


def _decode(readers: _Readers, props: Mapping[str, Any], as_text: Collection[str]
            ) -> dict[str, Any]:
    out = {}
    for name, value in props.items():
        read = readers.get(name, plain)
        if read is None or value is None or name in as_text:
            out[name] = value
        else:
            out[name] = read(value)
    return out


def decode(label: Label, props: Mapping[str, Any], *, as_text: Collection[str] = ()
           ) -> dict[str, Any]:
    """A node's properties (all of them or a projection) as Python, by the model's kinds.

    ``as_text``: JSON properties to leave as their text, for a caller that caches on it.
    """
    return _decode(_NODE_READERS[label], props, as_text)


def decode_link(rel: Rel, props: Mapping[str, Any]) -> dict[str, Any]:
    """A relationship's properties as Python, by the model's kinds."""
    return _decode(_LINK_READERS[rel], props, ())


def projection(var: str, label: Label, names: Iterable[str] | None = None,
               extra: Mapping[str, str] | None = None) -> str:
    """A Cypher map projection of ``var``: every property (``names`` None) or the named
    ones, each timestamp as ``toString`` text, which the driver returns faster than its
    temporal values and ``decode`` reads back alike; ``extra`` adds computed entries.

    Only names the model holds are accepted, so a typo fails where the statement is built.
    """
    kinds = KINDS[label]
    entries = [".*"] if names is None else []
    for name in kinds if names is None else names:
        kind = kinds.get(name)
        if kind is None:
            raise KeyError(f"{label.value}.{name} is not in the graph model")
        if kind is DATETIME:
            entries.append(f"{name}: toString({var}.{name})")
        elif names is not None:
            entries.append(f".{name}")
    entries += [f"{name}: {expr}" for name, expr in (extra or {}).items()]
    return f"{var} {{{', '.join(entries)}}}"
