"""Runs from different sources do not merge by accident, against the real Neo4j.

The issue's case: an SDK run ``r1`` in experiment A, then an OpenLineage FAIL event whose
``runId`` is ``r1`` and whose job is B. Without sources, the event flipped r1 to FAILED
and attached it to B as well.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from api_support import Api
from typer.testing import CliRunner

from kb.api.app import create_app
from kb.cli import app as cli_app
from kb.config import Config
from kb.domain import Label, Ref
from kb.errors import Conflict
from kb.graph import Graph, show
from kb.graph.stats import counts
from kb.graph.tokens import create_token
from kb.ingest import Client
from kb.ingest.openlineage import parse_events, write_events
from kb.ingest.run import ActiveRun

T0 = datetime(2024, 5, 1, 9, tzinfo=UTC)
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


def ol_event(run_id: str, event_type: str = "FAIL", job: str = "B",
             time: str = "2024-05-01T10:00:00Z", parent: str | None = None) -> dict:
    facets: dict = {"errorMessage": {"message": "boom"}} if event_type == "FAIL" else {}
    if parent:
        facets["parent"] = {"run": {"runId": parent}, "job": {"namespace": "default",
                                                              "name": "dag"}}
    return {"eventType": event_type, "eventTime": time, "producer": PRODUCER,
            "run": {"runId": run_id, "facets": facets},
            "job": {"namespace": "default", "name": job},
            "inputs": [{"namespace": "default", "name": "raw"}], "outputs": []}


def run_of(graph: Graph, run_id: str) -> dict:
    return show(graph, Ref(Label.RUN, run_id))


def sdk_run(client: Client, run_id: str = "r1", **fields) -> None:
    client.log_run(id=run_id, experiment="A", status="COMPLETED", params={"lr": 0.1},
                   started_at=T0, ended_at=T0, **fields)


def test_an_openlineage_event_cannot_rewrite_an_sdk_run(client: Client, graph: Graph) -> None:
    sdk_run(client)
    before, nodes = run_of(graph, "r1"), counts(graph)
    with pytest.raises(Conflict) as err:
        write_events(Client(graph, actor="airflow"), parse_events([ol_event("r1")]))
    assert err.value.field == "run.id"
    assert err.value.message.startswith(
        "run.id: run 'r1' was created by sdk and does not accept writes from openlineage")
    assert run_of(graph, "r1") == before
    assert before["status"] == "COMPLETED"
    assert before["links"]["PART_OF->"]["refs"] == ["experiment:A"]
    assert counts(graph) == nodes  # no experiment B, no note, no dataset


def test_with_the_creator_s_consent_the_events_merge(client: Client, graph: Graph) -> None:
    with ActiveRun(client, experiment="A", person=None, params={"lr": 0.1}, inputs=(),
                   seed=None, name=None, id="r1", capture_env=False, tracker_url=None,
                   parent=None, accept=("openlineage",)):
        pass
    write_events(Client(graph, actor="airflow"), parse_events([ol_event("r1")]))
    run = run_of(graph, "r1")
    assert run["status"] == "FAILED" and run["error"] == "boom"
    assert sorted(run["links"]["PART_OF->"]["refs"]) == ["experiment:A", "experiment:B"]
    assert run["source"] == "sdk" and run["acceptSources"] == ["openlineage"]


def test_an_sdk_write_cannot_rewrite_an_openlineage_run(client: Client, graph: Graph) -> None:
    write_events(Client(graph, actor="airflow"), parse_events([ol_event("ol-1", "START")]))
    before = run_of(graph, "ol-1")
    assert before["source"] == "openlineage"
    with pytest.raises(Conflict) as err:
        sdk_run(client, "ol-1")
    assert "created by openlineage and does not accept writes from sdk" in err.value.message
    assert run_of(graph, "ol-1") == before
    # Its own source goes on merging, duplicates included.
    complete = ol_event("ol-1", "COMPLETE", time="2024-05-01T10:05:00Z")
    write_events(Client(graph, actor="airflow"), parse_events([complete] * 2))
    assert run_of(graph, "ol-1")["status"] == "COMPLETED"


def test_the_cli_and_the_sdk_are_sources_apart(client: Client, graph: Graph) -> None:
    cli = Client(graph, actor="tester", default_person="tester", source="cli")
    sdk_run(client)
    with pytest.raises(Conflict):
        cli.log_run(id="r1", metrics={"auc": 0.9})
    assert run_of(graph, "r1").get("metrics") in (None, {})
    sdk_run(client, "r2", accept=["cli"])
    cli.log_run(id="r2", metrics={"auc": 0.9})
    assert run_of(graph, "r2")["metrics"] == {"auc": 0.9}


def test_kb_run_log_writes_as_the_cli(kb_env: Path, client: Client, graph: Graph,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_USER", "dora")
    runs = kb_env / "runs.json"
    sdk_run(client)
    runs.write_text(json.dumps([{"id": "r1", "metrics": {"auc": 0.9}}]))
    result = CliRunner().invoke(cli_app, ["run", "log", str(runs)])
    assert result.exit_code == 1
    assert "created by sdk and does not accept writes from cli" in result.output
    runs.write_text(json.dumps([{"id": "r-cli", "experiment": "A",
                                 "accept": ["openlineage"]}]))
    assert CliRunner().invoke(cli_app, ["run", "log", str(runs)]).exit_code == 0
    write_events(Client(graph, actor="airflow"), parse_events([ol_event("r-cli")]))
    run = run_of(graph, "r-cli")
    assert run["source"] == "cli" and run["status"] == "FAILED"


def test_a_run_named_only_as_a_parent_is_claimed_by_its_first_writer(client: Client,
                                                                     graph: Graph) -> None:
    child = ol_event("child", "START", parent="dag-run")
    write_events(Client(graph, actor="airflow"), parse_events([child]))
    assert "source" not in run_of(graph, "dag-run")  # a stub: nobody wrote it yet
    sdk_run(client, "dag-run")
    assert run_of(graph, "dag-run")["source"] == "sdk"
    with pytest.raises(Conflict):
        write_events(Client(graph, actor="airflow"), parse_events([ol_event("dag-run", "START")]))


def test_only_runs_that_record_their_source_refuse_other_sources(client: Client,
                                                                graph: Graph) -> None:
    sdk_run(client, "old")
    with pytest.raises(Conflict):
        write_events(Client(graph, actor="airflow"), parse_events([ol_event("old")]))
    # The same run as graphs written before kb recorded sources hold it: open to every
    # source, as it always was.
    graph.write(lambda tx: tx.run("MATCH (r:Run {id: 'old'}) REMOVE r.source").consume())
    write_events(Client(graph, actor="airflow"), parse_events([ol_event("old")]))
    run = run_of(graph, "old")
    assert run["status"] == "FAILED" and "source" not in run
    sdk_run(client, "old")
    assert run_of(graph, "old")["status"] == "COMPLETED"


def test_the_lineage_endpoint_refuses_the_event_and_leaves_the_run(client: Client,
                                                                  graph: Graph) -> None:
    sdk_run(client)
    before = run_of(graph, "r1")
    app = create_app(Config(api_host="127.0.0.1"), graph=graph)
    _, secret = create_token(graph, name="airflow", scope="write", actor="airflow")

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            return await http.post("/api/v1/lineage", json=ol_event("r1"),
                                   headers={"Authorization": f"Bearer {secret}"})

    response = asyncio.run(post())
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["error"] == "CONFLICT"
    assert "run 'r1' was created by sdk" in body["message"]
    assert "from openlineage" in body["message"]
    assert run_of(graph, "r1") == before


def test_graphql_writes_are_their_own_source_and_can_accept_another(client: Client,
                                                                     graph: Graph) -> None:
    api = Api(graph)
    token = api.token("write")
    log = ("mutation($input: LogRunInput!) { logRun(input: $input) "
           "{ run { id status } errors { field message } } }")
    sdk_run(client)
    refused = api.data(log, {"input": {"id": "r1", "status": "FAILED"}}, token=token)["logRun"]
    assert refused["run"] is None
    assert refused["errors"][0]["field"] == "run.id"
    assert "created by sdk" in refused["errors"][0]["message"]
    assert run_of(graph, "r1")["status"] == "COMPLETED"

    opened = {"id": "r2", "experiment": "A", "status": "RUNNING", "accept": ["openlineage"]}
    assert api.data(log, {"input": opened}, token=token)["logRun"]["run"]["status"] == "RUNNING"
    assert run_of(graph, "r2")["source"] == "api"
    write_events(Client(graph, actor="airflow"), parse_events([ol_event("r2", job="A")]))
    assert run_of(graph, "r2")["status"] == "FAILED"
