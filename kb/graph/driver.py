"""The Neo4j driver's lifecycle, managed transactions and error mapping.

Every unit of work goes through ``Graph.read`` or ``Graph.write`` (the driver's
``execute_read``/``execute_write``: retried on transient faults, so units of work must be
idempotent), or, for a read that is one statement, ``Graph.query`` (an auto-commit
read, retried the same way by ``retried``). Results are consumed inside the transaction and
returned as plain data. Every session and query of a ``Graph`` shares one bookmark
manager, so a read sees the writes this process committed before it, on a cluster too.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Concatenate, LiteralString, ParamSpec, TypeAlias, TypeVar

import neo4j
from neo4j import GraphDatabase, ManagedTransaction
from neo4j import exceptions as neo_exc
from neo4j.time import Date as NeoDate
from neo4j.time import DateTime as NeoDateTime

from kb.errors import GraphUnavailable, KbError, TimeLimitExceeded

from .errors import mapped

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
#: Managed transactions retry transient faults for this long (long enough to outlast the
#: server's restart during ``kb backup`` on a busy machine), the
#: first retry after ``RETRY_FIRST_DELAY`` and each next one twice as late. The driver's
#: own first delay is 1 s; a deadlock (two concurrent writes to shared nodes, which
#: Neo4j settles by failing one) is over in milliseconds, and a second of idle
#: worker per deadlock halved concurrent OpenLineage throughput.
RETRY_SECONDS = 60.0
RETRY_FIRST_DELAY = 0.05
#: A readiness probe asks once and waits this long at most: probes have short timeouts
#: of their own, and "not ready" is the answer while the database does not reply.
PING_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Read:
    """One read statement of a question, and its parameters."""

    statement: LiteralString
    params: dict[str, Any]


Rows: TypeAlias = list[dict[str, Any]]
#: A question, written once for every caller: a generator that yields the reads it needs,
#: is sent each read's rows, and returns the answer. ``Graph.ask`` answers it on the
#: blocking driver (the CLI, the site, Python), ``AsyncGraph.ask`` on the API's event loop.
Question: TypeAlias = Generator[Read, Rows, T]


def answer(question: Question[T], rows_of: Callable[[Read], Rows]) -> T:
    """Run ``question`` to its answer, each read's rows given by ``rows_of``."""
    try:
        read = next(question)
        while True:
            read = question.send(rows_of(read))
    except StopIteration as done:
        return done.value


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


def _dicts(result: neo4j.Result) -> list[dict[str, Any]]:
    """The records as dicts. kb's statements return plain values (no nodes, paths or
    temporal types), so the records' own values are what ``Result.data`` would give,
    without its recursive per-value conversion."""
    keys = result.keys()
    return [dict(zip(keys, record, strict=True)) for record in result]


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
        """``retry_seconds``: how long ``query`` retries, which should match the driver's
        ``max_transaction_retry_time`` (how long ``read`` and ``write`` do)."""
        self._driver = driver
        self.database = database
        #: What ``connect`` was given (uri, user, password), so an async twin can open the
        #: same database (``kb.graph.async_driver``); None for a Graph built on a driver.
        self.connection: tuple[str, str, str] | None = None
        self._schema_ready = False
        self._lock = threading.Lock()
        self.retry_seconds = retry_seconds
        self.round_trips = 0  # units of work run; tests use it to spot N+1 access
        # Each committed transaction leaves its bookmark here and each later session
        # waits for it, so a mutation's answer, or a question asked right after an
        # import, sees that write even when a cluster secondary serves the read.
        self.bookmarks: neo4j.BookmarkManager = GraphDatabase.bookmark_manager()

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
        graph.connection = (uri, user, password)
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
        with kb_errors():
            work = _bounded(work)
        with kb_errors(), self._session() as session:
            if mode == "read":
                return session.execute_read(work, *args, **kw)
            return session.execute_write(work, *args, **kw)

    def query(self, statement: LiteralString, **params: Any) -> list[dict[str, Any]]:
        """One read statement, its records as dicts of the values the driver built.

        An auto-commit read: one network round trip where a managed transaction takes two
        (BEGIN with the statement, then COMMIT), and a third less CPU on both sides for
        the API's one-statement questions. One statement reads one consistent snapshot
        either way. The driver retries only managed transactions, so ``retried`` retries
        this as ``read`` would be. For statements that return plain values, which are kept
        as they are.
        """
        self.count_round_trip()

        def once() -> list[dict[str, Any]]:
            left = _time_left()
            query = statement if left is None else neo4j.Query(statement, timeout=left)
            with self._driver.session(database=self.database, bookmark_manager=self.bookmarks,
                                      default_access_mode=neo4j.READ_ACCESS) as session:
                return _dicts(session.run(query, params))

        with kb_errors():
            return retried(once, self.retry_seconds)

    def ask(self, question: Question[T]) -> T:
        """The answer to ``question``, each of its reads one ``query``."""
        return answer(question, lambda read: self.query(read.statement, **read.params))

    def _session(self) -> neo4j.Session:
        return self._driver.session(database=self.database, bookmark_manager=self.bookmarks)

    def ping(self, timeout: float = PING_SECONDS) -> bool:
        """True when the database answers a trivial query within ``timeout`` seconds,
        asked once (readiness probes: a database that does not answer is not retried
        for)."""
        try:
            with self._driver.session(database=self.database, disable_auto_commit_retries=True,
                                      connection_acquisition_timeout=timeout) as session:
                result = session.run(neo4j.Query("RETURN 1 AS ok", timeout=timeout))
                return result.single(strict=True)["ok"] == 1
        except (neo_exc.Neo4jError, neo_exc.DriverError, OSError):
            return False

    def ensure_schema(self) -> None:
        """Apply constraints and indexes once per process (idempotent on the server too)."""
        if self._schema_ready:
            return
        from .schema import apply_schema

        apply_schema(self)
        self._schema_ready = True


def retry_pauses(seconds: float) -> Iterator[float]:
    """The pauses between attempts at a read, as managed transactions space theirs: from
    ``RETRY_FIRST_DELAY``, jittered, each twice the last, for ``seconds`` after the first
    failure and never past the current time budget."""
    delay, deadline = RETRY_FIRST_DELAY, time.monotonic() + seconds
    while True:
        pause = delay * random.uniform(0.8, 1.2)
        left = _time_left()
        if time.monotonic() + pause >= deadline or (left is not None and pause >= left):
            return
        yield pause
        delay *= 2


def retried(work: Callable[[], T], seconds: float) -> T:
    """``work()``, called again after each failure the driver calls retryable (a lost
    connection, a leader switch, a transient error), paced by ``retry_pauses``. ``work``
    must be safe to repeat (a read)."""
    pauses = retry_pauses(seconds)
    while True:
        try:
            return work()
        except (neo_exc.Neo4jError, neo_exc.DriverError) as exc:
            pause = next(pauses, None) if exc.is_retryable() else None
            if pause is None:
                raise
            log.warning("read failed and will be retried: %s", exc)
            time.sleep(pause)


@contextlib.contextmanager
def kb_errors() -> Iterator[None]:
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
