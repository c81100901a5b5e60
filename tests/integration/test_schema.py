"""The schema is applied by every process that opens the graph, often several at once."""

from __future__ import annotations

import pytest
from together import run_together

from kb.graph import Graph
from kb.graph.schema import FULLTEXT_INDEX, SCHEMA_VERSION, apply_schema, schema_version


def _indexes(graph: Graph) -> set[str]:
    with graph._driver.session(database=graph.database) as session:
        return {r["name"] for r in session.run("SHOW INDEXES YIELD name")}


def test_processes_applying_the_schema_at_once_all_succeed(
        graph: Graph, request: pytest.FixtureRequest) -> None:
    # The schema is applied once per session: whatever happens here, later tests get it back.
    request.addfinalizer(lambda: apply_schema(graph))
    with graph._driver.session(database=graph.database) as session:
        session.run(f"DROP INDEX {FULLTEXT_INDEX}").consume()
    assert FULLTEXT_INDEX not in _indexes(graph)

    errors = run_together(lambda: apply_schema(graph), 4)

    assert errors == []
    assert FULLTEXT_INDEX in _indexes(graph)
    assert schema_version(graph) == SCHEMA_VERSION
