"""OpenLineage over HTTP against a live server and the real Neo4j.

The real ``openlineage-python`` client (HTTP transport, gzip, bearer token) sends the
events; lineage and impact are then read back through ``kb.graph``.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    error_message_run,
    execution_parameters_run,
    ownership_job,
    schema_dataset,
    source_code_location_job,
)
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from kb.api.app import create_app
from kb.config import Config
from kb.domain import Label, Ref, to_global_id
from kb.graph import Graph, show
from kb.graph.stats import counts
from kb.graph.tokens import create_token
from kb.ingest import Client

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
NS = "postgres://warehouse:5432"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    write_token: str
    read_token: str


@pytest.fixture
def server(graph: Graph) -> Iterator[Server]:
    """kb's API app on uvicorn, on a free loopback port, in a thread."""
    app = create_app(Config(api_host="127.0.0.1"), graph=graph)
    app.state.lineage_max_bytes = 64 * 1024
    _, write_secret = create_token(graph, name="airflow", scope="write", actor="airflow")
    _, read_secret = create_token(graph, name="viewer", scope="read", actor="viewer")
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", write_secret, read_secret)
    uv.should_exit = True
    thread.join(timeout=10)


def ol_client(server: Server) -> OpenLineageClient:
    config = HttpConfig(url=server.url, auth=ApiKeyTokenProvider({"apiKey": server.write_token}),
                        compression=HttpCompression.GZIP, retry={"total": 0}, timeout=120)
    return OpenLineageClient(transport=HttpTransport(config))


RUN_A = str(uuid.UUID(int=1))
RUN_B = str(uuid.UUID(int=2))


def pipeline_events() -> list[RunEvent]:
    """Two jobs: clean reads raw and writes clean; features reads clean and writes features."""
    schema = schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name="id", type="BIGINT"),
        schema_dataset.SchemaDatasetFacetFields(name="email", type="VARCHAR")])
    code = source_code_location_job.SourceCodeLocationJobFacet(
        type="git", url="https://github.com/acme/etl/blob/main/dags/clean.py",
        repoUrl="https://github.com/acme/etl.git", version="4f2a9c1", branch="main")
    owners = ownership_job.OwnershipJobFacet(owners=[ownership_job.Owner(name="user:alice")])
    params = execution_parameters_run.ExecutionParametersRunFacet(parameters=[
        execution_parameters_run.ExecutionParameter(key="batch_size", value="500")])
    clean = Job(namespace="etl", name="clean_customers",
                facets={"sourceCodeLocation": code, "ownership": owners})
    feats = Job(namespace="etl", name="build_features")
    raw_in = InputDataset(namespace=NS, name="public.customers")
    clean_out = OutputDataset(namespace=NS, name="public.customers_clean",
                              facets={"schema": schema})
    clean_in = InputDataset(namespace=NS, name="public.customers_clean")
    feats_out = OutputDataset(namespace=NS, name="public.features")
    return [
        RunEvent(eventType=RunState.START, eventTime="2024-05-01T10:00:00.000Z",
                 run=Run(runId=RUN_A, facets={"executionParameters": params}), job=clean,
                 producer=PRODUCER, inputs=[raw_in], outputs=[]),
        RunEvent(eventType=RunState.COMPLETE, eventTime="2024-05-01T10:20:00.000Z",
                 run=Run(runId=RUN_A), job=clean, producer=PRODUCER,
                 inputs=[raw_in], outputs=[clean_out]),
        RunEvent(eventType=RunState.START, eventTime="2024-05-01T11:00:00.000Z",
                 run=Run(runId=RUN_B), job=feats, producer=PRODUCER,
                 inputs=[clean_in], outputs=[]),
        RunEvent(eventType=RunState.FAIL, eventTime="2024-05-01T11:05:00.000Z",
                 run=Run(runId=RUN_B, facets={"errorMessage": error_message_run.
                                               ErrorMessageRunFacet(
                                                   message="disk full",
                                                   programmingLanguage="python")}),
                 job=feats, producer=PRODUCER, inputs=[clean_in], outputs=[feats_out]),
    ]


def runs(graph: Graph) -> dict[str, dict]:
    drop = {"createdAt", "updatedAt", "updatedBy"}
    out = {}
    for run_id in (RUN_A, RUN_B):
        entity = show(graph, Ref(Label.RUN, run_id))
        out[run_id] = {k: v for k, v in entity.items() if k not in drop}
    return out


