"""The Neo4j driver's lifecycle, managed transactions and error mapping.

Every unit of work goes through ``Graph.read`` or ``Graph.write`` (the driver's
``execute_read``/``execute_write``: retried on transient faults, so units of work must be
idempotent; a read's BEGIN travels with its first statement), or, for the API's
single-statement reads, ``AsyncGraph.read_one`` (an auto-commit read, retried the same
way). Results are consumed inside the transaction and returned as plain data. The
sessions of a ``Graph`` and of its async twin share their bookmarks (``bookmarks.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Concatenate, LiteralString, ParamSpec, TypeVar

import neo4j
from neo4j import AsyncGraphDatabase, GraphDatabase, ManagedTransaction
from neo4j import exceptions as neo_exc
from neo4j.time import Date as NeoDate
from neo4j.time import DateTime as NeoDateTime

from kb.errors import GraphUnavailable, KbError, TimeLimitExceeded

from .bookmarks import Bookmarks
from .errors import mapped

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
#: Managed transactions and auto-commit reads retry transient faults for this long, the
#: first retry after ``RETRY_FIRST_DELAY`` and each next one twice as late. The driver's
#: own first delay is 1 s; a deadlock (two concurrent writes to shared nodes, which
#: Neo4j settles by failing one) is over in milliseconds, and a second of idle
#: worker per deadlock halved concurrent OpenLineage throughput.
RETRY_SECONDS = 30.0
RETRY_FIRST_DELAY = 0.05
#: A readiness probe asks once and waits this long at most: probes have short timeouts
#: of their own, and "not ready" is the answer while the database does not reply.
PING_SECONDS = 2.0
#: How long one API read (every attempt of it) may wait for the database, the time after
#: which Neo4j tells drivers to think a silent connection stale. The async driver would
#: otherwise time each socket read and write on its own (see ``_untimed``).
READ_SECONDS = 120.0


#: When the current request's units of work must end, and its budget in seconds; set by
#: ``time_budget`` and seen by the threads and tasks the request starts (contextvars).
_deadline: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "kb_graph_deadline", default=None)


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Every unit of work started inside the block gets what is left of ``seconds`` as
    its Neo4j transaction timeout, so the server stops it when the budget runs out, and
    none starts after that (``TimeLimitExceeded``)."""
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def _time_left() -> float | None:
    """The seconds left of the current budget (None: no budget); raises when none is."""
    budget = _deadline.get()
    if budget is None:
        return None
    left = budget[0] - time.monotonic()
    if left < 0.001:  # Neo4j counts timeouts in whole milliseconds
        raise TimeLimitExceeded(budget[1])
    return left


def _bounded(work: Callable[..., T]) -> Callable[..., T]:
    """``work`` with the rest of the current budget as its transaction timeout."""
    left = _time_left()
    if left is None:
        return work

    @neo4j.unit_of_work(timeout=left)
    def bounded(tx: ManagedTransaction, *args: Any, **kw: Any) -> T:
        return work(tx, *args, **kw)

    return bounded


def plain(value: Any) -> Any:
    """Neo4j values as plain Python: temporal types become ``datetime``/``date``."""
    if isinstance(value, NeoDateTime):
        return value.to_native()
    if isinstance(value, NeoDate):
        return value.to_native()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value
    return value


