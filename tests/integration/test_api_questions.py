"""Every question over HTTP on the fixture history, with the answers written out."""

from __future__ import annotations

import pytest
from api_support import Api, codes, seed_history

from kb.domain import Label, to_global_id


@pytest.fixture
def api(graph, client) -> Api:
    seed_history(client)
    return Api(graph)


def test_who_trained_names_the_person_data_and_commit(api):
    data = api.data("""{ whoTrained(model: "churn") { version personHandle personActive runId
        commit experiment inputs { dataset version role } params { key value }
        person { name } } }""")
    v2, v1 = data["whoTrained"]
    assert (v2["version"], v2["personHandle"], v2["personActive"], v2["commit"]) == \
        ("2", "alice", True, "def456")
    assert v2["inputs"] == [{"dataset": "customers", "version": "2024-06", "role": "train"}]
    assert (v1["version"], v1["personHandle"], v1["personActive"], v1["runId"]) == \
        ("1", "bob", False, "r1")
    assert v1["person"] == {"name": "Bob Stone"}
    assert v1["experiment"] == "churn-exp"
    assert v1["params"] == [{"key": "depth", "value": 6}, {"key": "lr", "value": 0.1}]
    one = api.data('{ whoTrained(model: "churn", version: "1") { version } }')
    assert one["whoTrained"] == [{"version": "1"}]


def test_who_trained_unknown_model_is_not_found(api):
    body = api.post('{ whoTrained(model: "nope") { version } }').json()
    assert codes(body) == ["NOT_FOUND"]
    assert "nope" in body["errors"][0]["message"]


def test_lineage_reaches_people_and_deployments(api):
    data = api.data("""{ lineage(id: "dataset:customers@2024-05", direction: DOWNSTREAM,
        depth: 5) { root truncated isPartial nodes { label key }
        edges { source target type } } }""")
    g = data["lineage"]
    keys = {(n["label"], n["key"]) for n in g["nodes"]}
    assert keys == {("DatasetVersion", "customers@2024-05"), ("Run", "derive:features@v1"),
                    ("DatasetVersion", "features@v1"), ("Run", "r1"), ("Person", "bob"),
                    ("ModelVersion", "churn@1"), ("Deployment", "dep-staging")}
    gid = to_global_id
    edges = {(e["source"], e["type"], e["target"]) for e in g["edges"]}
    assert (gid(Label.PERSON, "bob"), "TRAINED", gid(Label.RUN, "r1")) in edges
    assert (gid(Label.DEPLOYMENT, "dep-staging"), "SERVES",
            gid(Label.MODEL_VERSION, "churn@1")) in edges
    assert g["root"] == gid(Label.DATASET_VERSION, "customers@2024-05")
    assert g["truncated"] is False and g["isPartial"] is False


def test_lineage_by_global_id_upstream(api):
    root = to_global_id(Label.MODEL_VERSION, "churn@2")
    data = api.data("query($id: ID!) { lineage(id: $id, direction: UPSTREAM, depth: 2) "
                    "{ nodes { key } } }", {"id": root})
    assert {n["key"] for n in data["lineage"]["nodes"]} == {"churn@2", "r2", "alice",
                                                            "customers@2024-06"}


def test_lineage_depth_above_ten_is_refused(api):
    body = api.post('{ lineage(id: "model:churn", depth: 11) { root } }').json()
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "depth" in body["errors"][0]["message"]


def test_impact_lists_versions_and_active_deployments_with_paths(api):
    data = api.data("""{ impact(dataset: "customers", version: "2024-05") {
        kind key hops environment path { key } } }""")
    assert data["impact"] == [
        {"kind": "MODEL_VERSION", "key": "churn@1", "hops": 4, "environment": None,
         "path": [{"key": k} for k in ("customers@2024-05", "derive:features@v1",
                                       "features@v1", "r1", "churn@1")]},
        {"kind": "DEPLOYMENT", "key": "dep-staging", "hops": 5, "environment": "staging",
         "path": [{"key": k} for k in ("customers@2024-05", "derive:features@v1",
                                       "features@v1", "r1", "churn@1", "dep-staging")]},
    ]


def test_deployments_by_environment(api):
    data = api.data("""{ deployments(environment: "prod") { deploymentId model version
        deployedBy deployedByActive trainedBy trainedByActive } }""")
    assert data["deployments"] == [{"deploymentId": "dep-prod", "model": "churn",
                                    "version": "2", "deployedBy": "carol",
                                    "deployedByActive": True, "trainedBy": "alice",
                                    "trainedByActive": True}]
    every = api.data("{ deployments(status: null) { deploymentId } }")
    assert {d["deploymentId"] for d in every["deployments"]} == {"dep-prod", "dep-staging"}


def test_handover_flags_what_nobody_else_holds(api):
    data = api.data('{ handover(person: "bob") { kind key relations atRisk otherTrainers } }')
    assert data["handover"] == [
        {"kind": "Model", "key": "churn", "relations": ["OWNS", "TRAINED"], "atRisk": False,
         "otherTrainers": ["alice"]},
        {"kind": "Experiment", "key": "churn-exp", "relations": ["OWNS"], "atRisk": True,
         "otherTrainers": []},
        {"kind": "Deployment", "key": "dep-staging", "relations": ["DEPLOYED"],
         "atRisk": True, "otherTrainers": []},
    ]