def expected_state(graph: Graph) -> None:
    a, b = runs(graph).values()
    assert a["status"] == "COMPLETED" and b["status"] == "FAILED"
    assert a["kind"] == "pipeline" and a["producer"] == PRODUCER
    assert a["startedAt"].isoformat() == "2024-05-01T10:00:00+00:00"
    assert a["endedAt"].isoformat() == "2024-05-01T10:20:00+00:00"
    assert a["params"] == {"batch_size": "500"}
    assert b["error"] == "disk full"
    assert a["links"]["PART_OF->"]["refs"] == ["experiment:etl/clean_customers"]
    assert a["links"]["AT_COMMIT->"]["refs"] == [
        "code:https://github.com/acme/etl.git@4f2a9c1"]
    assert b["links"]["<-ABOUT"]["count"] == 1  # the failure note
    experiment = show(graph, Ref(Label.EXPERIMENT, "etl/clean_customers"))
    assert experiment["links"]["<-OWNS"]["refs"] == ["person:alice"]
    dv = show(graph, Ref(Label.DATASET_VERSION, f"{NS}/public.customers_clean@unversioned"))
    assert dv["schema"] == {"fields": [{"name": "id", "type": "BIGINT"},
                                       {"name": "email", "type": "VARCHAR"}]}


def test_client_events_give_lineage_and_impact(graph: Graph, server: Server):
    client = ol_client(server)
    for event in pipeline_events():
        client.emit(event)
    expected_state(graph)

    raw = f"{NS}/public.customers@unversioned"
    clean = f"{NS}/public.customers_clean@unversioned"
    feats = f"{NS}/public.features@unversioned"
    down = graphql(server, LINEAGE, {"id": to_global_id(Label.DATASET_VERSION, raw),
                                     "direction": "DOWNSTREAM", "depth": 4})["lineage"]
    keys = {n["id"]: n["key"] for n in down["nodes"]}
    edges = {(keys[e["source"]], e["type"], keys[e["target"]]) for e in down["edges"]}
    assert {(RUN_A, "USED", raw), (RUN_A, "PRODUCED", clean), (RUN_B, "USED", clean),
            (RUN_B, "PRODUCED", feats)} <= edges
    up = graphql(server, LINEAGE, {"id": to_global_id(Label.DATASET_VERSION, feats),
                                   "direction": "UPSTREAM", "depth": 4})["lineage"]
    assert {raw, clean, RUN_A, RUN_B} <= {n["key"] for n in up["nodes"]}

    # A model trained on the features and deployed: impact of the raw table reaches both.
    kb = Client(graph, actor="tester", default_person="bob")
    kb.log_run(id="train-1", inputs=[(f"{NS}/public.features", "unversioned")],
               models=[{"model": "churn", "version": "1"}])
    kb.deploy("churn", "1", environment="production", by="bob")
    items = graphql(server, IMPACT, {"dataset": f"{NS}/public.customers"})["impact"]
    assert {(i["kind"], i["model"], i["version"]) for i in items} == {
        ("MODEL_VERSION", "churn", "1"), ("DEPLOYMENT", "churn", "1")}
    (model_item,) = [i for i in items if i["kind"] == "MODEL_VERSION"]
    assert [n["key"] for n in model_item["path"]] == [raw, RUN_A, clean, RUN_B, feats,
                                                      "train-1", "churn@1"]


LINEAGE = """query($id: ID!, $direction: Direction, $depth: Int) {
  lineage(id: $id, direction: $direction, depth: $depth) {
    nodes { id key } edges { source target type } } }"""
IMPACT = """query($dataset: String!) {
  impact(dataset: $dataset) { kind model version path { key } } }"""


def post(url: str, **kwargs) -> httpx.Response:
    """httpx.post with room for a loaded CI machine."""
    return httpx.post(url, timeout=120, **kwargs)


