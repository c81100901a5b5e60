"""Every write path leaves its change record, naming who wrote and through which path:
the SDK, the CLI, GraphQL, the OpenLineage endpoint and the MLflow importer, and each
kind of write among them (people leaving, notes, ownership, deploy and retire)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from api_support import Api
from cli_support import at_80_columns, ok
from test_mlflow import store  # noqa: F401 - the fixture, shared

from kb.domain.changes import ChangeFact
from kb.graph import Graph
from kb.graph.history import changes, history
from kb.ingest import Client
from kb.ingest.mlflow_import import import_mlflow

pytestmark = pytest.mark.usefixtures("graph")


def latest(graph: Graph, kind: str, key: str) -> ChangeFact:
    page = graph.read(lambda tx: history(tx, kind, key, first=1))
    assert page.items, f"no change recorded for {kind}:{key}"
    return page.items[0]


def everything(graph: Graph) -> list[ChangeFact]:
    return list(graph.read(lambda tx: changes(tx, first=1000)).items)


def test_the_cli_records_each_write_as_the_user(kb_env: Path, graph: Graph,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    kb = at_80_columns(monkeypatch, user="dora")
    ok(kb("person", "add", "alice", "--name", "Alice", "--team", "ml"))
    ok(kb("model", "register", "churn"))
    ok(kb("deploy", "churn@1", "--env", "production"))
    ok(kb("own", "model:churn", "--owner", "alice"))
    ok(kb("transfer", "model:churn", "--from", "alice", "--to", "dora"))
    ok(kb("note", "model:churn", "retrain monthly"))
    ok(kb("person", "leave", "alice", "--at", "2026-05-01"))
    records = everything(graph)
    assert {(c.actor, c.path) for c in records} == {("dora", "cli")}
    left = latest(graph, "Person", "alice")
    assert left.fields["active"] == (None, False)
    assert left.fields["leftAt"][1].startswith("2026-05-01")
    owns = [(x.action, x.key) for c in reversed(records) if c.kind == "Model"
            for x in c.links if x.rel == "OWNS"]
    assert owns == [("add", "alice"), ("close", "alice"), ("add", "dora")]
    deployment = next(c for c in records if c.kind == "Deployment")
    ok(kb("retire", deployment.key))
    assert latest(graph, "Deployment", deployment.key).fields["status"] == (
        "ACTIVE", "RETIRED")
    note = next(c for c in records if c.kind == "Note")
    assert note.op == "create" and {(x.rel, x.key) for x in note.links} >= {
        ("ABOUT", "churn"), ("WROTE", "dora")}


def test_graphql_mutations_record_the_token_actor(graph: Graph) -> None:
    api = Api(graph)
    token = api.token("write", actor="erin")
    api.data('mutation { recordPerson(input: {handle: "frank", name: "Frank"}) '
             "{ errors { code } } }", token=token)
    api.data('mutation { addNote(about: "person:frank", body: "onboarding") '
             "{ errors { code } } }", token=token)
    person = latest(graph, "Person", "frank")
    assert (person.op, person.actor, person.path) == ("create", "erin", "api")
    assert "name" in person.fields


def test_openlineage_events_record_their_runs(graph: Graph) -> None:
    api = Api(graph)
    token = api.token("write", actor="airflow")
    run_id = str(uuid.UUID(int=9))
    event = {"eventType": "START", "eventTime": "2024-05-01T10:00:00Z",
             "producer": "https://example.com/producer",
             "run": {"runId": run_id}, "job": {"namespace": "etl", "name": "x"},
             "inputs": [{"namespace": "s3://lake", "name": "t"}]}
    response = api.http("POST", "/api/v1/lineage", json=event,
                        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 300, response.text
    run = next(c for c in everything(graph) if c.kind == "Run")
    assert (run.op, run.actor, run.path) == ("create", "airflow", "openlineage")
    finished = {**event, "eventType": "COMPLETE", "eventTime": "2024-05-01T11:00:00Z"}
    api.http("POST", "/api/v1/lineage", json=finished,
             headers={"Authorization": f"Bearer {token}"})
    assert latest(graph, "Run", run.key).fields["status"][1] == "COMPLETED"


def test_the_mlflow_import_records_its_runs_and_alias(graph: Graph, store: dict,  # noqa: F811
                                                      ) -> None:
    import_mlflow(graph, store["uri"], actor="importer")
    records = everything(graph)
    assert {(c.actor, c.path) for c in records} == {("importer", "mlflow")}
    assert sum(c.kind == "Run" and c.op == "create" for c in records) == 2
    aliases = [x for c in records if c.kind == "Model" for x in c.links if x.rel == "ALIAS"]
    assert [(x.key, x.props["alias"]) for x in aliases] == [("churn@2", "champion")]
    import_mlflow(graph, store["uri"], actor="importer")
    assert len(everything(graph)) == len(records)  # a second import changes nothing


def test_the_sdk_records_its_person(graph: Graph) -> None:
    Client(graph, actor="gina").log_run(id="r1", person="gina")
    assert latest(graph, "Run", "r1").actor == "gina"
    assert latest(graph, "Run", "r1").path == "sdk"
