"""Fixtures over the real Neo4j that tests/conftest.py starts once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb.config import Config
from kb.graph import Graph
from kb.ingest import Client
from kb.localdb import start, stop


@pytest.fixture
def graph(clean_db, session_graph: Graph) -> Graph:
    """The session's ``Graph`` (schema applied once) on an emptied database."""
    return session_graph


@pytest.fixture
def client(graph: Graph) -> Client:
    """The write path as the SDK uses it, acting as ``tester``."""
    return Client(graph, actor="tester", default_person="tester")


@pytest.fixture(scope="session")
def own_server(new_local_config) -> Iterator[Config]:
    """A local Neo4j apart from the session's, for the tests that stop, kill, back up and
    restore one (test_backup, test_crash_safety, test_localdb): it starts once for all of
    them, as each start costs seconds of CPU. A test may leave it stopped or killed: the
    others start it (``kb.localdb.start``) before they use it."""
    config = new_local_config(neo4j_heap="512m", neo4j_pagecache="64m")
    start(config)
    try:
        yield config
    finally:
        stop(config)
