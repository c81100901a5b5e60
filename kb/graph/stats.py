"""Whole-graph figures: how much of each kind there is, and how deep lineage runs.

Used by ``kb demo`` to report what it loaded, by the ingest benchmark to show that two
write paths produced the same graph, and by tests as a fingerprint of a graph's shape.
"""

from __future__ import annotations

import hashlib
import json

from neo4j import ManagedTransaction

from kb.domain import Label, Rel

from .driver import Graph, plain

NODES_PER_LABEL = """
MATCH (n)
UNWIND labels(n) AS label
RETURN label, count(*) AS count
"""

RELATIONSHIPS_PER_TYPE = """
MATCH ()-[r]->()
RETURN type(r) AS type, count(*) AS count
"""

# The longest chain of dataset versions each derived from the one before through a run
# (raw -> cleaned -> features -> training set ...), counted in derivation hops. Only
# chains that start at a version derived from nothing are followed, and the length is
# capped so a cycle written by mistake cannot make the query run away.
DEEPEST_DERIVATION = """
MATCH (root:DatasetVersion)
WHERE NOT EXISTS { (root)<-[:PRODUCED]-(:Run)-[:USED]->(:DatasetVersion) }
MATCH p = (root) ((:DatasetVersion)<-[:USED]-(:Run)-[:PRODUCED]->(:DatasetVersion)){1,20}
          (leaf:DatasetVersion)
WITH p, leaf ORDER BY length(p) DESC, leaf.key LIMIT 1
RETURN length(p) / 2 AS hops, [n IN nodes(p) WHERE n:DatasetVersion | n.key] AS chain
"""


_LABELS = frozenset(label.value for label in Label)
_TYPES = frozenset(rel.value for rel in Rel)


# Every node and relationship with all its properties, endpoints named by natural key
# (the key property of each label, in an order where no label has an earlier one).
ALL_NODES = """
MATCH (n)
WHERE NOT n:KbMeta
RETURN labels(n) AS labels, properties(n) AS props
"""

ALL_RELATIONSHIPS = """
MATCH (a)-[r]->(b)
RETURN type(r) AS type, properties(r) AS props,
       labels(a) AS aLabels, coalesce(a.key, a.handle, a.id, a.digest, a.name) AS a,
       labels(b) AS bLabels, coalesce(b.key, b.handle, b.id, b.digest, b.name) AS b
"""


def _counts(tx: ManagedTransaction, everything: bool = False) -> dict[str, int]:
    nodes = {r["label"]: r["count"] for r in tx.run(NODES_PER_LABEL)
             if everything or r["label"] in _LABELS}
    rels = {r["type"]: r["count"] for r in tx.run(RELATIONSHIPS_PER_TYPE)
            if everything or r["type"] in _TYPES}
    return {**dict(sorted(nodes.items())), **dict(sorted(rels.items()))}


def counts(graph: Graph) -> dict[str, int]:
    """Nodes per label and relationships per type of kb's graph model, in one read.

    Labels are CamelCase and relationship types UPPER_CASE, so one flat mapping holds both
    without ambiguity; kb's own bookkeeping nodes (the schema version) are left out.
    """
    return graph.read(_counts)


def stored_counts(graph: Graph) -> dict[str, int]:
    """Nodes per label and relationships per type of everything stored, change records and
    bookkeeping included (what a backup holds)."""
    return graph.read(_counts, True)


def _deepest(tx: ManagedTransaction) -> tuple[int, list[str]]:
    record = tx.run(DEEPEST_DERIVATION).single()
    if record is None:
        return 0, []
    return int(record["hops"]), list(record["chain"])


def deepest_derivation(graph: Graph) -> tuple[int, list[str]]:
    """The number of hops of the longest derivation chain, and its dataset version keys."""
    return graph.read(_deepest)


def _fingerprint(tx: ManagedTransaction) -> str:
    nodes = sorted(_canonical([sorted(r["labels"]), r["props"]]) for r in tx.run(ALL_NODES))
    rels = sorted(_canonical([r["type"], r["props"], sorted(r["aLabels"]), r["a"],
                              sorted(r["bLabels"]), r["b"]]) for r in tx.run(ALL_RELATIONSHIPS))
    digest = hashlib.sha256()
    for line in (*nodes, "--", *rels):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(plain(value), sort_keys=True, default=str, separators=(",", ":"))


def fingerprint(graph: Graph) -> str:
    """A digest of every node and relationship with all their properties.

    Two graphs with the same fingerprint hold the same facts, timestamps included; meant
    for checking that a repeated load changed nothing, on graphs of demo size.
    """
    return graph.read(_fingerprint)
