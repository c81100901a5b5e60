"""``kb diff`` / ``modelDiff``: what changed about a model between two instants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from api_support import Api
from cli_support import at_80_columns, ok, ok_json
from test_lineage_as_of import at, plan_hits, write_history, write_unrelated

from kb.errors import InvalidInput, NotFound
from kb.graph import Graph
from kb.graph.diff import diff, model_diff
from kb.ingest import Client

START, END = "2026-03-01", "2026-06-01"
FROM, TO = datetime.fromisoformat(START + "T00:00+00:00"), datetime.fromisoformat(
    END + "T00:00+00:00")


@pytest.fixture
def history(client: Client, graph: Graph) -> Graph:
    write_history(client)
    return graph


def test_the_diff_names_every_change_in_the_span(history: Graph) -> None:
    d = diff(history, "churn", FROM, TO)
    assert [(v.version, v.at, v.run_id, v.trained_by) for v in d.versions_added] == [
        ("3", at(50), "r3", "carol")]
    assert [(x.id, x.environment, x.version, x.at, x.by) for x in d.deployments_started] == [
        ("dep-2", "production", "2", at(35), "bob"),
        ("dep-s3", "staging", "3", at(50), "carol"),
        ("dep-3", "production", "3", at(100), "carol")]
    assert [(x.id, x.environment, x.version, x.at, x.by) for x in d.deployments_retired] == [
        ("dep-1", "production", "1", at(35), "tester"),
        ("dep-2", "production", "2", at(100), "tester")]
    assert [(o.kind, o.key, o.role, o.at, o.by) for o in d.owners_added] == [
        ("Person", "bob", "owner", at(70), "tester")]
    assert [(o.kind, o.key, o.at, o.by) for o in d.owners_removed] == [
        ("Person", "alice", at(70), "tester")]
    assert [(a.alias, a.from_version, a.to_version, a.at, a.by) for a in d.aliases_moved] == [
        ("champion", "1", "2", at(35), "tester")]
    assert (d.production_before, d.production_after) == (("1",), ("3",))
    assert d.data_before == ("customers@v1",)
    assert d.data_after == ("customers@v2", "features@v1")
    assert d.data_added == ("customers@v2", "features@v1")
    assert d.data_removed == ("customers@v1",)


def test_a_span_with_nothing_in_it_is_empty_and_bad_spans_are_refused(history: Graph
                                                                      ) -> None:
    d = diff(history, "churn", at(150), at(160))
    assert d.versions_added == d.deployments_started == d.aliases_moved == ()
    assert d.production_before == d.production_after == ("3",)
    assert d.data_added == d.data_removed == ()
    with pytest.raises(InvalidInput) as raised:
        diff(history, "churn", TO, FROM)
    assert raised.value.field == "from"
    with pytest.raises(NotFound):
        diff(history, "nosuch", FROM, TO)


MODEL_DIFF = """query($from: DateTime!, $to: DateTime!) {
  modelDiff(name: "churn", from: $from, to: $to) {
    model from to
    versionsAdded { version at runId trainedBy }
    deploymentsStarted { deploymentId environment version by }
    deploymentsRetired { deploymentId by }
    ownersAdded { kind key by } ownersRemoved { key }
    aliasesMoved { alias fromVersion toVersion at by }
    productionBefore productionAfter dataAdded dataRemoved
  }
}"""


def test_the_api_gives_the_same_diff(history: Graph) -> None:
    data = Api(history).data(MODEL_DIFF, {"from": FROM.isoformat(), "to": TO.isoformat()})
    d = data["modelDiff"]
    assert d["versionsAdded"] == [{"version": "3", "at": at(50).isoformat(), "runId": "r3",
                                   "trainedBy": "carol"}]
    assert [x["deploymentId"] for x in d["deploymentsStarted"]] == ["dep-2", "dep-s3",
                                                                    "dep-3"]
    assert [x["deploymentId"] for x in d["deploymentsRetired"]] == ["dep-1", "dep-2"]
    assert d["ownersAdded"] == [{"kind": "Person", "key": "bob", "by": "tester"}]
    assert d["ownersRemoved"] == [{"key": "alice"}]
    assert d["aliasesMoved"] == [{"alias": "champion", "fromVersion": "1", "toVersion": "2",
                                  "at": at(35).isoformat(), "by": "tester"}]
    assert (d["productionBefore"], d["productionAfter"]) == (["1"], ["3"])
    assert (d["dataAdded"], d["dataRemoved"]) == (["customers@v2", "features@v1"],
                                                  ["customers@v1"])
    backwards = Api(history).post(MODEL_DIFF, {"from": TO.isoformat(),
                                               "to": FROM.isoformat()}).json()
    assert backwards["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_cli_diff_in_json_and_at_80_columns(history: Graph, kb_env: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    kb = at_80_columns(monkeypatch)
    data = ok_json(kb("diff", "model:churn", "--from", START, "--to", END, "--json"))
    assert data["model"] == "model:churn"
    assert (data["from"], data["to"]) == (FROM.isoformat(), TO.isoformat())
    assert data["versions_added"] == [{"ref": "model:churn@3", "at": at(50).isoformat(),
                                       "run": "run:r3", "trained_by": "person:carol"}]
    assert [(x["ref"], x["model_version"], x["by"]) for x in data["deployments_retired"]] == [
        ("deployment:dep-1", "model:churn@1", "person:tester"),
        ("deployment:dep-2", "model:churn@2", "person:tester")]
    assert [(o["ref"], o["at"]) for o in data["owners_added"]] == [
        ("person:bob", at(70).isoformat())]
    assert [(a["from"], a["to"]) for a in data["aliases_moved"]] == [
        ("model:churn@1", "model:churn@2")]
    assert data["production"] == {"from": ["model:churn@1"], "to": ["model:churn@3"]}
    assert data["data"]["added"] == ["dataset:customers@v2", "dataset:features@v1"]
    assert data["data"]["removed"] == ["dataset:customers@v1"]
    text = ok(kb("diff", "churn", "--from", START, "--to", END))
    assert all(len(line) <= 80 for line in text.splitlines()), text
    for section in ("versions added", "deployments started", "deployments retired",
                    "owners added", "owners removed", "aliases moved", "in production",
                    "data upstream of production"):
        assert section in text
    assert "2026-03-08T09:00Z" in text and "dep-3" in text
    quiet = ok(kb("diff", "churn", "--from", "2026-07-01", "--to", "2026-07-02"))
    assert quiet.count("none") >= 7
    bad = kb("diff", "churn", "--from", END, "--to", START)
    assert bad.exit_code != 0 and "--from" in bad.output
    default = ok_json(kb("diff", "churn", "--json"))
    assert default["versions_added"] == []


# -- cost -----------------------------------------------------------------------------------
class Profiling:
    """A transaction that profiles every statement it runs and adds up the db hits."""

    def __init__(self, tx: Any) -> None:
        self.tx, self.hits = tx, 0

    def run(self, statement: str, **params: Any) -> Any:
        result = self.tx.run("PROFILE " + statement, **params)
        records = Records(result)
        self.hits += plan_hits(result.consume().profile)
        return records


class Records(list):
    def single(self) -> Any:
        return self[0] if self else None


def diff_cost(graph: Graph) -> tuple[Any, int]:
    def work(tx: Any) -> tuple[Any, int]:
        profiling = Profiling(tx)
        return model_diff(profiling, "churn", FROM, TO), profiling.hits

    return graph.read(work)


def test_the_diff_costs_the_same_however_much_else_the_graph_holds(
        client: Client, graph: Graph) -> None:
    write_history(client)
    write_unrelated(client, 20)
    small, small_hits = diff_cost(graph)
    write_unrelated(client, 400)
    large, large_hits = diff_cost(graph)
    assert large == small
    assert small_hits > 0
    # Must not grow with unrelated data (the planner may pick a costlier plan on the
    # smaller graph, whose statistics differ).
    assert large_hits <= small_hits + 4, (small_hits, large_hits)
