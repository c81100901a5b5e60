"""One read path: single-statement reads answer plain rows, and the request's time budget
reaches the worker threads the API reads in, where Neo4j stops a read that outlives it."""

from __future__ import annotations

import asyncio

import pytest
from starlette.concurrency import run_in_threadpool

from kb.errors import TimeLimitExceeded
from kb.graph import Graph
from kb.graph.driver import time_budget

# About a hundred million rows: seconds of work for Neo4j, no memory to speak of.
SLOW = ("UNWIND range(1, 10000) AS a UNWIND range(1, 10000) AS b "
        "RETURN count(*) AS n")


def test_a_query_answers_its_records_as_dicts(graph: Graph) -> None:
    before = graph.round_trips
    assert graph.query("UNWIND [1, 2] AS i RETURN i, $x AS x", x="a") == [
        {"i": 1, "x": "a"}, {"i": 2, "x": "a"}]
    assert graph.round_trips == before + 1


def test_a_query_past_its_budget_is_stopped_by_neo4j_and_the_next_one_answers(
        graph: Graph) -> None:
    with time_budget(0.5), pytest.raises(TimeLimitExceeded, match=r"0\.5 s"):
        graph.query(SLOW)
    assert graph.query("RETURN 2 AS ok") == [{"ok": 2}]


def test_a_budget_set_on_the_event_loop_reaches_the_worker_thread(graph: Graph) -> None:
    async def scenario() -> None:
        with time_budget(0.5):
            await run_in_threadpool(graph.query, SLOW)

    with pytest.raises(TimeLimitExceeded, match=r"0\.5 s"):
        asyncio.run(scenario())
