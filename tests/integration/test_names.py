"""Look-alike names and oversized values, through every writer, against the real Neo4j.

Two teams whose names differ only by a zero-width space, or by a right-to-left override,
look identical on every page; the same name in two Unicode forms must be one node.
"""

from __future__ import annotations

import asyncio
import unicodedata

import httpx
import pytest
from api_support import Api, api_config

from kb.api.app import create_app
from kb.config import Config
from kb.domain import Label, Ref
from kb.errors import InvalidInput
from kb.graph import Graph, show
from kb.graph.stats import counts
from kb.graph.tokens import create_token
from kb.ingest import Client
from kb.ingest.openlineage import parse_events, write_events

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
NFC = "données-clients"
NFD = unicodedata.normalize("NFD", NFC)


def ol_event(job: str = "clean", dataset: str = "customers", **extra) -> dict:
    raw = {"eventType": "START", "eventTime": "2024-05-01T10:00:00Z", "producer": PRODUCER,
           "run": {"runId": "0190a0b2-5f2e-7c1a-9a55-3a1f0c2b9d11", "facets": {}},
           "job": {"namespace": "default", "name": job},
           "inputs": [{"namespace": "default", "name": dataset}], "outputs": []}
    raw.update(extra)
    return raw


@pytest.mark.parametrize(("write", "field"), [
    (lambda c: c.team("vi\u200bsion"), "team.name"),
    (lambda c: c.model("churn\u202e"), "model.name"),
    (lambda c: c.dataset("\ufeffcustomers"), "dataset.name"),
    (lambda c: c.person("alice", name="Alice\u2066 Admin"), "person.name"),
    (lambda c: c.log_run(id="r\u200b1", experiment="e"), "run.id"),
    (lambda c: c.log_run(id="r1", experiment="churn\u200d"), "run.experiment"),
    (lambda c: c.deploy("churn", 1, environment="prod\u200b", id="d1"), "deploy.environment"),
])
def test_the_sdk_refuses_invisible_characters_in_names(client: Client, graph: Graph,
                                                       write, field) -> None:
    with pytest.raises(InvalidInput) as err:
        write(client)
    assert err.value.field == field
    assert counts(graph) == {}


def test_the_sdk_writes_a_name_in_two_unicode_forms_as_one_node(client: Client,
                                                                graph: Graph) -> None:
    client.team(NFD, description="first")
    client.team(NFC, description="second")
    client.dataset_version(NFD, "v1")
    client.log_run(id="r1", experiment=NFC, inputs=[(NFC, "v1")])
    client.log_run(id=unicodedata.normalize("NFD", "r-é"), experiment=NFD)
    client.log_run(id="r-é", experiment=NFD)
    c = counts(graph)
    assert (c["Team"], c["Dataset"], c["Experiment"], c["Run"]) == (1, 1, 1, 2)
    assert show(graph, Ref(Label.TEAM, NFC))["description"] == "second"


@pytest.mark.parametrize(("raw", "field"), [
    (ol_event(job="cle\u200ban"), "events[0].job.name"),
    (ol_event(dataset="customers\u202e"), "events[0].inputs[0].name"),
])
def test_an_event_with_an_invisible_character_in_a_name_is_refused(graph: Graph, raw,
                                                                   field) -> None:
    with pytest.raises(InvalidInput) as err:
        write_events(Client(graph, actor="airflow"), parse_events([raw]))
    assert err.value.field == field
    assert counts(graph) == {}


def test_events_and_the_sdk_name_one_dataset_in_two_unicode_forms(client: Client,
                                                                  graph: Graph) -> None:
    write_events(Client(graph, actor="airflow"), parse_events([ol_event(job=NFD, dataset=NFD)]))
    client.dataset(NFC, description="from the SDK")
    client.experiment(NFC, description="from the SDK")
    c = counts(graph)
    assert (c["Dataset"], c["Experiment"]) == (1, 1)
    run = show(graph, Ref(Label.RUN, "0190a0b2-5f2e-7c1a-9a55-3a1f0c2b9d11"))
    assert run["links"]["PART_OF->"]["refs"] == [f"experiment:{NFC}"]


def test_the_lineage_endpoint_refuses_an_oversized_value_naming_it(graph: Graph) -> None:
    app = create_app(Config(api_host="127.0.0.1"), graph=graph)
    _, secret = create_token(graph, name="airflow", scope="write", actor="airflow")
    raw = ol_event(inputs=[{"namespace": "default", "name": "customers", "facets": {
        "documentation": {"description": "x" * 70_000}}}])

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            return await http.post("/api/v1/lineage", json=raw,
                                   headers={"Authorization": f"Bearer {secret}"})

    response = asyncio.run(post())
    assert response.status_code == 400, response.text
    assert response.json()["message"] == (
        "event: dataset.description: at most 65,536 characters, got 70,000")
    assert counts(graph).get("Run", 0) == 0


def test_an_api_mutation_meets_the_same_rules(graph: Graph) -> None:
    api = Api(graph, api_config())
    token = api.token("write")
    data = api.data('mutation($d: String) { recordTeam(input: {name: "nlp", description: $d})'
                    ' { team { name } errors { code field message } } }',
                    {"d": "x" * 70_000}, token=token)
    (error,) = data["recordTeam"]["errors"]
    assert error == {"code": "BAD_USER_INPUT", "field": "team.description",
                     "message": "team.description: at most 65,536 characters, got 70,000"}
    data = api.data('mutation { recordTeam(input: {name: "n\\u200blp"}) '
                    '{ team { name } errors { code field } } }', token=token)
    assert data["recordTeam"]["errors"] == [{"code": "BAD_USER_INPUT", "field": "team.name"}]
    assert counts(graph).get("Team", 0) == 0
