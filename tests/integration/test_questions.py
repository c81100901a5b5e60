"""The questions kb answers, on a small history written through the SDK's Client.

The history (answers below are worked out by hand from it):

    raw@1 -> clean@1 -> features@1 -> train@1         (derivations, each a "derive:" run)
    run-a1  alice  USED train@1 (train), eval@1 (validation)   PRODUCED churn@1
    run-b2  bob    USED train@1, features@1, eval@1            PRODUCED churn@2
    run-c3  carol  USED features@1                             PRODUCED fraud@1
    dep-churn-1-prod  churn@1 production  by alice  (retired when churn@2 took over)
    dep-churn-2-prod  churn@2 production  by bob
    dep-churn-2-stg   churn@2 staging     by carol
    dep-fraud-1-prod  fraud@1 production  by carol
    alice left on 2026-01-15.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kb.domain import parse_ref, to_global_id
from kb.errors import InvalidInput, NotFound
from kb.graph import Graph, deployments, impact, lineage, show, who_trained
from kb.ingest import Client

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int) -> datetime:
    return T0.replace(day=day)


def gid(ref: str) -> str:
    r = parse_ref(ref)
    return to_global_id(r.label, r.key)


def build_history(client: Client) -> None:
    with client.batch() as b:
        b.team("ml")
        b.person("alice", name="Alice Liddell", team="ml", left_at="2026-01-15T00:00:00Z")
        b.person("bob", name="Bob Marley", team="ml")
        b.person("carol", name="Carol Danvers", team="ml")
        b.dataset_version("raw", "1", digest="sha256:raw1", uri="s3://d/raw/1")
        b.dataset_version("clean", "1", digest="sha256:clean1", derived_from=["raw@1"])
        b.dataset_version("features", "1", digest="sha256:feat1", derived_from=["clean@1"])
        b.dataset_version("train", "1", digest="sha256:train1", uri="s3://d/train/1",
                          derived_from=["features@1"])
        b.dataset_version("eval", "1", digest="sha256:eval1")
    client.log_run(
        id="run-a1", person="alice", experiment="churn", params={"lr": 0.1, "depth": 6},
        metrics={"auc": 0.81}, inputs=[("train", "1", "train"), ("eval", "1", "validation")],
        code={"repo": "git@example.com:ml/churn.git", "commit": "abc123", "branch": "main",
              "dirty": False},
        command="python train.py --lr 0.1", seed=7, started_at=at(2), ended_at=at(3),
        models=[{"model": "churn"}])
    client.log_run(
        id="run-b2", person="bob", experiment="churn", params={"lr": 0.05},
        metrics={"auc": 0.86},
        inputs=[("train", "1", "train"), ("features", "1", "other"),
                ("eval", "1", "validation")],
        started_at=at(5), ended_at=at(6), models=[{"model": "churn", "aliases": ["champion"]}])
    client.log_run(id="run-c3", person="carol", inputs=["features@1"], started_at=at(7),
                   models=[{"model": "fraud"}])
    client.deploy("churn", 1, environment="production", by="alice", id="dep-churn-1-prod",
                  deployed_at=at(4))
    client.deploy("churn", 2, environment="production", by="bob", id="dep-churn-2-prod",
                  deployed_at=at(8))
    client.deploy("churn", 2, environment="staging", by="carol", id="dep-churn-2-stg",
                  deployed_at=at(7))
    client.deploy("fraud", 1, environment="production", by="carol", id="dep-fraud-1-prod",
                  deployed_at=at(9))


@pytest.fixture
def history(client: Client, graph: Graph) -> Graph:
    build_history(client)
    return graph


def keys(answer) -> set[str]:
    return {n.key for n in answer.nodes}


def edges(answer) -> set[tuple[str, str, str]]:
    names = {n.id: n.key for n in answer.nodes}
    return {(names[e.source], e.type, names[e.target]) for e in answer.edges}


# -- who trained ---------------------------------------------------------------------------
def test_who_trained_every_version_newest_first(history: Graph) -> None:
    facts = who_trained(history, "churn")
    assert [f.version for f in facts] == ["2", "1"]
    v1 = facts[1]
    assert (v1.person, v1.person_name, v1.person_active) == ("alice", "Alice Liddell", False)
    assert (v1.run_id, v1.run_status, v1.experiment) == ("run-a1", "COMPLETED", "churn")
    assert v1.params == {"lr": 0.1, "depth": 6}
    assert v1.metrics == {"auc": 0.81}
    assert {(i.dataset, i.version, i.digest, i.role) for i in v1.inputs} == {
        ("train", "1", "sha256:train1", "train"), ("eval", "1", "sha256:eval1", "validation")}
    assert next(i for i in v1.inputs if i.dataset == "train").uri == "s3://d/train/1"
    assert (v1.repo, v1.commit, v1.branch, v1.dirty) == (
        "git@example.com:ml/churn.git", "abc123", "main", False)
    assert (v1.command, v1.seed) == ("python train.py --lr 0.1", 7)
    assert v1.started_at == at(2) and v1.ended_at == at(3)
    v2 = facts[0]
    assert (v2.person, v2.person_active, v2.aliases) == ("bob", True, ("champion",))
    assert len(v2.inputs) == 3


def test_who_trained_one_version(history: Graph) -> None:
    (fact,) = who_trained(history, "churn", "2")
    assert (fact.model, fact.version, fact.run_id) == ("churn", "2", "run-b2")


def test_who_trained_sorts_numbers_numerically(client: Client, graph: Graph) -> None:
    for version in ("9", "10", "2"):
        client.register_model("m", version=version)
    assert [f.version for f in who_trained(graph, "m")] == ["10", "9", "2"]
    assert who_trained(graph, "m", "10")[0].run_id is None


def test_who_trained_names_what_is_missing(history: Graph) -> None:
    with pytest.raises(NotFound) as missing_model:
        who_trained(history, "nope")
    assert (missing_model.value.kind, missing_model.value.key) == ("model", "nope")
    with pytest.raises(NotFound) as missing_version:
        who_trained(history, "churn", "9")
    assert (missing_version.value.kind, missing_version.value.key) == (
        "model version", "churn@9")


# -- lineage -------------------------------------------------------------------------------
def test_upstream_of_a_model_version_reaches_raw_data_and_people(history: Graph) -> None:
    answer = lineage(history, parse_ref("model:churn@1"), direction="UPSTREAM", depth=10)
    assert answer.root == gid("model:churn@1")
    assert (answer.direction, answer.depth, answer.truncated) == ("UPSTREAM", 10, False)
    assert keys(answer) == {
        "churn@1", "run-a1", "alice", "train@1", "eval@1", "derive:train@1", "features@1",
        "derive:features@1", "clean@1", "derive:clean@1", "raw@1"}
    # Relationships keep their stored direction whichever way the walk went.
    assert {("run-a1", "PRODUCED", "churn@1"), ("alice", "TRAINED", "run-a1"),
            ("run-a1", "USED", "train@1"), ("derive:train@1", "PRODUCED", "train@1"),
            ("derive:clean@1", "USED", "raw@1")} <= edges(answer)
    people = [n for n in answer.nodes if n.label == "Person"]
    assert [(p.id, p.name) for p in people] == [(gid("person:alice"), "Alice Liddell")]


def test_depth_counts_relationships(history: Graph) -> None:
    answer = lineage(history, parse_ref("model:churn@1"), direction="UPSTREAM", depth=2)
    assert keys(answer) == {"churn@1", "run-a1", "alice", "train@1", "eval@1"}


def test_downstream_of_raw_data_reaches_models_deployments_and_deployers(
        history: Graph) -> None:
    answer = lineage(history, parse_ref("dataset:raw@1"), direction="DOWNSTREAM", depth=10)
    assert {"churn@1", "churn@2", "fraud@1", "dep-churn-1-prod", "dep-churn-2-prod",
            "dep-churn-2-stg", "dep-fraud-1-prod", "alice", "bob", "carol"} <= keys(answer)
    assert "eval@1" not in keys(answer)  # a sibling input is not downstream of raw data
    assert {("dep-churn-2-prod", "SERVES", "churn@2"), ("bob", "DEPLOYED", "dep-churn-2-prod"),
            ("run-c3", "USED", "features@1"), ("carol", "TRAINED", "run-c3")} <= edges(answer)


def test_both_directions_from_a_middle_dataset_version(history: Graph) -> None:
    answer = lineage(history, parse_ref("dataset:features@1"), direction="BOTH", depth=2)
    assert keys(answer) == {
        "features@1", "derive:features@1", "clean@1",  # upstream, two hops
        "derive:train@1", "train@1", "run-b2", "churn@2", "bob", "run-c3", "fraud@1",
        "carol"}


def test_a_dataset_starts_from_all_its_versions(client: Client, history: Graph) -> None:
    client.dataset_version("raw", "2", derived_from=["raw@1"])
    answer = lineage(history, parse_ref("dataset:raw"), direction="DOWNSTREAM", depth=2)
    assert ("raw@1", "VERSION_OF", "raw") in edges(answer)
    assert ("raw@2", "VERSION_OF", "raw") in edges(answer)
    assert {"clean@1", "derive:clean@1", "derive:raw@2"} <= keys(answer)


def test_a_model_and_a_run_are_starts_too(history: Graph) -> None:
    model = lineage(history, parse_ref("churn", default="model"), direction="DOWNSTREAM",
                    depth=1)
    assert {"churn@1", "churn@2", "dep-churn-2-prod", "dep-churn-2-stg",
            "dep-churn-1-prod"} <= keys(model)
    run = lineage(history, parse_ref("run:run-b2"), direction="BOTH", depth=1)
    assert keys(run) == {"run-b2", "bob", "train@1", "features@1", "eval@1", "churn@2"}


def test_an_experiment_starts_from_its_runs(history: Graph) -> None:
    answer = lineage(history, parse_ref("experiment:churn"), direction="DOWNSTREAM", depth=1)
    assert keys(answer) == {"churn", "run-a1", "run-b2", "alice", "bob", "churn@1", "churn@2"}
    assert ("run-a1", "PART_OF", "churn") in edges(answer)


def test_people_are_not_a_start(history: Graph) -> None:
    with pytest.raises(InvalidInput) as err:
        lineage(history, parse_ref("person:alice"))
    assert err.value.field == "entity"


def test_per_hop_cap_truncates_and_says_so(client: Client, graph: Graph) -> None:
    with client.batch() as b:
        for i in range(300):
            b.run(id=f"wide-{i:03d}", inputs=["wide@1"])
    capped = lineage(graph, parse_ref("dataset:wide@1"), direction="DOWNSTREAM", depth=1,
                     per_hop_limit=50)
    assert capped.truncated is True
    assert sum(1 for n in capped.nodes if n.label == "Run") == 50
    full = lineage(graph, parse_ref("dataset:wide@1"), direction="DOWNSTREAM", depth=1,
                   per_hop_limit=300)
    assert full.truncated is False
    assert sum(1 for n in full.nodes if n.label == "Run") == 300


@pytest.mark.parametrize("depth", [0, 11])
def test_depth_out_of_range_is_invalid(history: Graph, depth: int) -> None:
    with pytest.raises(InvalidInput) as err:
        lineage(history, parse_ref("model:churn@1"), depth=depth)
    assert err.value.field == "depth"


def test_lineage_refuses_bad_direction_and_unknown_roots(history: Graph) -> None:
    with pytest.raises(InvalidInput) as bad:
        lineage(history, parse_ref("model:churn@1"), direction="SIDEWAYS")
    assert bad.value.field == "direction"
    with pytest.raises(NotFound) as missing:
        lineage(history, parse_ref("dataset:ghost@1"))
    assert (missing.value.kind, missing.value.key) == ("dataset version", "ghost@1")


# -- impact ----------------------------------------------------------------------------------
def test_impact_lists_models_and_only_active_deployments(history: Graph) -> None:
    items = impact(history, "raw", "1")
    found = {(i.kind, i.key) for i in items}
    assert found == {
        ("MODEL_VERSION", "churn@1"), ("MODEL_VERSION", "churn@2"),
        ("MODEL_VERSION", "fraud@1"), ("DEPLOYMENT", "dep-churn-2-prod"),
        ("DEPLOYMENT", "dep-churn-2-stg"), ("DEPLOYMENT", "dep-fraud-1-prod")}
    prod = next(i for i in items if i.key == "dep-churn-2-prod")
    assert (prod.model, prod.version, prod.environment, prod.status) == (
        "churn", "2", "production", "ACTIVE")
    assert prod.deployed_at == at(8)


def test_impact_paths_are_shortest(history: Graph) -> None:
    by_key = {i.key: i for i in impact(history, "raw", "1")}
    # churn@2 read features@1 directly, so its path skips train@1.
    assert [n.key for n in by_key["churn@2"].path] == [
        "raw@1", "derive:clean@1", "clean@1", "derive:features@1", "features@1", "run-b2",
        "churn@2"]
    assert by_key["churn@2"].hops == 6
    assert [n.key for n in by_key["churn@1"].path] == [
        "raw@1", "derive:clean@1", "clean@1", "derive:features@1", "features@1",
        "derive:train@1", "train@1", "run-a1", "churn@1"]
    assert by_key["churn@1"].hops == 8
    assert [n.key for n in by_key["dep-churn-2-stg"].path][-2:] == ["churn@2",
                                                                   "dep-churn-2-stg"]
    assert by_key["dep-churn-2-stg"].hops == 7


def test_impact_of_every_version_of_a_dataset(history: Graph) -> None:
    items = impact(history, "eval")
    assert {i.key for i in items} == {"churn@1", "churn@2", "dep-churn-2-prod",
                                      "dep-churn-2-stg"}
    assert all(i.path[0].key == "eval@1" for i in items)


def test_impact_of_unknown_data(history: Graph) -> None:
    with pytest.raises(NotFound):
        impact(history, "ghost")
    with pytest.raises(NotFound) as err:
        impact(history, "raw", "9")
    assert err.value.key == "raw@9"


# -- deployments -----------------------------------------------------------------------------
def test_production_right_now(history: Graph) -> None:
    facts = deployments(history, environment="Production")
    assert [(f.model, f.version, f.deployed_by, f.trained_by) for f in facts] == [
        ("churn", "2", "bob", "bob"), ("fraud", "1", "carol", "carol")]
    assert facts[0].deployed_at == at(8)
    assert facts[0].run_id == "run-b2"
    assert facts[0].deployed_by_name == "Bob Marley"


def test_history_includes_the_retired_and_flags_people_who_left(history: Graph) -> None:
    facts = {f.id: f for f in deployments(history, status=None, model="churn")}
    assert set(facts) == {"dep-churn-1-prod", "dep-churn-2-prod", "dep-churn-2-stg"}
    old = facts["dep-churn-1-prod"]
    assert old.status == "RETIRED" and old.retired_at is not None
    assert (old.deployed_by, old.deployed_by_active, old.trained_by_active) == (
        "alice", False, False)
    retired = deployments(history, status="retired")
    assert [f.id for f in retired] == ["dep-churn-1-prod"]
    with pytest.raises(InvalidInput) as err:
        deployments(history, status="SLEEPING")
    assert err.value.field == "status"


# -- show ------------------------------------------------------------------------------------
def test_show_a_run_with_decoded_params_and_links(history: Graph) -> None:
    run = show(history, parse_ref("run:run-a1"))
    assert run["params"] == {"lr": 0.1, "depth": 6}
    assert run["metrics"] == {"auc": 0.81}
    assert run["startedAt"] == at(2)
    assert run["ref"] == "run:run-a1"
    assert run["links"]["USED->"] == {"count": 2,
                                      "refs": ["dataset:eval@1", "dataset:train@1"]}
    assert run["links"]["<-TRAINED"]["refs"] == ["person:alice"]
    assert run["links"]["PRODUCED->"]["refs"] == ["model:churn@1"]


def test_show_a_person_and_a_dataset_version(history: Graph) -> None:
    alice = show(history, parse_ref("person:alice"))
    assert alice["active"] is False and alice["leftAt"] == datetime(2026, 1, 15, tzinfo=UTC)
    assert alice["links"]["TRAINED->"]["refs"] == ["run:run-a1"]
    assert alice["links"]["DEPLOYED->"]["refs"] == ["deployment:dep-churn-1-prod"]
    assert alice["links"]["MEMBER_OF->"]["refs"] == ["team:ml"]
    raw = show(history, parse_ref("dataset:raw@1"))
    assert (raw["digest"], raw["uri"]) == ("sha256:raw1", "s3://d/raw/1")
    assert raw["links"]["<-USED"]["refs"] == ["run:derive:clean@1"]


def test_show_caps_links_but_counts_them_all(client: Client, graph: Graph) -> None:
    with client.batch() as b:
        for i in range(120):
            b.run(id=f"many-{i:03d}", inputs=["popular@1"])
    dv = show(graph, parse_ref("dataset:popular@1"))
    assert dv["links"]["<-USED"]["count"] == 120
    assert len(dv["links"]["<-USED"]["refs"]) == 50


def test_show_missing_entity(history: Graph) -> None:
    with pytest.raises(NotFound) as err:
        show(history, parse_ref("model:churn@77"))
    assert (err.value.kind, err.value.key) == ("model version", "churn@77")
