"""Full-text search over names, descriptions and notes (the ``kb_search`` index).

User text never reaches Lucene as syntax: every special character is escaped, and each
word matches as itself or as a prefix.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import KEY_PROPERTY, Label
from kb.errors import InvalidInput

from .driver import Graph
from .labels import kb_label
from .properties import decode
from .schema import FULLTEXT_INDEX

log = logging.getLogger(__name__)

SEARCHABLE: tuple[Label, ...] = (Label.PERSON, Label.TEAM, Label.DATASET, Label.MODEL,
                                 Label.EXPERIMENT, Label.NOTE, Label.RUN)
MAX_RESULTS = 100
_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
_LUCENE_WORDS = {"AND", "OR", "NOT", "TO"}

SEARCH = f"""
CALL db.index.fulltext.queryNodes('{FULLTEXT_INDEX}', $text) YIELD node, score
WHERE $labels IS NULL OR any(l IN labels(node) WHERE l IN $labels)
RETURN labels(node) AS labels, properties(node) AS props, score
ORDER BY score DESC LIMIT $limit
"""


@dataclass(frozen=True)
class SearchHit:
    label: Label
    key: str
    props: dict
    score: float


def escape(text: str) -> str:
    """Escape Lucene syntax so the words are searched as written."""
    return _SPECIAL.sub(r"\\\1", text)


def lucene_query(text: str) -> str:
    words = [w for w in text.split() if w]
    parts = []
    for word in words:
        if word.upper() in _LUCENE_WORDS:
            word = word.lower()
        escaped = escape(word)
        parts.append(f"({escaped} OR {escaped}*)" if escaped.isalnum() else escaped)
    return " ".join(parts)


# An entity whose key is the text as typed (model ``churn`` for "churn") leads, above
# everything that merely mentions it; each label's key constraint makes these seeks.
_EXACT = {label: f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}}) "
                 "RETURN labels(n) AS labels, properties(n) AS props"
          for label in (Label.MODEL, Label.DATASET, Label.PERSON, Label.TEAM,
                        Label.EXPERIMENT, Label.RUN)}


def _hit(row: Any, score: float) -> SearchHit | None:
    label = kb_label(row["labels"])
    if label is None:
        return None
    props = decode(label, row["props"])
    return SearchHit(label, props[KEY_PROPERTY[label]], props, score)


def matching(tx: ManagedTransaction, query: str, labels: list[str] | None, limit: int,
             exact: str) -> list[SearchHit]:
    """``search`` in ``tx``, for a Lucene ``query`` already built (``lucene_query``)."""
    rows = list(tx.run(SEARCH, text=query, labels=labels, limit=limit))
    top = max((r["score"] for r in rows), default=0.0) + 1.0
    hits = [h for label, statement in _EXACT.items()
            if labels is None or label.value in labels
            for h in (_hit(r, top) for r in tx.run(statement, key=exact)) if h is not None]
    seen = {(h.label, h.key) for h in hits}
    for row in rows:
        hit = _hit(row, row["score"])
        if hit is not None and (hit.label, hit.key) not in seen:
            hits.append(hit)
    return hits[:limit]


def search(graph: Graph, text: str, *, types: list[Label] | None = None,
           limit: int = 20) -> list[SearchHit]:
    """Entities whose names, descriptions or notes match ``text``, best first; one whose
    key is ``text`` exactly comes before them all."""
    if not text or not text.strip():
        raise InvalidInput("text", "must contain at least one word to search for", text)
    if len(text) > 500:
        raise InvalidInput("text", "must be at most 500 characters", text[:40])
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput("first", f"must be between 1 and {MAX_RESULTS}", limit)
    for label in types or []:
        if label not in SEARCHABLE:
            raise InvalidInput("types", "can only name searchable kinds: "
                               + ", ".join(x.value for x in SEARCHABLE), label.value)
    query = lucene_query(text)
    if not query:
        raise InvalidInput("text", "must contain at least one word to search for", text)
    labels = [label.value for label in types] if types else None
    return graph.read(matching, query, labels, limit, text.strip())


#: Labels whose keys are names a person types (not run ids or digests), for "did you mean".
NAMED = (Label.MODEL, Label.DATASET, Label.PERSON, Label.TEAM, Label.EXPERIMENT)
_KEYS = {label: f"MATCH (n:{label.value}) RETURN n.{KEY_PROPERTY[label]} AS key LIMIT $limit"
         for label in NAMED}


def names_like(graph: Graph, label: Label, text: str, *, most: int = 3) -> list[str]:
    """The keys of ``label`` spelled most like ``text`` (a mistyped name's "did you
    mean"), at most ``most``; none for labels whose keys nobody types."""
    if label not in _KEYS:
        return []
    keys = [row["key"] for row in graph.query(_KEYS[label], limit=10_000)]
    return difflib.get_close_matches(text, keys, n=most, cutoff=0.6)


UNDESCRIBED = """
UNWIND $handles AS handle
MATCH (p:Person {handle: handle}) WHERE p.name IS NULL AND p.email IS NULL
RETURN p.handle AS handle ORDER BY handle
"""


def undescribed(graph: Graph, handles: list[str]) -> list[str]:
    """Those of ``handles`` that name a person with neither a name nor an email: someone a
    write created in passing, or a typo for someone who is described."""
    if not handles:
        return []
    return [row["handle"] for row in graph.query(UNDESCRIBED, handles=sorted(set(handles)))]
