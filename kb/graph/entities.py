"""One entity by reference, with its properties and its neighbours: ``show``, ``exists``.

Links are grouped by relationship type and direction: ``"USED->"`` for relationships the
entity starts, ``"<-TRAINED"`` for those that point at it. Each group lists at most
``LINK_CAP`` neighbours as ``kind:key`` references, with the full count beside them.
Ownership edges closed by a transfer (``until`` set) are history, not links, and left out.
"""

from __future__ import annotations

import logging
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import KEY_PROPERTY, Label, Ref, Rel
from kb.errors import NotFound

from .driver import Graph
from .labels import kb_label
from .nodes import nodes_by_keys

log = logging.getLogger(__name__)

LINK_CAP = 50


def _links(label: Label) -> str:
    return (
        f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}})\n"
        "CALL (n) {\n"
        "  OPTIONAL MATCH (n)-[r]-(m)\n"
        f"  WHERE NOT (type(r) = '{Rel.OWNS.value}' AND r.until IS NOT NULL)\n"
        "  WITH type(r) AS type, startNode(r) = n AS out, m\n"
        "  WITH type, out, count(m) AS count, collect(m)[..$cap] AS ms\n"
        "  RETURN collect(CASE WHEN type IS NULL THEN null ELSE {type: type, out: out,\n"
        "    count: count, refs: [x IN ms | {labels: labels(x), props: x {.key, .id, .handle,\n"
        "    .name, .digest}}]} END) AS links\n"
        "}\n"
        "RETURN links"
    )


def _exists(label: Label) -> str:
    return (f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}}) "
            "RETURN count(n) > 0 AS found")


LINKS: dict[Label, str] = {label: _links(label) for label in Label}
EXISTS: dict[Label, str] = {label: _exists(label) for label in Label}

_KIND = {Label.DATASET_VERSION: "dataset version", Label.MODEL_VERSION: "model version",
         Label.CODE_VERSION: "code version"}


def kind_name(label: Label) -> str:
    """How errors name a label: ``model version``, ``person``."""
    return _KIND.get(label, label.value.lower())


def _ref_text(raw: dict[str, Any]) -> str | None:
    label = kb_label(raw["labels"])
    return None if label is None else str(Ref(label, raw["props"][KEY_PROPERTY[label]]))


def _read(tx: ManagedTransaction, ref: Ref) -> dict[str, Any] | None:
    # the properties come from the API's own reader, so both show the same values
    entity = nodes_by_keys(tx, ref.label, [ref.key]).get(ref.key)
    if entity is None:
        return None
    row = tx.run(LINKS[ref.label], key=ref.key, cap=LINK_CAP).single()
    if row is None:  # removed between the two statements
        return None
    links: dict[str, dict[str, Any]] = {}
    for link in sorted(row["links"], key=lambda g: (g["type"], g["out"])):
        name = f"{link['type']}->" if link["out"] else f"<-{link['type']}"
        refs = sorted(r for r in (_ref_text(x) for x in link["refs"]) if r is not None)
        links[name] = {"count": link["count"], "refs": refs}
    entity["ref"] = str(ref)
    entity["label"] = ref.label.value
    entity["links"] = links
    return entity


def show(graph: Graph, ref: Ref) -> dict[str, Any]:
    """The entity's properties as plain Python (params, metrics... decoded) and its links."""
    entity = graph.read(_read, ref)
    if entity is None:
        raise NotFound(kind_name(ref.label), ref.key)
    return entity


def _found(tx: ManagedTransaction, ref: Ref) -> bool:
    return tx.run(EXISTS[ref.label], key=ref.key).single(strict=True)["found"]


def exists(graph: Graph, ref: Ref) -> bool:
    return graph.read(_found, ref)
