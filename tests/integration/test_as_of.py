"""Questions asked as of a past instant: production, who trained, ownership, handover and
orphans answer as things stood then, through the API and the CLI alike, and each as-of
statement costs the same however much unrelated history the graph holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_support import Api
from cli_support import at_80_columns, ok_json

from kb.errors import NotFound
from kb.graph import Graph, deployments, ownership, production, training, who_trained
from kb.ingest import Client

D1 = datetime(2026, 1, 10, 9, tzinfo=UTC)   # churn@1 by alice, champion, live; alice owns
D2 = datetime(2026, 2, 10, 9, tzinfo=UTC)   # churn@2 by bob, champion, replaces @1
D3 = datetime(2026, 3, 10, 9, tzinfo=UTC)   # churn handed from alice to bob
D4 = datetime(2026, 4, 10, 9, tzinfo=UTC)   # alice leaves
D5 = datetime(2026, 5, 10, 9, tzinfo=UTC)   # churn@3 by bob, champion, replaces @2

BEFORE = "2026-01-01"
AFTER_D1, AFTER_D2, AFTER_D3, AFTER_D4 = "2026-01-20", "2026-02-20", "2026-03-20", "2026-04-20"
FUTURE = "2030-01-01"


def write_story(client: Client) -> None:
    """The churn story, each step written at its own time."""
    b = client.builder()
    b.team("ml")
    b.person("alice", name="Alice", team="ml")
    b.person("bob", name="Bob", team="ml")
    b.dataset("customers")
    b.run(id="r1", person="alice")
    b.model_version("churn", version=1, run_id="r1", aliases=["champion"])
    b.deploy("churn", "1", environment="production", by="alice", id="dep-1", deployed_at=D1)
    b.own("model:churn", owner="person:alice", since=D1)
    b.own("dataset:customers", owner="person:alice", since=D1)
    client.write(b, now=D1)

    b = client.builder()
    b.run(id="r2", person="bob")
    b.model_version("churn", version=2, run_id="r2", aliases=["champion"])
    b.deploy("churn", "2", environment="production", by="bob", id="dep-2", deployed_at=D2)
    client.write(b, now=D2)

    b = client.builder()
    b.own("model:churn", owner="person:bob", since=D3, transfer_from="person:alice")
    client.write(b, now=D3)

    b = client.builder()
    b.person("alice", active=False, left_at=D4)
    client.write(b, now=D4)

    b = client.builder()
    b.run(id="r3", person="bob")
    b.model_version("churn", version=3, run_id="r3", aliases=["champion"])
    b.deploy("churn", "3", environment="production", by="bob", id="dep-3", deployed_at=D5)
    client.write(b, now=D5)


@pytest.fixture
def story(client: Client, graph: Graph) -> Graph:
    write_story(client)
    return graph


# -- the answers through the API ------------------------------------------------------------

PROD = """query($at: DateTime) { deployments(environment: "production", asOf: $at) {
  deploymentId version status retiredAt deployedBy deployedByActive trainedBy
  trainedByActive owners { kind key active } } }"""
TRAINED = """query($at: DateTime) { whoTrained(model: "churn", asOf: $at) {
  version aliases personHandle personActive } }"""
OWNERS = """query($at: DateTime) {
  model(name: "churn") { owners(asOf: $at) { owner { ... on Person { handle } } } }
  dataset(name: "customers") { owners(asOf: $at) { owner { ... on Person { handle } } } }
  person(handle: "alice") { owns(asOf: $at) { asset { ... on Model { name }
                                                      ... on Dataset { name } } } } }"""
HANDOVER = """query($at: DateTime) { handover(person: "alice", asOf: $at) {
  kind key relations otherOwners otherTrainers atRisk } }"""
ORPHANS = """query($at: DateTime) { orphans(asOf: $at) {
  kind key reason formerOwners feedsProduction } }"""


def at(text: str | None) -> dict[str, Any]:
    """The variables for an instant typed as the CLI takes it (a date is 00:00 UTC)."""
    return {"at": None if text is None else f"{text}T00:00:00+00:00"}


def prod(api: Api, when: str | None) -> list[tuple]:
    return [(d["deploymentId"], d["version"], d["deployedBy"], d["deployedByActive"],
             d["trainedBy"], d["trainedByActive"],
             [(o["key"], o["active"]) for o in d["owners"]])
            for d in api.data(PROD, at(when))["deployments"]]


def test_production_as_of_each_instant(story: Graph) -> None:
    api = Api(story)
    assert prod(api, BEFORE) == []
    assert prod(api, AFTER_D1) == [("dep-1", "1", "alice", True, "alice", True,
                                    [("alice", True)])]
    assert prod(api, AFTER_D2) == [("dep-2", "2", "bob", True, "bob", True, [("alice", True)])]
    assert prod(api, AFTER_D3) == [("dep-2", "2", "bob", True, "bob", True, [("bob", True)])]
    assert prod(api, AFTER_D4) == [("dep-2", "2", "bob", True, "bob", True, [("bob", True)])]
    assert prod(api, None) == [("dep-3", "3", "bob", True, "bob", True, [("bob", True)])]
    assert prod(api, FUTURE) == prod(api, None)
    # A deployment retired since was live then, and says so.
    (then,) = api.data(PROD, at(AFTER_D1))["deployments"]
    assert (then["status"], then["retiredAt"]) == ("ACTIVE", None)


def test_retired_and_every_status_as_of(story: Graph) -> None:
    retired = deployments(story, status="RETIRED", as_of=datetime(2026, 2, 20, tzinfo=UTC))
    assert [(d.id, d.status, d.retired_at) for d in retired] == [("dep-1", "RETIRED", D2)]
    every = deployments(story, status=None, as_of=datetime(2026, 2, 20, tzinfo=UTC))
    assert [(d.id, d.status) for d in every] == [("dep-2", "ACTIVE"), ("dep-1", "RETIRED")]


def trained(api: Api, when: str | None) -> list[tuple]:
    return [(t["version"], t["aliases"], t["personHandle"], t["personActive"])
            for t in api.data(TRAINED, at(when))["whoTrained"]]


def test_who_trained_as_of_each_instant(story: Graph) -> None:
    api = Api(story)
    assert trained(api, BEFORE) == []
    assert trained(api, AFTER_D1) == [("1", ["champion"], "alice", True)]
    assert trained(api, AFTER_D2) == [("2", ["champion"], "bob", True),
                                      ("1", [], "alice", True)]
    assert trained(api, AFTER_D4) == [("2", ["champion"], "bob", True),
                                      ("1", [], "alice", False)]
    assert trained(api, None) == [("3", ["champion"], "bob", True), ("2", [], "bob", True),
                                  ("1", [], "alice", False)]
    assert trained(api, FUTURE) == trained(api, None)


def test_a_version_asked_before_it_existed_is_not_found_yet(story: Graph) -> None:
    with pytest.raises(NotFound, match="did not exist yet"):
        who_trained(story, "churn", "3", datetime(2026, 4, 20, tzinfo=UTC))
    with pytest.raises(NotFound, match="does not exist"):
        who_trained(story, "churn", "9", datetime(2026, 4, 20, tzinfo=UTC))
    body = Api(story).post("""query { whoTrained(model: "churn", version: "2",
                              asOf: "2026-01-20T00:00:00Z") { version } }""").json()
    assert "did not exist yet" in body["errors"][0]["message"]


def owners(api: Api, when: str | None) -> tuple:
    data = api.data(OWNERS, at(when))
    return ([o["owner"]["handle"] for o in data["model"]["owners"]],
            [o["owner"]["handle"] for o in data["dataset"]["owners"]],
            sorted(o["asset"]["name"] for o in data["person"]["owns"]))


def test_owners_and_owns_as_of_each_instant(story: Graph) -> None:
    api = Api(story)
    assert owners(api, BEFORE) == ([], [], [])
    assert owners(api, AFTER_D2) == (["alice"], ["alice"], ["churn", "customers"])
    assert owners(api, AFTER_D3) == (["bob"], ["alice"], ["customers"])
    assert owners(api, None) == (["bob"], ["alice"], ["customers"])
    assert owners(api, FUTURE) == owners(api, None)


def handover(api: Api, when: str | None) -> list[tuple]:
    return [(h["kind"], h["key"], h["relations"], h["otherOwners"], h["otherTrainers"],
             h["atRisk"]) for h in api.data(HANDOVER, at(when))["handover"]]


def test_handover_as_of_each_instant(story: Graph) -> None:
    api = Api(story)
    assert handover(api, BEFORE) == []
    assert handover(api, AFTER_D1) == [
        ("Model", "churn", ["OWNS", "TRAINED"], [], [], True),
        ("Dataset", "customers", ["OWNS"], [], [], True),
        ("Deployment", "dep-1", ["DEPLOYED"], [], [], True)]
    assert handover(api, AFTER_D3) == [
        ("Model", "churn", ["TRAINED"], ["bob"], ["bob"], False),
        ("Dataset", "customers", ["OWNS"], [], [], True)]
    assert handover(api, FUTURE) == handover(api, None)


def orphans(api: Api, when: str | None) -> list[tuple]:
    return [(o["kind"], o["key"], o["reason"], o["formerOwners"], o["feedsProduction"])
            for o in api.data(ORPHANS, at(when))["orphans"]]


def test_orphans_as_of_each_instant(story: Graph) -> None:
    api = Api(story)
    assert orphans(api, BEFORE) == []
    assert orphans(api, AFTER_D1) == [("Deployment", "dep-1", "NEVER_OWNED", [], True)]
    assert orphans(api, AFTER_D3) == [("Deployment", "dep-2", "NEVER_OWNED", [], True)]
    # Once alice has left, what she alone still held is orphaned.
    assert orphans(api, AFTER_D4) == [("Dataset", "customers", "OWNER_LEFT", ["alice"], False),
                                      ("Deployment", "dep-2", "NEVER_OWNED", [], True)]
    assert orphans(api, FUTURE) == orphans(api, None)
    assert [o[1] for o in orphans(api, None)] == ["customers", "dep-3"]


# -- the same answers through the CLI ---------------------------------------------------------

def test_the_cli_answers_as_of_a_date(story: Graph, kb_env, monkeypatch) -> None:
    kb = at_80_columns(monkeypatch)
    prod_then = ok_json(kb("prod", "--env", "production", "--as-of", AFTER_D2, "--json"))
    assert [(d["ref"], d["model_version"], d["deployed_by"], d["owners"])
            for d in prod_then] == [("deployment:dep-2", "model:churn@2", "person:bob",
                                     [{"ref": "person:alice", "role": "owner",
                                       "active": True}])]
    versions = ok_json(kb("who-trained", "churn", "--as-of", AFTER_D2, "--json"))
    assert [(v["ref"], v["aliases"], v["person"]) for v in versions] == [
        ("model:churn@2", ["champion"], "person:bob"), ("model:churn@1", [], "person:alice")]
    assert ok_json(kb("owners", "model:churn", "--as-of", AFTER_D2, "--json")) == [
        {"ref": "person:alice", "active": True}]
    assert ok_json(kb("owners", "model:churn", "--json")) == [
        {"ref": "person:bob", "active": True}]
    held = ok_json(kb("handover", "alice", "--as-of", AFTER_D3, "--json"))
    assert [(h["ref"], h["relations"], h["at_risk"]) for h in held] == [
        ("model:churn", ["TRAINED"], False), ("dataset:customers", ["OWNS"], True)]
    left = ok_json(kb("orphans", "--as-of", AFTER_D4, "--json"))
    assert [(o["ref"], o["reason"]) for o in left] == [
        ("dataset:customers", "OWNER_LEFT"), ("deployment:dep-2", "NEVER_OWNED")]
    assert ok_json(kb("prod", "--as-of", BEFORE, "--json")) == []
    bad = kb("prod", "--as-of", "last tuesday")
    assert bad.exit_code != 0 and "--as-of" in bad.output


# -- cost ---------------------------------------------------------------------------------------

def _hits(plan: Any) -> int:
    return plan.get("dbHits", 0) + sum(_hits(c) for c in plan.get("children", ()))


def db_hits(graph: Graph, statement: str, **params: Any) -> int:
    """The db hits of ``statement``, summed over its profiled plan."""
    def work(tx: Any) -> int:
        return _hits(tx.run("PROFILE " + statement, **params).consume().profile)
    return graph.read(work)


def fresh_plans(graph: Graph) -> None:
    """Forget cached plans, so a statement is planned on the graph it is measured on, as a
    server replans once its statistics moved."""
    graph.write(lambda tx: tx.run("CALL db.clearQueryCaches()").consume())


def grow(client: Client, start: int, count: int, models: bool) -> None:
    """Unrelated history: runs by someone else, and (``models``) the versions they made of
    models owned by that person."""
    b = client.builder()
    for i in range(start, start + count):
        b.run(id=f"noise-{i}", person="zed")
        if models:
            b.model_version(f"noise-{i}", version=1, run_id=f"noise-{i}")
            b.own(f"model:noise-{i}", owner="person:zed", since=D1)
    client.write(b, now=D3)


T = datetime(2026, 4, 20, tzinfo=UTC)
ANCHORED = {
    "deployments live": (production.DEPLOYMENTS_AT[(False, "ACTIVE")],
                         {"environment": None, "status": "ACTIVE", "model": None}),
    "deployments of an environment": (production.DEPLOYMENTS_AT[(True, None)],
                                      {"environment": "production", "status": None,
                                       "model": None}),
    "who trained a version": (training.ONE_VERSION_AT, {"key": "churn@2"}),
    "who trained every version": (training.ALL_VERSIONS_AT, {"model": "churn"}),
    "handover": (ownership.HANDOVER_AT, {"handle": "alice"}),
    "handover now": (ownership.HANDOVER, {"handle": "alice"}),
    "owners of": (ownership.OWNERS_OF_AT[ownership.Label.MODEL], {"keys": ["churn"]}),
    "owners held": (ownership.HELD[ownership.Label.MODEL], {"keys": ["churn"], "limit": 100}),
    "owns held": (ownership.HELD[ownership.Label.PERSON], {"keys": ["alice"], "limit": 100}),
}


@pytest.mark.slow  # fills the graph with hundreds of unrelated runs and models
def test_as_of_reads_cost_the_same_whatever_else_the_graph_holds(story: Graph,
                                                                  client: Client) -> None:
    def measure() -> dict[str, int]:
        fresh_plans(story)
        return {name: db_hits(story, s, asOf=T, production="production", **p)
                for name, (s, p) in ANCHORED.items()}

    grow(client, 0, 20, models=True)
    small = measure()
    grow(client, 20, 380, models=True)
    large = measure()
    assert large == small, {k: (small[k], large[k]) for k in small if small[k] != large[k]}


@pytest.mark.slow  # fills the graph with hundreds of unrelated runs
def test_orphans_as_of_cost_does_not_follow_unrelated_runs(story: Graph,
                                                           client: Client) -> None:
    def measure() -> int:
        return db_hits(story, ownership.ORPHANS_AT, asOf=T, production="production")

    grow(client, 0, 20, models=False)
    small = measure()
    grow(client, 20, 380, models=False)
    assert measure() == small
