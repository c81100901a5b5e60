"""Fixtures over the real Neo4j that tests/conftest.py starts once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb.graph import Graph
from kb.ingest import Client


@pytest.fixture
def graph(clean_db) -> Iterator[Graph]:
    """A ``Graph`` on an emptied database, with the schema applied."""
    g = Graph.connect(clean_db.uri, clean_db.user, clean_db.password,
                      database=clean_db.database)
    g.ensure_schema()
    yield g
    g.close()


@pytest.fixture
def client(graph: Graph) -> Client:
    """The write path as the SDK uses it, acting as ``tester``."""
    return Client(graph, actor="tester", default_person="tester")

