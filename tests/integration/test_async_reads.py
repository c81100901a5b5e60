"""The API's async reads: each is bounded as a whole, and one given up costs only itself."""

from __future__ import annotations

import asyncio
import time

import pytest

from kb.errors import GraphUnavailable
from kb.graph import Graph
from kb.graph.driver import AsyncGraph

# A million million rows: hours of work for Neo4j, no memory to speak of, so a read of it
# that comes back at all was given up.
ENDLESS = ("UNWIND range(1, 1000000) AS a UNWIND range(1, 1000000) AS b "
           "RETURN count(*) AS endless")
RUNNING = ("SHOW TRANSACTIONS YIELD transactionId, currentQuery "
           "WHERE currentQuery CONTAINS 'AS endless' AND NOT currentQuery CONTAINS 'SHOW' "
           "RETURN transactionId AS id")
#: Only stops a hung test.
HANG = 60.0


def _running(graph: Graph) -> list[str]:
    return graph.read(lambda tx: [r["id"] for r in tx.run(RUNNING)])


def test_a_read_past_its_bound_is_unavailable_and_the_next_one_answers(graph: Graph) -> None:
    async def scenario() -> tuple[list[str], list[dict]]:
        aio = AsyncGraph.twin(graph)
        try:
            assert await aio.read_one("RETURN 1 AS ok") == [{"ok": 1}]
            aio.read_seconds = 0.2
            messages = []
            with pytest.raises(GraphUnavailable) as one:
                try:
                    await asyncio.wait_for(aio.read_one(ENDLESS), HANG)
                except TimeoutError:
                    pytest.fail("the read past its bound was waited for, not given up")
            messages.append(one.value.message)
            aio.read_seconds = 30
            return messages, await aio.read_one("RETURN 2 AS ok")
        finally:
            await aio.close()

    try:
        messages, after = asyncio.run(scenario())
        assert messages == ["Neo4j did not answer a read within 0.2 s"]
        assert after == [{"ok": 2}]
        deadline = time.monotonic() + HANG
        while _running(graph):  # the read given up no longer runs in Neo4j either
            assert time.monotonic() < deadline, "Neo4j still runs the read given up"
            time.sleep(0.2)
    finally:
        for tx_id in _running(graph):  # never leave hours of work behind a failure
            graph.write(lambda tx, i=tx_id: tx.run("TERMINATE TRANSACTION $id", id=i).consume())
