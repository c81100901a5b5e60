"""Smaller holes of the same family: foreign Host names, oversized bodies, and schema
suggestions with introspection off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from api_support import Api, api_config, codes, seed_history

from kb.config import Config
from kb.errors import InvalidInput

QUERY = {"query": '{ person(handle: "alice") { name } }'}
EVENT = {"eventType": "COMPLETE", "eventTime": "2024-06-01T12:00:00Z",
         "run": {"runId": "0190a0b0-0000-7000-8000-000000000000"},
         "job": {"namespace": "ns", "name": "job"}, "producer": "https://example.com",
         "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json"}


@pytest.fixture
def api(client, graph) -> Api:
    seed_history(client)
    return Api(graph)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example"])
def test_a_foreign_host_gets_no_data(api, host):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1. The
    loopback names are served."""
    for loopback in ("localhost", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
        response = api.http("POST", "/graphql", json=QUERY, headers={"Host": loopback})
        assert response.json()["data"] == {"person": {"name": "Alice Liddell"}}, loopback
    headers = {"Host": host}
    answer = api.http("POST", "/graphql", json=QUERY, headers=headers)
    assert answer.status_code == 400 and "Alice" not in answer.text
    ide = api.http("GET", "/graphql", headers={**headers, "Accept": "text/html"})
    assert ide.status_code == 400 and "graphiql" not in ide.text.lower()
    lineage = api.http("POST", "/api/v1/lineage", json=EVENT, headers=headers)
    assert lineage.status_code == 400
    batch = api.http("POST", "/api/v1/lineage/batch", json=[EVENT], headers=headers)
    assert batch.status_code == 400
    # The probes answer any host (they are called by address and hold no data).
    assert api.http("GET", "/healthz", headers=headers).status_code == 200
    assert api.http("GET", "/readyz", headers=headers).status_code == 200


def test_configured_hosts_replace_the_default(client, graph):
    seed_history(client)
    api = Api(graph, api_config(api_allowed_hosts=("kb.example.com", "*.kb.example.com")))
    for host, status in (("kb.example.com", 200), ("eu.kb.example.com", 200),
                         ("localhost", 400), ("example.com", 400)):
        response = api.http("POST", "/graphql", json=QUERY, headers={"Host": host})
        assert response.status_code == status, host


def test_allowed_hosts_defaults_and_setting():
    from kb.api.app import allowed_hosts

    loopback = allowed_hosts(Config(api_host="127.0.0.1"))
    assert {"localhost", "127.0.0.1", "::1", "[::1]"} <= set(loopback) and "*" not in loopback
    assert allowed_hosts(Config(api_host="0.0.0.0")) == ["*"]
    env = {"KB_API_ALLOWED_HOSTS": " kb.example.com, *.Example.org "}
    assert Config.from_env(env).api_allowed_hosts == ("kb.example.com", "*.example.org")
    with pytest.raises(InvalidInput, match="KB_API_ALLOWED_HOSTS"):
        Config.from_env({"KB_API_ALLOWED_HOSTS": "kb.*.com"})
    with pytest.raises(InvalidInput, match="KB_API_REQUEST_SECONDS"):
        Config.from_env({"KB_API_REQUEST_SECONDS": "0"})
    with pytest.raises(InvalidInput, match="KB_API_MAX_BODY_BYTES"):
        Config.from_env({"KB_API_MAX_BODY_BYTES": "lots"})


def test_a_body_over_the_limit_is_refused_on_its_declared_length(graph):
    api = Api(graph, api_config(api_max_body_bytes=1000))
    ok = api.http("POST", "/graphql", json={"query": "{ orphans { key } }"})
    assert ok.status_code == 200
    big = {"query": "{ orphans { key } }", "variables": {"pad": "x" * 5000}}
    response = api.http("POST", "/graphql", json=big)
    assert response.status_code == 413
    body = response.json()
    assert codes(body) == ["LIMIT_EXCEEDED"]
    assert body["errors"][0]["extensions"]["limit"] == "bodyBytes"


def test_a_streamed_body_is_refused_without_being_read_whole(graph):
    """No Content-Length: the bytes are counted as they arrive, and the answer comes once
    they pass the limit, long before the sender is done."""
    api = Api(graph, api_config(api_max_body_bytes=5000))
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'{"query": "{ orphans { key } }", "variables": {"pad": "'
        for _ in range(1000):
            pulled += 1
            yield b"x" * 1000
        yield b'"}}'

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return await c.post("/graphql", content=chunks(),
                                headers={"Content-Type": "application/json"})

    response = asyncio.run(send())
    assert response.status_code == 413
    assert codes(response.json()) == ["LIMIT_EXCEEDED"]
    assert pulled < 20, f"{pulled} chunks of a refused body were read"


MISSPELLED = {
    "field": ('{ modle(name: "x") { name } }', None, "model"),
    "argument": ('{ model(nme: "x") { name } }', None, "name"),
    "type": ('query($n: Strin) { model(name: $n) { name } }', None, "String"),
    "enum value": ("{ deployments(status: ACTIV) { environment } }", None, "ACTIVE"),
    "enum value in a variable": (
        "query($s: DeploymentStatus) { deployments(status: $s) { environment } }",
        {"s": "ACTIV"}, "ACTIVE"),
    "input field": ('mutation { recordPerson(input: {handle: "x", nmae: "y"}) '
                    "{ person { handle } } }", None, "name"),
}


def test_no_suggestions_when_introspection_is_off(graph):
    closed_api, open_api = Api(graph, api_config(introspection=False)), Api(graph)
    for case, (query, variables, hint) in MISSPELLED.items():
        closed = closed_api.post(query, variables).json()
        assert closed["errors"], (case, closed)
        for error in closed["errors"]:
            assert "Did you mean" not in error["message"], (case, error)
            assert f"'{hint}'" not in error["message"], (case, error)
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
        # With introspection on, the same mistake is answered with the hint.
        opened = open_api.post(query, variables).json()
        assert any(f"'{hint}'" in e["message"] for e in opened["errors"]), (case, opened)
