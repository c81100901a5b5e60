"""Fixtures over the real Neo4j that tests/conftest.py starts once per session."""

from __future__ import annotations

import pytest

from kb.graph import Graph
from kb.ingest import Client


@pytest.fixture
def graph(clean_db, session_graph: Graph) -> Graph:
    """The session's ``Graph`` (schema applied once) on an emptied database."""
    return session_graph


@pytest.fixture
def client(graph: Graph) -> Client:
    """The write path as the SDK uses it, acting as ``tester``."""
    return Client(graph, actor="tester", default_person="tester")

