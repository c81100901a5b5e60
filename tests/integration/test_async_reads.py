"""The API's async reads: each is bounded as a whole, and one given up costs only itself."""

from __future__ import annotations

import asyncio
import time

import pytest

from kb.errors import GraphUnavailable
from kb.graph import Graph
from kb.graph.driver import AsyncGraph

# About a hundred million rows: seconds of work for Neo4j, no memory to speak of.
SLOW = ("UNWIND range(1, 10000) AS a UNWIND range(1, 10000) AS b "
        "RETURN count(*) AS n")


def test_a_read_past_its_bound_is_unavailable_and_the_next_one_answers(graph: Graph) -> None:
    async def scenario() -> tuple[list[str], float, list[dict]]:
        aio = AsyncGraph.twin(graph)
        try:
            assert await aio.read_one("RETURN 1 AS ok") == [{"ok": 1}]
            aio.read_seconds = 0.2
            messages = []
            started = time.monotonic()
            with pytest.raises(GraphUnavailable) as one:
                await aio.read_one(SLOW)
            messages.append(one.value.message)
            elapsed = time.monotonic() - started
            aio.read_seconds = 30
            return messages, elapsed, await aio.read_one("RETURN 2 AS ok")
        finally:
            await aio.close()

    messages, elapsed, after = asyncio.run(scenario())
    assert messages == ["Neo4j did not answer a read within 0.2 s"]
    assert elapsed < 5  # given up, not waited out
    assert after == [{"ok": 2}]
