"""A person with ``leftAt`` and no ``active`` property has left, wherever it is read.

An older graph can hold such a person (writes today set both); the site, the API and the
CLI must all read them with the one rule of ``kb.graph.people``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_support import Api
from typer.testing import CliRunner

from docs_gen.collect import collect
from kb.cli import app
from kb.graph import Graph
from kb.ingest import Client

# Written as an older graph holds it: a leaving date, no active flag.
LEFT_WITHOUT_FLAG = """
MATCH (p:Person {handle: 'olga'})
REMOVE p.active
SET p.leftAt = datetime('2024-06-01T00:00:00Z')
"""


@pytest.fixture
def departed(client: Client, graph: Graph) -> Graph:
    client.team("ml")
    client.person("olga", name="Olga", team="ml")
    client.person("pia", name="Pia", team="ml")
    client.log_run(id="run-1", person="olga", experiment="churn", models=[{"model": "churn"}])
    client.own("model:churn", owner="olga")
    graph.write(lambda tx: tx.run(LEFT_WITHOUT_FLAG).consume())
    stored = graph.query("MATCH (p:Person {handle: 'olga'}) "
                         "RETURN p.active AS active, p.leftAt IS NOT NULL AS left")
    assert stored == [{"active": None, "left": True}]
    return graph


def test_the_site_calls_them_departed(departed: Graph) -> None:
    pages = {(p.kind, p.key): p for p in collect(departed)}
    assert pages[("Person", "olga")].context["departed"] is True
    assert pages[("Person", "pia")].context["departed"] is False
    members = {m["handle"]: m["active"] for m in pages[("Team", "ml")].context["members"]}
    assert members == {"olga": False, "pia": True}
    people = {i["handle"]: i["active"] for i in pages[("Index", "Person")].context["items"]}
    assert people == {"olga": False, "pia": True}
    owners = pages[("Model", "churn")].context["owners"]["current"]
    assert [(o["key"], o["active"]) for o in owners] == [("olga", False)]
    orphans = pages[("Home", None)].context["orphans"]
    left = [(o["kind"], o["name"]) for o in orphans if o["formerOwners"]]
    assert left == [("Model", "churn")]  # its owner left; the unowned experiment is not


def test_the_api_calls_them_departed(departed: Graph) -> None:
    api = Api(departed)
    data = api.data("""{
      olga: person(handle: "olga") { active leftAt }
      pia: person(handle: "pia") { active }
      gone: people(active: false) { edges { node { handle } } }
      here: people(active: true) { edges { node { handle } } }
      whoTrained(model: "churn") { personHandle personActive }
      orphans { kind key }
    }""")
    assert data["olga"]["active"] is False and data["olga"]["leftAt"].startswith("2024-06-01")
    assert data["pia"]["active"] is True
    assert [e["node"]["handle"] for e in data["gone"]["edges"]] == ["olga"]
    assert [e["node"]["handle"] for e in data["here"]["edges"]] == ["pia"]
    assert data["whoTrained"] == [{"personHandle": "olga", "personActive": False}]
    assert {"kind": "Model", "key": "churn"} in data["orphans"]


def test_the_cli_calls_them_departed(departed: Graph, kb_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["who-trained", "churn", "--json"])
    assert result.exit_code == 0, result.output
    (fact,) = json.loads(result.stdout)
    assert (fact["person"], fact["person_active"]) == ("person:olga", False)
