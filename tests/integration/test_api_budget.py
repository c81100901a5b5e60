"""No request can stall the API: every list counts toward the cost, lists page with
first/after, a request stops at its time budget (Neo4j's transaction too), and an answer
has a size ceiling."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
from api_support import Api, api_config, codes
from neo4j import GraphDatabase

from kb.api.app import create_app
from kb.errors import TimeLimitExceeded
from kb.graph import Graph
from kb.graph.driver import time_budget
from kb.graph.ownership import handover
from kb.ingest import Client

OWNER = "... on Team { name owns { asset { ... on Model { name owners { owner { %s } } } } } }"
# team -> owns -> model -> owners -> team -> owns -> model -> owners -> team: within the
# depth limit, and each list may hold 100 items per parent.
CYCLE = "{ team(name: \"vision\") { %s } }" % (OWNER % (OWNER % "... on Team { name }"))


def _ownership_cycle(client: Client) -> None:
    client.team("vision")
    client.person("ann", team="vision")
    for name in ("churn", "fraud", "ltv"):
        client.model(name)
        client.own(f"model:{name}", owner="team:vision")
        client.own(f"model:{name}", owner="ann")


def test_ownership_cycle_is_refused_before_any_database_call(client, graph):
    _ownership_cycle(client)
    api = Api(graph)
    one_turn = api.data('{ team(name: "vision") { %s } }' % (OWNER % "... on Team { name }"))
    owned = one_turn["team"]["owns"]
    assert sorted(o["asset"]["name"] for o in owned) == ["churn", "fraud", "ltv"]
    assert {"name": "vision"} in [o["owner"] for o in owned[0]["asset"]["owners"]]

    before = graph.round_trips
    body = api.post(CYCLE).json()
    assert graph.round_trips == before, "a refused request reached the database"
    assert set(codes(body)) == {"LIMIT_EXCEEDED"}, body
    assert "nodes" in {e["extensions"]["limit"] for e in body["errors"]}
    assert body.get("data") is None


def test_a_refused_cycle_needs_no_database(graph):
    """The same request against an app whose Neo4j does not answer is still refused for
    its cost: the refusal comes before any read could be tried."""
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        uri = f"bolt://127.0.0.1:{sock.getsockname()[1]}"
    down = Graph(GraphDatabase.driver(uri, auth=("neo4j", "x"), connection_timeout=2,
                                      max_transaction_retry_time=0.2), retry_seconds=0.2)
    app = create_app(api_config(), down)

    async def ask(query: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return await c.post("/graphql", json={"query": query})

    try:
        small = asyncio.run(ask('{ team(name: "vision") { name } }')).json()
        cycle = asyncio.run(ask(CYCLE)).json()
    finally:
        down.close()
    assert codes(small) == ["GRAPH_UNAVAILABLE"]  # the app really has no database
    assert set(codes(cycle)) == {"LIMIT_EXCEEDED"}, cycle


def test_lists_without_first_now_count_and_page(client, graph):
    client.team("vision")
    names = [f"m{i}" for i in range(5)]
    for name in names:
        client.model(name)
        client.own(f"model:{name}", owner="team:vision")
    api = Api(graph)
    body = api.post('{ team(name: "vision") { owns { role } } }').json()
    assert body["extensions"]["cost"]["nodes"] == 100  # owns is counted at its cap

    query = ('query($after: ID) { team(name: "vision") { owns(first: 2, after: $after) '
             '{ asset { ... on Model { id name } } } } }')
    seen, after = [], None
    for _ in range(5):
        page = api.data(query, {"after": after})["team"]["owns"]
        if not page:
            break
        assert len(page) <= 2
        seen += [o["asset"]["name"] for o in page]
        after = page[-1]["asset"]["id"]
    assert sorted(seen) == names and len(seen) == len(set(seen))

    orphans = 'query($after: ID) { orphans(first: 2, after: $after) { id key } }'
    client.model("nobody-owns-this")
    client.model("nor-this")
    first = api.data(orphans)["orphans"]
    rest = api.data(orphans, {"after": first[-1]["id"]})["orphans"]
    everything = api.data("{ orphans { key } }")["orphans"]
    assert [o["key"] for o in first + rest] == [o["key"] for o in everything][:4]
    bad = api.post('{ orphans(after: "not an id") { key } }').json()
    assert codes(bad) == ["BAD_USER_INPUT"] and bad["errors"][0]["extensions"][
        "field"] == "after"


# A person who owns many models, each of which handover checks for other trainers through
# every one of its versions' runs: versions here count as versions of every model (no
# real graph is shaped so), work that grows with models x versions x runs, several
# seconds of it.
HOARD = """
CREATE (p:Person {handle: 'hoarder', createdAt: datetime()})
WITH p UNWIND range(1, $models) AS i
CREATE (p)-[:OWNS {since: datetime(), role: 'owner'}]->(:Model {name: 'm' + i,
                                                              createdAt: datetime()})