def test_orphans_are_assets_without_an_active_owner(api):
    # Owner left first, then never owned; this history's "prod" is not production.
    data = api.data("{ orphans { kind key formerOwners reason feedsProduction } }")
    assert data["orphans"] == [
        {"kind": "Experiment", "key": "churn-exp", "formerOwners": ["bob"],
         "reason": "OWNER_LEFT", "feedsProduction": False},
        {"kind": "Model", "key": "churn", "formerOwners": ["bob"], "reason": "OWNER_LEFT",
         "feedsProduction": False},
        {"kind": "Deployment", "key": "dep-prod", "formerOwners": [],
         "reason": "NEVER_OWNED", "feedsProduction": False},
        {"kind": "Deployment", "key": "dep-staging", "formerOwners": [],
         "reason": "NEVER_OWNED", "feedsProduction": False},
    ]


def test_search_escapes_lucene_syntax(api):
    data = api.data('{ search(text: "customer") { node { __typename ... on Dataset { name } } } }')
    assert {"__typename": "Dataset", "name": "customers"} in [h["node"] for h in
                                                                  data["search"]]
    notes = api.data('{ search(text: "retrain", types: [NOTE]) { node { ... on Note { body } } } }')
    assert [h["node"]["body"] for h in notes["search"]] == [
        "AUC drops on new customers; retrain monthly"]
    weird = api.post('{ search(text: "auc) OR (* ~ \\\\ [") { score } }').json()
    assert not weird.get("errors"), weird


def test_compare_runs(api):
    data = api.data("""{ compareRuns(a: "r1", b: "r2") { params { key a b } metrics { key a b }
        inputsOnlyInA inputsOnlyInB commitA commitB sameCode sameEnvironment } }""")
    c = data["compareRuns"]
    assert c["params"] == [{"key": "lr", "a": 0.1, "b": 0.05}]
    assert c["metrics"] == [{"key": "auc", "a": 0.81, "b": 0.84}]
    assert (c["inputsOnlyInA"], c["inputsOnlyInB"]) == (["features@v1"], ["customers@2024-06"])
    assert (c["commitA"], c["commitB"], c["sameCode"]) == ("abc123", "def456", False)


def test_entities_lists_and_filters(api):
    data = api.data("""{ model(name: "churn") { id name versions(alias: "production")
          { key aliases run { runId recipe { command commit inputs } } }
          owners { owner { ... on Person { handle } } role active }
          notes { body author { handle } } }
        modelVersion(model: "churn", alias: "production") { key }
        people(team: "vision", first: 1) { totalCount pageInfo { hasNextPage endCursor }
          edges { node { handle active } } }
        runs(since: "2024-06-15T00:00:00Z") { totalCount nodes { runId } }
        datasets(owner: "alice") { nodes { name } }
        datasets2: datasets(team: "vision") { nodes { name } } }""")
    model = data["model"]
    assert model["versions"] == [{"key": "churn@2", "aliases": ["production"], "run": {
        "runId": "r2", "recipe": {"command": None, "commit": "def456",
                                  "inputs": ["customers@2024-06"]}}}]
    assert model["owners"] == [{"owner": {"handle": "bob"}, "role": "owner", "active": True}]
    assert model["notes"] == [{"body": "AUC drops on new customers; retrain monthly",
                               "author": {"handle": "alice"}}]
    assert data["modelVersion"] == {"key": "churn@2"}
    people = data["people"]
    assert people["totalCount"] == 2 and people["pageInfo"]["hasNextPage"] is True
    assert people["edges"] == [{"node": {"handle": "alice", "active": True}}]
    after = api.data('query($c: String) { people(team: "vision", after: $c) '
                     '{ nodes { handle active } pageInfo { hasNextPage } } }',
                     {"c": people["pageInfo"]["endCursor"]})
    assert after["people"] == {"nodes": [{"handle": "bob", "active": False}],
                               "pageInfo": {"hasNextPage": False}}
    assert data["runs"] == {"totalCount": 1, "nodes": [{"runId": "r2"}]}
    assert data["datasets"]["nodes"] == [{"name": "customers"}]
    # A team's assets: owned by the team, or by one of its members.
    assert data["datasets2"]["nodes"] == [{"name": "customers"}, {"name": "features"}]
    node = api.data("query($id: ID!) { node(id: $id) { id ... on Model { name } } }",
                    {"id": model["id"]})
    assert node["node"] == {"id": model["id"], "name": "churn"}


@pytest.mark.parametrize(("query", "code"), [
    ('{ node(id: "not-an-id!") { id } }', "BAD_USER_INPUT"),
    ('{ node(id: "TW9kZWw6bm9wZQ") { id } }', "NOT_FOUND"),  # Model:nope
    ('{ person(handle: "nobody") { name } }', "NOT_FOUND"),
    ('{ run(id: "nope") { runId } }', "NOT_FOUND"),
    ('{ lineage(id: "bogus:x") { root } }', "BAD_USER_INPUT"),
    ('{ models(after: "garbage") { totalCount } }', "BAD_USER_INPUT"),
    ('{ compareRuns(a: "r1", b: "zz") { sameCode } }', "NOT_FOUND"),
    ('{ handover(person: "ghost") { key } }', "NOT_FOUND"),
    ('{ nosuchfield }', "BAD_USER_INPUT"),
    ('{ model(name: ', "BAD_USER_INPUT"),
])
def test_bad_ids_and_unknown_entities_are_client_errors(api, query, code):
    response = api.post(query)
    body = response.json()
    assert response.status_code == 200
    assert codes(body) == [code]
    error = body["errors"][0]
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in error["message"] and "MATCH" not in error["message"]