class Graph:
    """One driver and one database name; cheap to share between threads."""

    def __init__(self, driver: neo4j.Driver, database: str = "neo4j",
                 retry_seconds: float = RETRY_SECONDS) -> None:
        self._driver = driver
        self.database = database
        self._schema_ready = False
        self._lock = threading.Lock()
        self.round_trips = 0  # units of work run; tests use it to spot N+1 access
        self.connection: tuple[str, tuple[str, str]] | None = None  # (uri, auth) if known
        self.retry_seconds = retry_seconds  # the driver's own budget (see ``connect``)
        self.bookmarks = Bookmarks()  # shared with the async twin
        self._session_kw = {"database": database, "bookmark_manager": self.bookmarks.for_sync()}
        self._session_config = _merged_config(driver, self._session_kw)

    @classmethod
    def connect(cls, uri: str, user: str, password: str, *, database: str = "neo4j",
                retry_seconds: float = RETRY_SECONDS) -> Graph:
        """A driver to ``uri``, checked to answer; a unit of work that meets a transient
        fault (an unreachable database among them) is retried for ``retry_seconds``."""
        try:
            driver = GraphDatabase.driver(
                uri, auth=(user, password), max_connection_pool_size=50, connection_timeout=10,
                notifications_min_severity="OFF", max_transaction_retry_time=retry_seconds,
                initial_retry_delay=RETRY_FIRST_DELAY,
            )
            driver.verify_connectivity()
        except ValueError as exc:  # a URI the driver cannot parse
            raise GraphUnavailable(
                f"cannot reach Neo4j at {uri}: {exc}; run `kb up` or check KB_NEO4J_URI"
            ) from exc
        except (neo_exc.Neo4jError, neo_exc.DriverError, OSError) as exc:
            raise mapped(exc, neo4j=f"Neo4j at {uri}") or GraphUnavailable(str(exc)) from exc
        graph = cls(driver, database, retry_seconds)
        graph.connection = (uri, (user, password))
        return graph

    def count_round_trip(self) -> None:
        with self._lock:
            self.round_trips += 1

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(
        self, work: Callable[Concatenate[ManagedTransaction, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        return self._run("read", work, *args, **kw)

    def write(
        self, work: Callable[Concatenate[ManagedTransaction, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        return self._run("write", work, *args, **kw)

    def _run(self, mode: str, work: Callable[..., T], *args: Any, **kw: Any) -> T:
        self.count_round_trip()
        with _kb_errors():
            work = _bounded(work)
        with (_kb_errors(), self._session() as session,
              _begin_with_first_statement(session)):
            if mode == "read":
                return session.execute_read(work, *args, **kw)
            return session.execute_write(work, *args, **kw)

    def _session(self) -> neo4j.Session:
        config = self._session_config
        if config is None:
            return self._driver.session(**self._session_kw)
        return self._driver._session(copy.copy(config))  # type: ignore[attr-defined]

    def ping(self) -> bool:
        """True when the database answers a trivial query, asked once (readiness probes:
        a database that does not answer is not retried for)."""
        try:
            with self._session() as session:
                return session.run("RETURN 1 AS ok").single(strict=True)["ok"] == 1
        except (neo_exc.Neo4jError, neo_exc.DriverError, OSError):
            return False

    def ensure_schema(self) -> None:
        """Apply constraints and indexes once per process (idempotent on the server too)."""
        if self._schema_ready:
            return
        from .schema import apply_schema

        apply_schema(self)
        self._schema_ready = True


class AsyncGraph:
    """The async twin of ``Graph`` for the API's single-statement reads: the same
    database, retried reads with the same error mapping, awaited on the event loop instead
    of holding a worker thread per read. Round trips are counted on the sync ``Graph`` it
    twins, so one counter sees every unit of work. Bound to the event loop that opened
    it."""

    def __init__(self, driver: neo4j.AsyncDriver, graph: Graph) -> None:
        self._driver = driver
        self.graph = graph
        self.database = graph.database
        self._session_kw = {"database": self.database,
                            "bookmark_manager": graph.bookmarks.for_async()}
        self._auto_kw = {**self._session_kw, "default_access_mode": neo4j.READ_ACCESS}
        self._session_config = _merged_config(driver, self._session_kw)
        self._auto_config = _merged_config(driver, self._auto_kw)
        self.read_seconds = READ_SECONDS

    def _session(self, auto_commit: bool = False) -> neo4j.AsyncSession:
        """A session on ``database``; each gets its own copy of the merged configuration,
        as ``driver.session()`` would build (a driver without the hooks builds it). An
        auto-commit session reads in READ mode, as ``execute_read`` does."""
        config = self._auto_config if auto_commit else self._session_config
        if config is None:
            return self._driver.session(**(self._auto_kw if auto_commit else self._session_kw))
        return self._driver._session(copy.copy(config))  # type: ignore[attr-defined]

    @classmethod
    def twin(cls, graph: Graph) -> AsyncGraph:
        """An async driver to the database ``graph`` was connected to (no I/O yet: the
        first read connects, and reports an unreachable database as ``graph`` would)."""
        if graph.connection is None:
            raise GraphUnavailable("the graph was not opened with Graph.connect")
        uri, auth = graph.connection
        driver = AsyncGraphDatabase.driver(
            uri, auth=auth, max_connection_pool_size=50, connection_timeout=10,
            notifications_min_severity="OFF", max_transaction_retry_time=graph.retry_seconds,
            initial_retry_delay=RETRY_FIRST_DELAY,
        )
        return cls(driver, graph)

    async def close(self) -> None:
        await self._driver.close()

    async def read_one(self, statement: LiteralString, **params: Any
                       ) -> list[dict[str, Any]]:
        """One read statement in an auto-commit transaction, its records as dicts.

        One network round trip (RUN and PULL together) where a managed transaction takes
        two (BEGIN, RUN and PULL, then COMMIT), and fewer awaits of the driver's per-read
        machinery (a third fewer socket waits for whoTrained). A single statement reads one
        consistent snapshot either way. Failures the driver calls retryable (a lost connection, a
        leader switch, a transient error) are retried with jittered exponential backoff for
        as long as managed transactions are (``Graph.retry_seconds``); a read is safe to
        repeat. All attempts together are given ``read_seconds`` (``GRAPH_UNAVAILABLE``
        after that). The statement must return only plain values (the records' values are
        kept as they are).
        """
        self.graph.count_round_trip()
        with _kb_errors():
            try:
                async with asyncio.timeout(self.read_seconds):
                    return await self._read_one(statement, params)
            except TimeoutError:
                raise self._gave_up() from None

    async def _read_one(self, statement: LiteralString, params: dict[str, Any]
                        ) -> list[dict[str, Any]]:
        deadline, delay = None, RETRY_FIRST_DELAY
        while True:
            try:
                left = _time_left()
                query = statement if left is None else neo4j.Query(statement, timeout=left)
                async with self._session(auto_commit=True) as session:
                    result = await session.run(query, params)
                    _untimed(session)
                    keys = result.keys()
                    return [dict(zip(keys, record, strict=True)) async for record in result]
            except (neo_exc.Neo4jError, neo_exc.DriverError) as exc:
                if not exc.is_retryable():
                    raise
                now = time.monotonic()
                deadline = deadline or now + self.graph.retry_seconds
                if now + delay >= deadline:
                    raise
                log.warning("read failed and will be retried: %s", exc)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay *= 2

    def _gave_up(self) -> GraphUnavailable:
        """What a read that ran out of ``read_seconds`` reports (the driver drops the
        connection of a read cancelled mid-way)."""
        return GraphUnavailable(f"Neo4j did not answer a read within {self.read_seconds:g} s")

    async def ping(self, timeout: float = PING_SECONDS) -> bool:
        """True when the database answers a trivial query within ``timeout`` seconds, asked
        once (readiness probes: a database that does not answer is not retried for)."""
        try:
            async with asyncio.timeout(timeout), self._session(auto_commit=True) as session:
                result = await session.run("RETURN 1 AS ok")
                return (await result.single(strict=True))["ok"] == 1
        except (TimeoutError, neo_exc.Neo4jError, neo_exc.DriverError, OSError):
            return False


def _untimed(session: neo4j.AsyncSession) -> None:
    """Drop the per-operation socket timeouts of the connection ``session`` holds, for the
    rest of its life in the pool. The async driver enforces them (Neo4j's hint of 120 s
    for reads, its own 30 s for writes) by running each socket read and write as a task
    with a timer, about a quarter of the CPU of a small read; ``AsyncGraph`` bounds each
    read as a whole instead. A connection the driver does not expose keeps its timeouts."""
    socket = getattr(getattr(session, "_connection", None), "socket", None)
    if socket is not None and hasattr(socket, "set_read_timeout"):
        socket.set_read_timeout(None)
        socket.set_write_timeout(None)


def _merged_config(driver: neo4j.Driver | neo4j.AsyncDriver, config: dict[str, Any]
                   ) -> Any | None:
    """A session configuration merged with the driver's defaults once, or None when the
    driver lacks the hooks: ``driver.session()`` merges it again for every session, a few
    percent of a small API request or lineage write. Each session gets its own copy."""
    merge = getattr(driver, "_read_session_config", None)
    if merge is None or not hasattr(driver, "_session"):
        return None
    return merge(config)


@contextlib.contextmanager
def _kb_errors() -> Iterator[None]:
    """Driver failures raised inside the block leave it as the kb errors they mean."""
    try:
        yield
    except KbError:
        raise
    except Exception as exc:
        mapped = _mapped(exc)
        if mapped is None:
            raise
        raise mapped from exc


def _mapped(exc: Exception) -> KbError | None:
    """The kb error a driver failure means (the same for sync and async units of work),
    or None for anything that is not the database's doing (see ``errors.TABLE``)."""
    budget = _deadline.get()
    return mapped(exc, budget=budget[1] if budget else None)


def _begin_with_first_statement(session: neo4j.Session | neo4j.AsyncSession
                                ) -> AbstractContextManager[Any]:
    """Send a transaction's BEGIN together with its first statement instead of on its own:
    one network round trip fewer per transaction, as the driver's own ``execute_query``
    does for reads and writes with the same switch (a managed, retried transaction all
    the same; a BEGIN that fails is reported by the first statement). A driver without
    the switch sends BEGIN alone."""
    switch = getattr(session, "_pipelined_begin", None)
    return switch if switch is not None else contextlib.nullcontext()
