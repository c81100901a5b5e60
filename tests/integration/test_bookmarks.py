"""Every session and query of a Graph shares one bookmark manager (causal reads on a
cluster): each starts from the writes committed before it."""

from __future__ import annotations

from kb.graph import Graph


def test_every_read_starts_from_the_writes_before_it(graph: Graph) -> None:
    manager = graph.bookmarks
    given: list[frozenset[str]] = []
    get = manager.get_bookmarks

    def spy() -> frozenset[str]:
        given.append(frozenset(get()))
        return given[-1]

    manager.get_bookmarks = spy  # type: ignore[method-assign]
    graph.write(lambda tx: tx.run("CREATE (:Person {handle: 'bm'})").consume())
    written = frozenset(get())
    assert written and written != given[0]  # the write left its own bookmark

    given.clear()
    assert graph.read(lambda tx: tx.run(
        "MATCH (p:Person {handle: 'bm'}) RETURN count(p) AS n").single()["n"]) == 1
    assert given and given[0] == written

    given.clear()
    assert graph.query("MATCH (p:Person {handle: 'bm'}) RETURN p.handle AS h") == [
        {"h": "bm"}]
    assert given and given[0] == written  # a single-statement read shares them