"""
RUNS = """
UNWIND range(1, $runs) AS i
MERGE (q:Person {handle: 'q' + (i % 50)})
MERGE (v:ModelVersion {key: 'x@' + (i % $versions)})
CREATE (q)-[:TRAINED]->(:Run {id: 'run' + i})-[:PRODUCED]->(v)
"""
VERSIONS_OF_EVERY_MODEL = """
MATCH (v:ModelVersion) WHERE v.key STARTS WITH 'x@' AND toInteger(substring(v.key, 2)) % $of = $part
MATCH (m:Model) WHERE m.name STARTS WITH 'm'
CREATE (v)-[:VERSION_OF]->(m)
"""
# The handover statement's own text, never this file's (SHOW TRANSACTIONS lists itself).
MARKER = "otherTrainers"
RUNNING = ("SHOW TRANSACTIONS YIELD currentQuery, status "
           "RETURN currentQuery AS query, status")


def _running_handovers(graph: Graph) -> list[str]:
    rows = graph.read(lambda tx: [r.data() for r in tx.run(RUNNING)])
    return [r["status"] for r in rows if MARKER in (r["query"] or "")]


@pytest.mark.slow  # fills a graph big enough to outlast the budget
@pytest.mark.timeout(300)
def test_a_request_over_its_time_budget_is_stopped_here_and_in_neo4j(graph):
    graph.write(lambda tx: tx.run(HOARD, models=1000).consume())
    graph.write(lambda tx: tx.run(RUNS, runs=4000, versions=200).consume())
    for part in range(10):  # 200,000 links, in parts a transaction holds easily
        graph.write(lambda tx, part=part: tx.run(VERSIONS_OF_EVERY_MODEL, of=10,
                                                 part=part).consume())
    api = Api(graph, api_config(api_request_seconds=2.0))

    body = api.post('{ handover(person: "hoarder") { key atRisk } }').json()
    assert codes(body) == ["LIMIT_EXCEEDED"], body
    error = body["errors"][0]
    assert error["extensions"]["limit"] == "time"
    assert error["extensions"]["allowed"] == 2.0
    assert "time budget" in error["message"]
    assert body.get("data") is None

    # The same app answers the next request, and Neo4j is no longer running the read.
    assert api.data('{ person(handle: "hoarder") { handle } }') == {
        "person": {"handle": "hoarder"}}
    deadline = time.monotonic() + 20
    while _running_handovers(graph):
        assert time.monotonic() < deadline, "Neo4j still runs the stopped read"
        time.sleep(0.2)

    # Below the API, Neo4j itself ends the transaction at the budget, reported as such.
    with time_budget(1.0), pytest.raises(TimeLimitExceeded, match="1 s"):
        handover(graph, "hoarder")


def test_an_answer_above_the_size_ceiling_is_replaced_by_an_error(client, graph):
    for i in range(40):
        client.person(f"person{i:02d}", name=f"Person number {i}")
    api = Api(graph, api_config(api_max_response_bytes=2000))
    small = api.data('{ person(handle: "person01") { name } }')
    assert small == {"person": {"name": "Person number 1"}}
    response = api.post("{ people(first: 40) { nodes { handle name } } }")
    assert len(response.content) < 2000
    body = response.json()
    assert codes(body) == ["LIMIT_EXCEEDED"]
    ext = body["errors"][0]["extensions"]
    assert ext["limit"] == "responseBytes" and ext["allowed"] == 2000 and ext["actual"] > 2000
    assert body["data"] is None and "person00" not in response.text
