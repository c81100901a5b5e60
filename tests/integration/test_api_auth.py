"""The auth matrix over HTTP: no token, read, write and admin, for every mutation."""

from __future__ import annotations

import pytest
from api_support import Api, api_config, codes, seed_history

from kb.graph.tokens import revoke_token

MUTATIONS = {
    "recordPerson": ('mutation { recordPerson(input: {handle: "dave", name: "Dave"}) '
                     '{ person { handle name } errors { code } } }'),
    "recordTeam": 'mutation { recordTeam(input: {name: "nlp"}) { team { name } errors { code } } }',
    "recordDatasetVersion": (
        'mutation { recordDatasetVersion(input: {dataset: "customers", version: "2024-07", '
        'rows: 5, derivedFrom: ["customers@2024-06"]}) { datasetVersion { key rows } '
        'errors { code } } }'),
    "logRun": (
        'mutation { logRun(input: {id: "r3", inputs: [{dataset: "customers", '
        'version: "2024-06"}], outputs: ["scores@1"], params: {lr: 0.2}, metrics: {auc: 0.9}, '
        'models: [{model: "churn", version: "3"}], code: {repo: "r", commit: "c3"}}) '
        '{ run { runId person { handle } outputs { key } } modelVersions { key } '
        'errors { code } } }'),
    "registerModelVersion": (
        'mutation { registerModelVersion(input: {model: "fraud", version: "1", '
        'aliases: ["staging"]}) { modelVersion { key aliases } errors { code } } }'),
    "deploy": ('mutation { deploy(input: {model: "churn", version: "2", environment: "canary"})'
               ' { deployment { environment deployedBy { handle } } errors { code } } }'),
    "retireDeployment": ('mutation { retireDeployment(id: "dep-staging") '
                         '{ deployment { status } errors { code } } }'),
    "setOwner": ('mutation { setOwner(asset: "model:churn", owner: "person:carol") '
                 '{ ok owner errors { code } } }'),
    "transferOwnership": (
        'mutation { transferOwnership(asset: "dataset:customers", from: "person:alice", '
        'to: "person:carol") { ok owner errors { code } } }'),
    "addNote": ('mutation { addNote(about: "model:churn", body: "checked by the API") '
                '{ note { body author { handle } } errors { code } } }'),
}


@pytest.fixture
def api(graph, client) -> Api:
    seed_history(client)
    return Api(graph, api_config(anonymous_reads=False))


@pytest.mark.slow  # forty cases, each on a history of its own
@pytest.mark.parametrize("name", sorted(MUTATIONS))
@pytest.mark.parametrize("scope", [None, "read", "write", "admin"])
def test_every_mutation_needs_the_write_scope(api, graph, name, scope):
    token = api.token(scope, actor="carol") if scope else None
    before = graph.round_trips
    response = api.post(MUTATIONS[name], token=token)
    body = response.json()
    if scope is None:
        assert response.status_code == 401
        assert codes(body) == ["UNAUTHENTICATED"]
        assert graph.round_trips == before  # refused before any database work
    elif scope == "read":
        assert response.status_code == 403
        assert codes(body) == ["FORBIDDEN"]
        assert "write" in body["errors"][0]["message"]
    else:
        assert response.status_code == 200, body
        assert not body.get("errors"), body
        payload = body["data"][name]
        assert payload["errors"] == []


def test_writes_are_stamped_with_the_token_actor(api, graph):
    token = api.token("write", actor="carol")
    data = api.data(MUTATIONS["addNote"] + "", token=token)
    assert data["addNote"]["note"] == {"body": "checked by the API",
                                       "author": {"handle": "carol"}}
    api.data(MUTATIONS["recordPerson"], token=token)
    stamp = graph.read(lambda tx: tx.run(
        "MATCH (p:Person {handle: 'dave'}) RETURN p.updatedBy AS by").single()["by"])
    assert stamp == "carol"
    run = api.data(MUTATIONS["logRun"], token=token)["logRun"]
    assert run["run"]["person"] == {"handle": "carol"}
    assert run["modelVersions"] == [{"key": "churn@3"}]


def test_expected_failures_are_typed_payload_errors(api):
    token = api.token("write")
    bad = api.data('mutation { recordPerson(input: {handle: "   "}) '
                   '{ person { handle } errors { code field message } } }', token=token)
    (error,) = bad["recordPerson"]["errors"]
    assert error["code"] == "BAD_USER_INPUT" and error["field"].startswith("person")
    missing = api.data('mutation { retireDeployment(id: "dep-nope") '
                       '{ deployment { status } errors { code message } } }', token=token)
    assert missing["retireDeployment"]["errors"][0]["code"] == "NOT_FOUND"
    assert "dep-nope" in missing["retireDeployment"]["errors"][0]["message"]


def test_reads_need_a_token_unless_allowed(api, graph):
    query = '{ model(name: "churn") { name } }'
    response = api.post(query)
    assert response.status_code == 401 and codes(response.json()) == ["UNAUTHENTICATED"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert api.data(query, token=api.token("read"))["model"] == {"name": "churn"}
    unknown = api.post(query, token="kb_not-a-real-token")
    assert unknown.status_code == 401
    malformed = api.post(query, headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401
    token = api.token("admin", actor="bob")
    revoke_token(graph, "admin-bob")
    revoked = api.post(query, token=token)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["errors"][0]["message"]


def test_anonymous_reads_follow_the_configuration(graph, client):
    seed_history(client)
    query = '{ model(name: "churn") { name } }'
    loopback = Api(graph, api_config(anonymous_reads=None, api_host="127.0.0.1"))
    assert loopback.data(query)["model"] == {"name": "churn"}
    shared = Api(graph, api_config(anonymous_reads=None, api_host="0.0.0.0"))
    assert shared.post(query).status_code == 401
    anon = loopback.post(MUTATIONS["recordTeam"])
    assert anon.status_code == 401 and codes(anon.json()) == ["UNAUTHENTICATED"]
