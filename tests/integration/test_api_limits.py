"""Limits refuse a request before any database round trip; lists never cost N+1 reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from api_support import Api, api_config, codes

from kb.graph import apply
from kb.ingest import BatchBuilder


@pytest.fixture
def api(graph) -> Api:
    return Api(graph)


def _refused(api: Api, graph, query: str, limit: str, variables=None) -> dict:
    before = graph.round_trips
    response = api.post(query, variables)
    body = response.json()
    assert graph.round_trips == before, "a refused request reached the database"
    assert codes(body) and set(codes(body)) == {"LIMIT_EXCEEDED"}, body
    assert limit in {e["extensions"]["limit"] for e in body["errors"]}
    assert body.get("data") is None
    return body


def test_depth_limit(api, graph):
    inner = "name"
    for _ in range(7):
        inner = ("versions { run { person { runs { modelVersions { model { "
                 + inner + " } } } } } }")
    body = _refused(api, graph, f'{{ model(name: "m") {{ {inner} }} }}', "depth")
    assert "depth" in body["errors"][0]["message"]


def test_alias_limit(api, graph):
    fields = " ".join(f"a{i}: name" for i in range(31))
    _refused(api, graph, f'{{ model(name: "m") {{ {fields} }} }}', "aliases")


def test_token_limit(api, graph):
    fields = " ".join(["name"] * 6000)
    body = _refused(api, graph, f'{{ model(name: "m") {{ {fields} }} }}', "tokens")
    assert "tokens" in body["errors"][0]["message"]


def test_cost_limit(api, graph):
    query = ("{ models(first: 100) { nodes { versions(first: 100) { deployments(first: 100)"
             " { environment } } } } }")
    body = _refused(api, graph, query, "cost")
    assert "limit" in body["errors"][0]["message"]


def test_page_size_limit_literal_and_variable(api, graph):
    _refused(api, graph, "{ models(first: 101) { totalCount } }", "pageSize")
    _refused(api, graph, "query($n: Int!) { runs(first: $n) { totalCount } }", "pageSize",
             {"n": 500})


def test_cost_is_returned_in_extensions(api):
    body = api.post("{ models(first: 10) { nodes { versions(first: 5) { key } } } }").json()
    cost = body["extensions"]["cost"]
    assert (cost["requests"], cost["nodes"]) == (1 + 10, 10 + 50)
    assert cost["limits"]["pageSize"] == 100


def test_introspection_graphiql_and_suggestions_can_be_turned_off(graph):
    closed = Api(graph, api_config(introspection=False, graphiql=False))
    body = closed.post("{ __schema { types { name } } }").json()
    assert body.get("data") is None and "introspection" in body["errors"][0]["message"]
    typo = closed.post('{ modle(name: "x") { name } }').json()
    assert "Did you mean" not in typo["errors"][0]["message"]
    assert closed.http("GET", "/graphql", headers={"Accept": "text/html"}).status_code == 404
    opened = Api(graph)
    assert "Did you mean" in opened.post('{ modle(name: "x") { name } }').json()[
        "errors"][0]["message"]
    page = opened.http("GET", "/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def _history(graph, models: int) -> None:
    b = BatchBuilder(graph)
    for m in range(models):
        for v in (1, 2):
            run = b.run(id=f"run-{m}-{v}", person=f"person{(m + v) % 7}")
            b.model_version(f"model{m:03d}", version=str(v), run_id=run.id)
    apply(graph, b.batch(), actor="tester", now=datetime.now(UTC))


def test_no_n_plus_one(graph):
    _history(graph, 50)
    api = Api(graph)
    query = ("query($n: Int!) { models(first: $n) { edges { node { versions { run "
             "{ person { name handle } } } } } } }")
    trips = {}
    for n in (5, 50):
        before = graph.round_trips
        data = api.data(query, {"n": n})
        trips[n] = graph.round_trips - before
        edges = data["models"]["edges"]
        assert len(edges) == n
        assert all(len(e["node"]["versions"]) == 2 for e in edges)
        assert edges[0]["node"]["versions"][0]["run"]["person"]["handle"].startswith("person")
    assert trips[5] == trips[50], trips
    assert trips[50] <= 4, trips  # page, versions, runs, people
