"""One entity, one set of values: the API's reader, ``show``, the questions and the site's
reads give the same Python values for an entity's own properties."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kb.domain import Label, Ref
from kb.graph import Graph, show, who_trained
from kb.graph import pages as site
from kb.graph.compare import compare_runs
from kb.graph.nodes import nodes_by_keys
from kb.graph.properties import read_json
from kb.ingest import Client

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def history(client: Client, graph: Graph) -> Graph:
    with client.batch() as b:
        b.team("ml", description="Machine learning")
        b.person("alice", name="Alice", email="alice@example.com", team="ml",
                 left_at="2026-01-15T00:00:00Z")
        b.dataset("customers", domain="crm", datasheet={"motivation": "churn", "uses": "ml"})
        b.dataset_version("customers", "1", digest="sha256:c1", rows=10,
                          schema=["id", {"name": "age", "type": "int"}])
    client.log_run(id="run-1", person="alice", params={"lr": 0.1, "depth": 6},
                   metrics={"auc": 0.8}, inputs=[("customers", "1", "train")], seed=7,
                   command="python train.py", started_at=T0.replace(day=2),
                   ended_at=T0.replace(day=3), models=[{"model": "churn"}])
    client.log_run(id="run-2", person="alice", params={"lr": 0.2}, metrics={"auc": 0.9},
                   started_at=T0.replace(day=4), models=[{"model": "churn"}])
    client.deploy("churn", 2, environment="production", by="alice", id="dep-1",
                  deployed_at=T0.replace(day=5))
    client.own("model:churn", owner="alice", since=T0.replace(day=6))
    return graph


def _api(graph: Graph, label: Label, key: str) -> dict[str, Any]:
    return graph.read(nodes_by_keys, label, [key])[key]


def _same(values: dict[str, Any], reference: dict[str, Any]) -> None:
    """Every property of ``values`` that the reference holds has the reference's value."""
    shown = {k: v for k, v in values.items() if k in reference}
    assert shown == {k: reference[k] for k in shown}


def test_show_gives_what_the_api_reads(history: Graph) -> None:
    for label, key in ((Label.RUN, "run-1"), (Label.PERSON, "alice"),
                       (Label.DATASET, "customers"), (Label.DATASET_VERSION, "customers@1"),
                       (Label.DEPLOYMENT, "dep-1"), (Label.MODEL_VERSION, "churn@1")):
        entity = show(history, Ref(label, key))
        props = {k: v for k, v in entity.items() if k not in ("ref", "label", "links")}
        assert props == _api(history, label, key)
    run = _api(history, Label.RUN, "run-1")
    assert run["params"] == {"lr": 0.1, "depth": 6}
    assert run["startedAt"] == T0.replace(day=2)


def test_the_site_reads_the_same_values(history: Graph) -> None:
    person = history.read(site.people, ["alice"])[0]["person"]
    _same({k: v for k, v in person.items() if k != "active"}, _api(history, Label.PERSON, "alice"))
    assert person["leftAt"] == datetime(2026, 1, 15, tzinfo=UTC)

    data = history.read(site.datasets, ["customers"])
    dataset = data["datasets"][0]["dataset"]
    _same(dataset, _api(history, Label.DATASET, "customers"))
    assert dataset["datasheet"] == {"motivation": "churn", "uses": "ml"}
    _same(data["versions"][0]["version"], _api(history, Label.DATASET_VERSION, "customers@1"))

    cards = history.read(site.models, ["churn"])
    assert cards["models"][0]["owners"][0]["since"] == T0.replace(day=6)
    for row in cards["versions"]:
        run = row["run"]
        api = _api(history, Label.RUN, run["id"])
        # the site keeps params and metrics as their text, decoded once per text later
        _same({**run, "params": read_json(run["params"]),
               "metrics": read_json(run["metrics"])}, api)
        _same(row["version"], _api(history, Label.MODEL_VERSION, row["version"]["key"]))
        for d in row["deployments"]:
            _same(d, _api(history, Label.DEPLOYMENT, d["id"]))
    team = history.read(site.teams, ["ml"])[0]["team"]
    assert team == _api(history, Label.TEAM, "ml")
    # the production page reads the production answer, whose fields the entity shares
    fact = history.read(site.deployments)[0]
    api = _api(history, Label.DEPLOYMENT, "dep-1")
    assert (fact.id, fact.environment, fact.endpoint, fact.status, fact.deployed_at) == (
        api["id"], api["environment"], api.get("endpoint"), api["status"], api["deployedAt"])


def test_the_questions_read_the_same_values(history: Graph) -> None:
    facts = {f.run_id: f for f in who_trained(history, "churn")}
    for run_id, fact in facts.items():
        run = _api(history, Label.RUN, run_id)
        assert (fact.params, fact.metrics, fact.started_at, fact.ended_at, fact.seed) == (
            run["params"], run["metrics"], run["startedAt"], run.get("endedAt"),
            run.get("seed"))
    version = _api(history, Label.MODEL_VERSION, "churn@1")
    assert facts["run-1"].created_at == version["createdAt"]

    diff = compare_runs(history, "run-1", "run-2")
    assert {c.key: (c.a, c.b) for c in diff.params} == {"depth": (6, None), "lr": (0.1, 0.2)}
    assert {c.key: (c.a, c.b) for c in diff.metrics} == {"auc": (0.8, 0.9)}
