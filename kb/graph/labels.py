"""Which kb label a node carries, among the labels Neo4j returns for it."""

from __future__ import annotations

from collections.abc import Iterable

from kb.domain import Label

_BY_TEXT = {label.value: label for label in Label}


def kb_label(labels: Iterable[str]) -> Label | None:
    """The first of ``labels`` that is a kb label; None when there is none (a node may
    carry labels of its own, such as the token store's)."""
    for text in labels:
        label = _BY_TEXT.get(text)
        if label is not None:
            return label
    return None
