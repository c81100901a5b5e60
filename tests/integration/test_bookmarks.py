"""A Graph's sessions and its async twin's share bookmarks (causal reads on a cluster)."""

from __future__ import annotations

import asyncio

import pytest

from kb.graph import Graph
from kb.graph.bookmarks import Bookmarks
from kb.graph.driver import AsyncGraph


def test_bookmarks_keep_what_supersedes_the_previous_ones() -> None:
    marks = Bookmarks()
    marks.update([], ["a"])
    marks.update(["a"], ["b"])  # began after a, committed as b
    marks.update([], ["c"])  # began before b committed
    marks.update(["c"], [])  # a read that returned nothing new changes nothing
    assert marks.get() == {"b", "c"}


def test_every_session_starts_from_the_writes_before_it(graph: Graph,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[frozenset[str]] = []
    get = Bookmarks.get

    def spy(self: Bookmarks) -> frozenset[str]:
        given.append(get(self))
        return given[-1]

    monkeypatch.setattr(Bookmarks, "get", spy)
    graph.write(lambda tx: tx.run("CREATE (:Person {handle: 'bm'})").consume())
    written = graph.bookmarks.get()
    assert written and written != given[0]  # the write left its own bookmark

    given.clear()
    assert graph.read(lambda tx: tx.run(
        "MATCH (p:Person {handle: 'bm'}) RETURN count(p) AS n").single()["n"]) == 1
    assert given and given[0] == written

    async def read_async() -> list[dict]:
        aio = AsyncGraph.twin(graph)
        try:
            return await aio.read_one("MATCH (p:Person {handle: 'bm'}) RETURN p.handle AS h")
        finally:
            await aio.close()

    current = get(graph.bookmarks)
    given.clear()
    assert asyncio.run(read_async()) == [{"h": "bm"}]
    assert current and given and given[0] == current  # the async twin shares them
