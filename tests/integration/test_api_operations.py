"""The named operations tools use, the health probes and the HTTP conventions."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import Api, api_config, codes, seed_history

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"

VARIABLES = {
    "who_trained": {"model": "churn"},
    "lineage": {"id": "model:churn@1", "direction": "UPSTREAM", "depth": 4},
    "lineage_neighbours": {"id": "dataset:customers@2024-06", "direction": "DOWNSTREAM",
                           "first": 1},
    "impact": {"dataset": "customers", "version": "2024-05"},
    "production": {"environment": "prod"},
    "handover": {"person": "bob"},
    "orphans": {},
}
#: One fact each answer must hold on the fixture history.
CHECKS = {
    "who_trained": lambda d: [v["personHandle"] for v in d["whoTrained"]] == ["alice", "bob"],
    "lineage": lambda d: {"features@v1", "customers@2024-05", "bob"} <= {
        n["key"] for n in d["lineage"]["nodes"]},
    "lineage_neighbours": lambda d: [n["node"]["key"] for n in d["lineageNeighbours"][
        "neighbours"]] == ["r2"] and not d["lineageNeighbours"]["hasNextPage"],
    "impact": lambda d: [i["key"] for i in d["impact"]] == ["churn@1", "dep-staging"],
    "production": lambda d: [x["deploymentId"] for x in d["deployments"]] == ["dep-prod"],
    "handover": lambda d: {i["key"]: i["atRisk"] for i in d["handover"]} == {
        "churn": False, "churn-exp": True, "dep-staging": True},
    "orphans": lambda d: "churn" in {o["key"] for o in d["orphans"]},
}


@pytest.fixture
def api(graph, client) -> Api:
    seed_history(client)
    return Api(graph)


def test_every_operation_file_is_checked():
    assert {p.stem for p in OPERATIONS.glob("*.graphql")} == set(VARIABLES)


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_named_operation_runs(api, name):
    data = api.data((OPERATIONS / f"{name}.graphql").read_text(), VARIABLES[name])
    assert CHECKS[name](data), data


def test_health_and_readiness(api):
    assert api.http("GET", "/healthz").json() == {"status": "ok"}
    ready = api.http("GET", "/readyz")
    assert ready.status_code == 200 and ready.json()["neo4j"] == "reachable"


@pytest.mark.timeout(60)  # readiness retrying for the hour below would fail here
@pytest.mark.parametrize("lifespan", [True, False], ids=["lifespan", "no-lifespan"])
def test_an_unreachable_database_is_reported_not_waited_for(lifespan):
    """Readiness asks the database once; a question retries for the driver's budget and
    then answers GRAPH_UNAVAILABLE, without internals."""
    import asyncio
    import socket

    import httpx
    from neo4j import GraphDatabase

    from kb.api.app import create_app
    from kb.graph import Graph

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        uri = f"bolt://127.0.0.1:{sock.getsockname()[1]}"
    down = Graph(GraphDatabase.driver(uri, auth=("neo4j", "x"), connection_timeout=5,
                                      max_transaction_retry_time=0.5), retry_seconds=0.5)
    app = create_app(api_config(), down)

    async def ask() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            ready = await c.get("/readyz")
            answer = await c.post("/graphql", json={"query": '{ whoTrained(model: "m") '
                                                             '{ version } }'})
            return ready, answer

    async def with_lifespan() -> tuple[httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app):
            return await ask()

    try:
        ready, answer = asyncio.run(with_lifespan() if lifespan else ask())
    finally:
        down.close()
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "neo4j": "unreachable"}
    body = answer.json()
    assert codes(body) == ["GRAPH_UNAVAILABLE"]
    assert "bolt://" not in body["errors"][0]["message"]


def test_request_id_is_echoed_and_generated(api):
    mine = api.post("{ orphans { key } }", headers={"X-Request-Id": "trace-123"})
    assert mine.headers["x-request-id"] == "trace-123"
    fresh = api.post("{ orphans { key } }", headers={"X-Request-Id": "bad id\twith spaces"})
    assert fresh.headers["x-request-id"] != "bad id\twith spaces"
    assert len(fresh.headers["x-request-id"]) == 32


def test_graphql_response_json_media_type(api):
    accept = {"Accept": "application/graphql-response+json"}
    ok = api.post("{ orphans { key } }", headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    invalid = api.post("{ nosuchfield }", headers=accept)
    assert invalid.status_code == 400
    assert invalid.headers["content-type"].startswith("application/graphql-response+json")
    legacy = api.post("{ nosuchfield }", headers={"Accept": "application/json"})
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")


def test_get_queries_but_not_get_mutations(api):
    ok = api.http("GET", "/graphql", params={"query": "{ orphans { key } }"})
    assert ok.status_code == 200 and "orphans" in ok.json()["data"]
    refused = api.http("GET", "/graphql", params={
        "query": 'mutation { recordTeam(input: {name: "x"}) { errors { code } } }'})
    assert refused.status_code in (400, 405)
