"""Where a live importer resumes: one ``(:KbMeta {id})`` node per source it follows.

The state is the importer's own JSON text (``state``), read at the start of a pass and
replaced, in a transaction of its own, only after the pass's writes committed: a pass
that dies half-way leaves the old cursor, and the next one reads (and idempotently
writes) that stretch again instead of skipping it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction

from .driver import Graph

READ = "MATCH (m:KbMeta {id: $id}) RETURN m.state AS state"

SAVE = """
MERGE (m:KbMeta {id: $id})
ON CREATE SET m.createdAt = datetime($now)
SET m.state = $state, m.source = $source, m.updatedAt = datetime($now),
    m.passes = coalesce(m.passes, 0) + 1
"""

DROP = "MATCH (m:KbMeta {id: $id}) DELETE m"


def _read(tx: ManagedTransaction, cursor_id: str) -> str | None:
    record = tx.run(READ, id=cursor_id).single()
    return None if record is None else record["state"]


def load(graph: Graph, cursor_id: str) -> dict[str, Any] | None:
    """The cursor's state, or None before the first pass."""
    text = graph.read(_read, cursor_id)
    return None if text is None else json.loads(text)


def _save(tx: ManagedTransaction, cursor_id: str, state: str, source: str, now: str) -> None:
    tx.run(SAVE, id=cursor_id, state=state, source=source, now=now)


def save(graph: Graph, cursor_id: str, state: dict[str, Any], *, source: str) -> None:
    """Replace the cursor; ``source`` says what it follows, as people may read it."""
    text = json.dumps(state, sort_keys=True, separators=(",", ":"))
    graph.write(_save, cursor_id, text, source, datetime.now(UTC).isoformat())


def _drop(tx: ManagedTransaction, cursor_id: str) -> None:
    tx.run(DROP, id=cursor_id)


def drop(graph: Graph, cursor_id: str) -> None:
    """Forget the cursor: the next pass reads the whole source again."""
    graph.write(_drop, cursor_id)
