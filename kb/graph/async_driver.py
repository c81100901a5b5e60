"""The API's reads on its event loop: ``AsyncGraph`` answers the same questions as
``Graph.ask``, through the driver's async API.

A worker thread per read (``run_in_threadpool`` around the blocking driver) cost the API
about half again the CPU of a small question, spent handing work between the loop and the
thread; awaiting the async driver on the loop costs none of that. Each read is an
auto-commit read in READ mode (one round trip), retried as ``Graph.query`` is
(``retry_pauses``), within the request's time budget. Public driver API only;
``KB_API_ASYNC_READS=false`` makes the API answer in worker threads instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, LiteralString, TypeVar

import neo4j
from neo4j import AsyncGraphDatabase
from neo4j import exceptions as neo_exc

from .driver import Graph, Question, Rows, _time_left, kb_errors, retry_pauses

log = logging.getLogger(__name__)

T = TypeVar("T")


class AsyncGraph:
    """An async driver to the database a ``Graph`` was connected to, sharing its bookmarks
    (a read sees what this process wrote) and its round-trip counter. Bound to the event
    loop that opened it."""

    def __init__(self, driver: neo4j.AsyncDriver, graph: Graph) -> None:
        self._driver = driver
        self.graph = graph
        self.reads = 0  # tests use it to see which path a request took

    @classmethod
    def twin(cls, graph: Graph) -> AsyncGraph | None:
        """The async twin of ``graph``, or None for a Graph built on a driver of its own
        (its callers answer in worker threads). No I/O until the first read."""
        if graph.connection is None:
            return None
        uri, user, password = graph.connection
        driver = AsyncGraphDatabase.driver(
            uri, auth=(user, password), max_connection_pool_size=50, connection_timeout=10,
            notifications_min_severity="OFF")
        return cls(driver, graph)

    async def close(self) -> None:
        await self._driver.close()

    async def query(self, statement: LiteralString, **params: Any) -> Rows:
        """``Graph.query`` on the event loop: one auto-commit read, its records as dicts."""
        self.graph.count_round_trip()
        self.reads += 1

        async def once() -> Rows:
            left = _time_left()
            query = statement if left is None else neo4j.Query(statement, timeout=left)
            async with self._driver.session(
                    database=self.graph.database, bookmark_manager=self.graph.bookmarks,
                    default_access_mode=neo4j.READ_ACCESS) as session:
                result = await session.run(query, params)
                keys = result.keys()
                return [dict(zip(keys, record, strict=True)) async for record in result]

        with kb_errors():
            return await _retried(once, self.graph.retry_seconds)

    async def ask(self, question: Question[T]) -> T:
        """The answer to ``question``, each of its reads one ``query``."""
        try:
            read = next(question)
            while True:
                read = question.send(await self.query(read.statement, **read.params))
        except StopIteration as done:
            return done.value


async def _retried(work: Callable[[], Awaitable[T]], seconds: float) -> T:
    """``driver.retried`` for a coroutine: the same failures, the same pauses."""
    pauses = retry_pauses(seconds)
    while True:
        try:
            return await work()
        except (neo_exc.Neo4jError, neo_exc.DriverError) as exc:
            pause = next(pauses, None) if exc.is_retryable() else None
            if pause is None:
                raise
            log.warning("read failed and will be retried: %s", exc)
            await asyncio.sleep(pause)
