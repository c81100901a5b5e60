"""The shared test set-up: one real Neo4j for the whole session.

With ``KB_NEO4J_URI`` set the tests use that server (and wipe it!). Otherwise the set-up
starts a local one through ``kb.localdb`` in a throw-away home on a free port, with the
Maven/javac cache shared through ``~/.kb/cache`` so that Neo4j is fetched once per machine.
If it cannot start, every test that needs it errors: integration tests never skip.
The local server starts in a thread as soon as the tests are collected, while the unit
tests (run first) go on. With ``KB_TEST_NEO4J_HOME`` set (``scripts/test.sh --fast`` sets
it), the server in that home is used, started if it is not running, and left running: a
warm server answers the same tests in well under the time a fresh one takes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from kb.config import Config
from kb.graph import Graph
from kb.localdb import Connection, cache_dir, start, stop

TESTS_DIR = Path(__file__).parent
INTEGRATION_DIR = TESTS_DIR / "integration"
SHARED_CACHE = Path.home() / ".kb" / "cache"


#: Files whose every test is ``slow`` (left out of ``scripts/test.sh --fast``), and why;
#: a single slow test elsewhere carries ``@pytest.mark.slow`` itself.
SLOW_FILES = {
    "integration/test_api_conformance.py": "runs kb serve and the npm audit",
    "integration/test_api_serve_workers.py": "runs kb serve with workers",
    "integration/test_backup.py": "stops and starts Neo4j servers of its own",
    "integration/test_crash_safety.py": "kills and restarts Neo4j servers of its own",
    "integration/test_docs_hostile.py": "builds a site and drives a browser",
    "integration/test_docs_site.py": "builds sites with mkdocs",
    "integration/test_localdb.py": "starts and stops Neo4j servers of its own",
    "integration/test_mlflow.py": "writes MLflow stores and imports them",
    "integration/test_mlflow_read_only.py": "writes stores with a second MLflow venv",
    "integration/test_openlineage.py": "serves the API on uvicorn, and replays files by CLI",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gone = sorted(name for name in SLOW_FILES if not (TESTS_DIR / name).is_file())
    if gone:  # a renamed file would silently join the fast lane
        raise pytest.UsageError(f"tests/conftest.py SLOW_FILES names missing files: {gone}")
    slow = {TESTS_DIR / name for name in SLOW_FILES}
    for item in items:
        path = Path(item.path)
        if INTEGRATION_DIR in path.parents:
            item.add_marker(pytest.mark.integration)
        if path in slow:
            item.add_marker(pytest.mark.slow)
    # Unit tests first (a stable sort keeps each group's order), while Neo4j starts.
    items.sort(key=lambda item: INTEGRATION_DIR in Path(item.path).parents)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the session's local Neo4j now, in a thread, when a selected test may need it
    (``pytest_collection_modifyitems`` runs before ``-m`` deselects)."""
    wanted = any(INTEGRATION_DIR in Path(item.path).parents for item in session.items)
    if wanted and not Config.from_env().neo4j_uri and not session.config.option.collectonly:
        _SERVER.begin()


class _Server:
    """The session's local Neo4j, started early in a thread of its own."""

    def __init__(self) -> None:
        self.config: Config | None = None
        self.started: Future[Connection] | None = None
        self.kept = False

    def begin(self) -> None:
        kept = os.environ.get("KB_TEST_NEO4J_HOME")
        self.kept = bool(kept)
        home = Path(kept).resolve() if kept else Path(tempfile.mkdtemp(prefix="kb-test-home-"))
        self.config = local_config(home)
        self.started = ThreadPoolExecutor(1, thread_name_prefix="neo4j-start").submit(
            start, self.config)

    def end(self) -> None:
        """Stop the server (once), after its start finished either way."""
        if self.config is None or self.kept:
            return
        if self.started is not None:
            with contextlib.suppress(Exception):  # the fixture reports a failed start
                self.started.result()
        stop(self.config)
        shutil.rmtree(self.config.home, ignore_errors=True)
        self.config = None


_SERVER = _Server()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A session that ends before any test asked for the server (``-x`` on a unit test,
    Ctrl-C) stops it too."""
    _SERVER.end()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_config(home: Path, **overrides: object) -> Config:
    """A Config for a throw-away local server under ``home`` on a free port.

    ``<home>/cache`` links to the machine's ``~/.kb/cache``, so Maven and javac run once.
    """
    home.mkdir(parents=True, exist_ok=True)
    SHARED_CACHE.mkdir(parents=True, exist_ok=True)
    config = Config(home=home, neo4j_port=free_port(), neo4j_start_timeout=300)
    link = cache_dir(config)
    if not link.exists():
        link.symlink_to(SHARED_CACHE, target_is_directory=True)
    return dataclasses.replace(config, **overrides)


@pytest.fixture(scope="session")
def new_local_config(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Config]:
    """Makes Configs for extra local servers, each in its own home (stop them yourself)."""

    def make(**overrides: object) -> Config:
        return local_config(tmp_path_factory.mktemp("kb-home"), **overrides)

    return make


@pytest.fixture(scope="session")
def neo4j_conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """The session's Neo4j; fails (never skips) when it cannot be started."""
    env = Config.from_env()
    if env.neo4j_uri:
        yield start(env)
        return
    if _SERVER.started is not None:
        try:
            yield _SERVER.started.result()  # raises what start raised
        finally:
            _SERVER.end()
        return
    config = local_config(tmp_path_factory.mktemp("kb-home"))
    conn = start(config)  # raises LocalDbError with the fix when it cannot start
    try:
        yield conn
    finally:
        stop(config)


#: Every node but the schema's version record: the constraints, indexes and that record
#: are applied once per session (``session_graph``) and stay.
WIPE = ("MATCH (n) WHERE NOT n:KbMeta "
        "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")


@pytest.fixture(scope="session")
def session_graph(neo4j_conn: Connection) -> Iterator[Graph]:
    """One ``Graph`` for the session, with the schema applied once."""
    graph = Graph.connect(neo4j_conn.uri, neo4j_conn.user, str(neo4j_conn.password),
                          database=neo4j_conn.database)
    try:
        graph.ensure_schema()
        yield graph
    finally:
        graph.close()


@pytest.fixture(scope="session")
def _wiper(neo4j_conn: Connection, session_graph: Graph) -> Iterator[Callable[[], None]]:
    """Empties the session's database; ``CALL ... IN TRANSACTIONS`` needs an auto-commit
    session, which ``Graph`` does not offer."""
    with GraphDatabase.driver(
        neo4j_conn.uri, auth=(neo4j_conn.user, str(neo4j_conn.password))
    ) as driver:

        def wipe() -> None:
            with driver.session(database=neo4j_conn.database) as session:
                session.run(WIPE).consume()

        yield wipe


@pytest.fixture
def clean_db(neo4j_conn: Connection, _wiper: Callable[[], None]) -> Connection:
    """The session's Neo4j with every node deleted first; the schema stays applied."""
    _wiper()
    return neo4j_conn


@pytest.fixture
def kb_env(
    neo4j_conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Environment for code under test that builds its own ``Config.from_env()``."""
    monkeypatch.setenv("KB_NEO4J_URI", neo4j_conn.uri)
    monkeypatch.setenv("KB_NEO4J_USER", neo4j_conn.user)
    monkeypatch.setenv("KB_NEO4J_PASSWORD", str(neo4j_conn.password))
    monkeypatch.setenv("KB_NEO4J_DATABASE", neo4j_conn.database)
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    yield tmp_path
