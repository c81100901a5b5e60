"""The schema is applied by every process that opens the graph, often several at once."""

from __future__ import annotations

import threading

from kb.graph import Graph
from kb.graph.schema import FULLTEXT_INDEX, SCHEMA_VERSION, apply_schema, schema_version


def _indexes(graph: Graph) -> set[str]:
    with graph._driver.session(database=graph.database) as session:
        return {r["name"] for r in session.run("SHOW INDEXES YIELD name")}


def test_processes_applying_the_schema_at_once_all_succeed(graph: Graph) -> None:
    with graph._driver.session(database=graph.database) as session:
        session.run(f"DROP INDEX {FULLTEXT_INDEX}").consume()
    assert FULLTEXT_INDEX not in _indexes(graph)

    start, errors = threading.Barrier(4), []

    def apply() -> None:
        start.wait()
        try:
            apply_schema(graph)
        except Exception as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=apply) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert FULLTEXT_INDEX in _indexes(graph)
    assert schema_version(graph) == SCHEMA_VERSION
