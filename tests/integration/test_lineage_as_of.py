"""Lineage and impact as of an instant: only what existed then, and the deployments live
then; without ``asOf`` the answers are today's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import Api
from cli_support import at_80_columns, ok, ok_json

from kb.domain import Label, Ref
from kb.errors import InvalidInput
from kb.graph import Graph, impact, lineage
from kb.graph.lineage import IMPACT_AS_OF, ROOT_AS_OF, WALK_AS_OF, read_lineage
from kb.ingest import Client

T0 = datetime(2026, 2, 1, 9, tzinfo=UTC)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def write_history(client: Client) -> None:
    """churn trained three times on changing data, deployments replacing each other, the
    champion alias moving and the model handed from alice to bob, each write at its time."""
    def write(days: int, build: Any) -> None:
        b = client.builder()
        build(b)
        client.write(b, now=at(days))

    def day0(b: Any) -> None:
        for handle in ("alice", "bob", "carol"):
            b.person(handle, name=handle.title())
        b.dataset_version("customers", "v1")
        b.run(id="r1", person="alice", inputs=[("customers", "v1", "train")])
        b.model_version("churn", version=1, run_id="r1", aliases=["champion"])
        b.deploy("churn", 1, environment="production", by="alice", id="dep-1",
                 deployed_at=at(0))
        b.own("model:churn", owner="person:alice", since=at(0))

    def day20(b: Any) -> None:
        b.dataset_version("customers", "v2")
        b.run(id="r2", person="bob", inputs=[("customers", "v2", "train")])
        b.model_version("churn", version=2, run_id="r2")

    def day35(b: Any) -> None:
        b.model_version("churn", version=2, run_id="r2", aliases=["champion"])
        b.deploy("churn", 2, environment="production", by="bob", id="dep-2",
                 deployed_at=at(35))

    def day50(b: Any) -> None:
        b.run(id="prep", person="carol", inputs=[("customers", "v2", "other")],
              outputs=[("features", "v1")])
        b.run(id="r3", person="carol", inputs=[("features", "v1", "train")])
        b.model_version("churn", version=3, run_id="r3")
        b.deploy("churn", 3, environment="staging", by="carol", id="dep-s3",
                 deployed_at=at(50))

    def day70(b: Any) -> None:
        b.own("model:churn", owner="person:bob", since=at(70), transfer_from="person:alice")

    def day100(b: Any) -> None:
        b.deploy("churn", 3, environment="production", by="carol", id="dep-3",
                 deployed_at=at(100))

    def day140(b: Any) -> None:
        b.retire("dep-s3")

    for days, build in ((0, day0), (20, day20), (35, day35), (50, day50), (70, day70),
                        (100, day100), (140, day140)):
        write(days, build)


def write_unrelated(client: Client, count: int) -> None:
    """``count`` other models, each trained on data of its own and deployed, written at
    the same times as the history: the same shape, touching nothing of it."""
    with client.pipeline() as pipe:
        for i in range(count):
            with pipe.batch() as b:
                b.dataset_version(f"other{i}", "v1")
                b.run(id=f"o{i}", person="alice", inputs=[(f"other{i}", "v1", "train")])
                b.model_version(f"other{i}", version=1, run_id=f"o{i}", aliases=["champion"])
                b.deploy(f"other{i}", 1, environment="production", by="bob", id=f"odep{i}",
                         deployed_at=at(i % 120))
                b.own(f"model:other{i}", owner="person:alice", since=at(i % 120))


@pytest.fixture
def history(client: Client, graph: Graph) -> Graph:
    write_history(client)
    return graph


def keys(answer: Any, label: Label) -> set[str]:
    return {n.key for n in answer.nodes if n.label == label.value}


def test_lineage_as_of_shows_only_what_existed_then(history: Graph) -> None:
    model = Ref(Label.MODEL, "churn")
    then = lineage(history, model, depth=4, as_of=at(30))
    assert keys(then, Label.MODEL_VERSION) == {"churn@1", "churn@2"}
    assert keys(then, Label.RUN) == {"r1", "r2"}
    assert keys(then, Label.DATASET_VERSION) == {"customers@v1", "customers@v2"}
    assert keys(then, Label.DEPLOYMENT) == {"dep-1"}
    now = lineage(history, model, depth=4)
    assert keys(now, Label.MODEL_VERSION) == {"churn@1", "churn@2", "churn@3"}
    assert keys(now, Label.DEPLOYMENT) == {"dep-1", "dep-2", "dep-s3", "dep-3"}
    assert keys(now, Label.DATASET_VERSION) == {"customers@v1", "customers@v2",
                                                "features@v1"}
    # An instant after every write is today's answer.
    assert lineage(history, model, depth=4, as_of=at(400)) == now
    data = lineage(history, Ref(Label.DATASET, "customers"), direction="DOWNSTREAM",
                   depth=4, as_of=at(10))
    assert keys(data, Label.DATASET_VERSION) == {"customers@v1"}
    assert {e.type for e in data.edges} == {"VERSION_OF", "USED", "PRODUCED", "SERVES",
                                            "TRAINED", "DEPLOYED"}
    assert keys(data, Label.MODEL_VERSION) == {"churn@1"}


def test_lineage_before_the_start_existed_says_so(history: Graph) -> None:
    with pytest.raises(InvalidInput) as raised:
        lineage(history, Ref(Label.MODEL_VERSION, "churn@3"), as_of=at(40))
    assert raised.value.field == "asOf"


def _impact(items: Any) -> list[tuple[str, str, str | None]]:
    return [(i.kind, i.key, i.environment) for i in items]


def test_impact_as_of_counts_the_deployments_live_then(history: Graph) -> None:
    assert _impact(impact(history, "customers", as_of=at(30))) == [
        ("MODEL_VERSION", "churn@1", None), ("MODEL_VERSION", "churn@2", None),
        ("DEPLOYMENT", "dep-1", "production")]
    assert _impact(impact(history, "customers", as_of=at(60))) == [
        ("MODEL_VERSION", "churn@1", None), ("MODEL_VERSION", "churn@2", None),
        ("DEPLOYMENT", "dep-2", "production"), ("MODEL_VERSION", "churn@3", None),
        ("DEPLOYMENT", "dep-s3", "staging")]
    late = impact(history, "customers", as_of=at(150))
    assert _impact(late) == [
        ("MODEL_VERSION", "churn@1", None), ("MODEL_VERSION", "churn@2", None),
        ("MODEL_VERSION", "churn@3", None), ("DEPLOYMENT", "dep-3", "production")]
    assert late == impact(history, "customers")
    assert _impact(impact(history, "customers", "v2", as_of=at(30))) == [
        ("MODEL_VERSION", "churn@2", None)]
    with pytest.raises(InvalidInput):
        impact(history, "features", "v1", as_of=at(30))


LINEAGE = """query($id: ID!, $asOf: DateTime) {
  lineage(id: $id, direction: UPSTREAM, depth: 4, asOf: $asOf) { nodes { key label } }
}"""
IMPACT = """query($asOf: DateTime) {
  impact(dataset: "customers", asOf: $asOf) { kind key environment }
}"""


def test_the_api_answers_as_of(history: Graph) -> None:
    api = Api(history)
    nodes = api.data(LINEAGE, {"id": "model:churn", "asOf": at(30).isoformat()})
    assert {n["key"] for n in nodes["lineage"]["nodes"]} == {
        "churn", "churn@1", "churn@2", "r1", "r2", "customers@v1", "customers@v2",
        "alice", "bob"}
    today = api.data(LINEAGE, {"id": "model:churn", "asOf": None})
    assert "features@v1" in {n["key"] for n in today["lineage"]["nodes"]}
    items = api.data(IMPACT, {"asOf": at(60).isoformat()})["impact"]
    assert [(i["kind"], i["key"]) for i in items if i["kind"] == "DEPLOYMENT"] == [
        ("DEPLOYMENT", "dep-2"), ("DEPLOYMENT", "dep-s3")]
    body = api.post(LINEAGE, {"id": "model:churn@3", "asOf": at(40).isoformat()}).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_cli_answers_as_of(history: Graph, kb_env: Any,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    kb = at_80_columns(monkeypatch)
    then = ok_json(kb("impact", "customers", "--as-of", "2026-03-03", "--json"))
    assert then["as_of"] == "2026-03-03T00:00:00+00:00"
    assert [(i["ref"], i["environment"]) for i in then["items"]
            if i["kind"] == "DEPLOYMENT"] == [("deployment:dep-1", "production")]
    text = ok(kb("impact", "customers", "--as-of", "2026-03-03"))
    assert "as of 2026-03-03T00:00:00+00:00" in text
    assert "in production then" in text and "dep-1" in text and "dep-2" not in text
    tree = ok_json(kb("lineage", "model:churn", "--as-of", "2026-03-03T00:00", "--json"))
    assert tree["as_of"] == "2026-03-03T00:00:00+00:00"
    assert {n["ref"] for n in tree["nodes"]} == {
        "model:churn", "model:churn@1", "model:churn@2", "run:r1", "run:r2",
        "dataset:customers@v1", "dataset:customers@v2", "deployment:dep-1", "person:alice",
        "person:bob"}
    drawn = ok(kb("lineage", "model:churn", "--down", "--as-of", "2026-03-03"))
    assert "dep-1" in drawn and "live in production then" in drawn
    bad = kb("lineage", "model:churn", "--as-of", "last tuesday")
    assert bad.exit_code != 0 and "--as-of" in bad.output


# -- cost -----------------------------------------------------------------------------------
def plan_hits(plan: dict[str, Any] | None) -> int:
    if not plan:
        return 0
    return int(plan.get("dbHits", 0)) + sum(plan_hits(c) for c in plan.get("children", ()))


def hits(graph: Graph, statement: str, **params: Any) -> int:
    def work(tx: Any) -> int:
        return plan_hits(tx.run("PROFILE " + statement, **params).consume().profile)

    return graph.read(work)


def as_of_costs(graph: Graph) -> dict[str, int]:
    """The db hits of each as-of statement over the history, its walk included."""
    t = at(60)
    frontier = graph.read(lambda tx: [r["id"] for r in tx.run(
        "MATCH (:Model {name: 'churn'})<-[:VERSION_OF]-(v) RETURN elementId(v) AS id")])
    return {
        "root": hits(graph, ROOT_AS_OF[Label.MODEL], key="churn", cap=201, asOf=t),
        "walk": hits(graph, WALK_AS_OF[("BOTH", 4)], frontier=frontier, cap=200, cap1=201,
                     asOf=t),
        "impact": hits(graph, IMPACT_AS_OF[(Label.DATASET, 25)], key="customers",
                       maxDepth=25, cap1=100_001, active="ACTIVE", asOf=t),
    }


def test_as_of_reads_cost_the_same_however_much_else_the_graph_holds(
        client: Client, graph: Graph) -> None:
    write_history(client)
    write_unrelated(client, 20)
    small = as_of_costs(graph)
    write_unrelated(client, 400)
    large = as_of_costs(graph)
    for name, cost in small.items():
        assert cost > 0
        assert abs(large[name] - cost) <= 4, (name, cost, large[name])
    # The reader itself answers the same over the larger graph.
    answer = graph.read(read_lineage, Ref(Label.MODEL, "churn"), "BOTH", 4, 200, at(60))
    assert keys(answer, Label.MODEL_VERSION) == {"churn@1", "churn@2", "churn@3"}
