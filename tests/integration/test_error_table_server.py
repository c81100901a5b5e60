"""The error table against the real server: what Neo4j answers leaves kb.graph as kb's
errors, and an unexpected one keeps the server's code but not the statement."""

from __future__ import annotations

import pytest
from neo4j import ManagedTransaction

from kb.errors import Conflict, GraphError, GraphUnavailable
from kb.graph import Graph

SECRET = "hunter2-in-a-statement"


def test_a_statement_the_server_refuses_is_a_graph_error_without_its_text(graph: Graph
                                                                          ) -> None:
    def broken(tx: ManagedTransaction) -> None:
        tx.run(f"RETURN '{SECRET}' +").consume()

    with pytest.raises(GraphError) as err:
        graph.read(broken)
    assert err.value.server_code == "Neo.ClientError.Statement.SyntaxError"
    assert err.value.server_code in err.value.message
    assert SECRET not in err.value.message and "RETURN" not in err.value.message


def test_a_broken_uniqueness_constraint_is_a_conflict(graph: Graph) -> None:
    def twice(tx: ManagedTransaction) -> None:
        tx.run("CREATE (:Person {handle: $h}) CREATE (:Person {handle: $h})", h="ada").consume()

    with pytest.raises(Conflict, match="ada"):
        graph.write(twice)


def test_a_database_that_does_not_exist_names_the_setting(clean_db) -> None:
    graph = Graph.connect(clean_db.uri, clean_db.user, clean_db.password,
                          database="nosuchdb", retry_seconds=1)
    with graph, pytest.raises(GraphUnavailable, match="KB_NEO4J_DATABASE"):
        graph.ensure_schema()