def graphql(server: Server, query: str, variables: dict) -> dict:
    resp = post(f"{server.url}/graphql", json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {server.read_token}"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert not body.get("errors"), body
    return body["data"]


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_duplicates_and_order_do_not_change_the_graph(graph: Graph, server: Server, order):
    client = ol_client(server)
    events = pipeline_events()
    for event in events if order == "forward" else reversed(events):
        client.emit(event)
    expected_state(graph)
    before, state = counts(graph), runs(graph)
    for event in reversed(events):
        client.emit(event)
    for event in events:
        client.emit(event)
    assert counts(graph) == before
    assert runs(graph) == state


def test_batch_endpoint_and_gzip(graph: Graph, server: Server):
    from openlineage.client.serde import Serde

    events = [json.loads(Serde.to_json(e)) for e in pipeline_events()]
    body = gzip.compress(json.dumps(events).encode())
    resp = post(f"{server.url}/api/v1/lineage/batch", content=body, headers={
        "Authorization": f"Bearer {server.write_token}", "Content-Encoding": "gzip",
        "Content-Type": "application/json"})
    assert resp.status_code == 201, resp.text
    assert resp.json() == {"accepted": 4, "runs": 2}
    expected_state(graph)


def _valid() -> dict:
    return {"eventType": "START", "eventTime": "2024-05-01T10:00:00Z", "producer": PRODUCER,
            "run": {"runId": str(uuid.UUID(int=9))},
            "job": {"namespace": "etl", "name": "x"},
            "inputs": [{"namespace": NS, "name": "t"}]}


def _bad(mutate) -> dict:
    event = _valid()
    mutate(event)
    return event


BAD = {
    "missing runId": (_bad(lambda e: e["run"].pop("runId")), "runId"),
    "unparseable eventTime": (_bad(lambda e: e.update(eventTime="not a time")), "eventTime"),
    "unknown eventType": (_bad(lambda e: e.update(eventType="FINISHED")), "eventType"),
    "wrong types": (_bad(lambda e: e.update(inputs="t")), "inputs"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_events_are_refused_and_nothing_is_written(graph: Graph, server: Server, name):
    event, field = BAD[name]
    headers = {"Authorization": f"Bearer {server.write_token}"}
    before = counts(graph)
    resp = post(f"{server.url}/api/v1/lineage", json=event, headers=headers)
    assert resp.status_code == 400
    assert field in resp.json()["message"]
    # In a batch, one bad event refuses the whole array.
    resp = post(f"{server.url}/api/v1/lineage/batch", json=[_valid(), event],
                      headers=headers)
    assert resp.status_code == 400
    assert "events[1]" in resp.json()["message"]
    assert counts(graph) == before


def test_oversized_and_unauthorised_requests_are_refused(graph: Graph, server: Server):
    before = counts(graph)
    big = _valid()
    big["run"]["facets"] = {"padding": {"text": "x" * 100_000}}
    headers = {"Authorization": f"Bearer {server.write_token}"}
    resp = post(f"{server.url}/api/v1/lineage", json=big, headers=headers)
    assert resp.status_code == 413
    # A small gzip body that inflates past the cap is refused too.
    bomb = gzip.compress(json.dumps(big).encode())
    assert len(bomb) < 64 * 1024
    resp = post(f"{server.url}/api/v1/lineage", content=bomb,
                      headers={**headers, "Content-Encoding": "gzip"})
    assert resp.status_code == 413
    # Chunked upload with no Content-Length: the streamed size is checked.
    def chunks():
        body = json.dumps(big).encode()
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]
    resp = post(f"{server.url}/api/v1/lineage", content=chunks(), headers=headers)
    assert resp.status_code == 413
    resp = post(f"{server.url}/api/v1/lineage", json=_valid())
    assert resp.status_code == 401
    resp = post(f"{server.url}/api/v1/lineage", json=_valid(),
                      headers={"Authorization": f"Bearer {server.read_token}"})
    assert resp.status_code == 403
    resp = post(f"{server.url}/api/v1/lineage", json=_valid(),
                      headers={"Authorization": "Bearer not-a-token"})
    assert resp.status_code == 401
    assert counts(graph) == before


def test_older_events_and_custom_facets_are_accepted(graph: Graph, server: Server):
    event = _valid()
    event["eventType"] = "COMPLETE"
    event["run"]["facets"] = {"acme_cost": {"_producer": PRODUCER, "dollars": 1.5},
                              "spark_properties": {"properties": {"spark.master": "local"}}}
    event["job"]["facets"] = {"airflow": {"dag": {"dag_id": "x"}}}
    resp = post(f"{server.url}/api/v1/lineage", json=event,
                      headers={"Authorization": f"Bearer {server.write_token}"})
    assert resp.status_code == 201, resp.text
    run = show(graph, Ref(Label.RUN, event["run"]["runId"]))
    assert run["status"] == "COMPLETED" and run["params"] == {"spark.master": "local"}


def test_cli_replays_a_jsonl_file(kb_env, graph: Graph, tmp_path):
    from openlineage.client.serde import Serde
    from typer.testing import CliRunner

    from kb.cli import app

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(Serde.to_json(e) for e in reversed(pipeline_events())) + "\n")
    result = CliRunner().invoke(app, ["import", "openlineage", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"events": 4, "runs": 2}
    expected_state(graph)
    before = counts(graph)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_valid()) + "\n" + json.dumps(_bad(
        lambda e: e.update(eventTime="not a time"))) + "\n")
    result = CliRunner().invoke(app, ["import", "openlineage", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl:2.eventTime" in result.output
    result = CliRunner().invoke(app, ["import", "openlineage", str(path)])
    assert result.exit_code == 0, result.output
    assert counts(graph) == before
