"""Every write leaves its change record, in its own transaction, and only a write that
changes something does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kb.domain.changes import ChangeFact
from kb.errors import NotFound
from kb.graph import Graph
from kb.graph.history import changes, history
from kb.ingest import Client

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def records(graph: Graph, kind: str, key: str) -> list[ChangeFact]:
    """The entity's records, oldest first."""
    return list(reversed(graph.read(lambda tx: history(tx, kind, key, first=100)).items))


def count(graph: Graph) -> int:
    return graph.read(lambda tx: tx.run("MATCH (c:Change) RETURN count(c) AS n").single()["n"])


def test_a_new_run_records_its_creation_with_its_fields_and_links(client: Client,
                                                                  graph: Graph) -> None:
    client.log_run(id="r1", person="alice", experiment="churn", status="RUNNING",
                   params={"lr": 0.1}, inputs=[("customers", "1", "train")])
    (run,) = records(graph, "Run", "r1")
    assert (run.op, run.actor, run.path, run.kind, run.key) == (
        "create", "tester", "sdk", "Run", "r1")
    # A creation names what it set; its values are the run's own.
    assert run.fields["status"] == run.fields["params"] == (None, None)
    assert {(x.rel, x.direction, x.kind, x.key) for x in run.links} == {
        ("TRAINED", "in", "Person", "alice"), ("PART_OF", "out", "Experiment", "churn"),
        ("USED", "out", "DatasetVersion", "customers@1")}
    assert "created" in run.categories and "links" in run.categories
    # The stubs it named are created too, each with its own record of the same write.
    (person,) = records(graph, "Person", "alice")
    assert person.op == "create" and person.batch == run.batch


def test_the_same_facts_twice_record_nothing_the_second_time(client: Client,
                                                             graph: Graph) -> None:
    def write(now: datetime) -> None:
        b = client.builder()
        b.person("alice", name="Alice", team=["ml"])
        b.run(id="r1", person="alice", experiment="churn", metrics={"auc": 0.8},
              inputs=[("customers", "1", "train")])
        b.model_version("churn", version=1, run_id="r1", aliases=["champion"])
        b.deploy("churn", "1", environment="production", by="alice", deployed_at=at(0))
        b.own("model:churn", owner="person:alice", since=at(0))
        b.note("model:churn", "kept as is", by="alice")
        client.write(b, now=now)

    write(at(0))
    first = count(graph)
    assert first > 0
    write(at(1))
    write(at(1))
    assert count(graph) == first


def test_an_update_records_each_field_from_what_to_what(client: Client, graph: Graph) -> None:
    client.log_run(id="r1", status="RUNNING", metrics={"auc": 0.5})
    client.log_run(id="r1", status="COMPLETED", metrics={"auc": 0.5})
    client.log_run(id="r1", metrics={"auc": 0.7})
    created, finished, measured = records(graph, "Run", "r1")
    assert created.op == "create"
    assert finished.op == "update"
    assert finished.fields == {"status": ("RUNNING", "COMPLETED")}
    assert finished.categories == ("status",)
    assert measured.fields == {"metrics": ('{"auc":0.5}', '{"auc":0.7}')}
    assert measured.categories == ("properties",)


def test_alias_moves_are_recorded_on_the_model_with_both_versions(client: Client,
                                                                  graph: Graph) -> None:
    client.log_run(id="r1")
    client.log_run(id="r2")
    client.register_model("churn", run_id="r1", aliases=["champion"])
    client.register_model("churn", run_id="r2", aliases=["champion"])
    moves = [x for c in records(graph, "Model", "churn") for x in c.links if x.rel == "ALIAS"]
    assert [(x.action, x.key, x.props["alias"]) for x in moves] == [
        ("add", "churn@1", "champion"), ("close", "churn@1", "champion"),
        ("add", "churn@2", "champion")]
    old = records(graph, "ModelVersion", "churn@1")[-1]
    assert old.fields == {"aliases": (["champion"], [])}
    tenures = graph.read(lambda tx: [r.data() for r in tx.run(
        "MATCH (:Model {name: 'churn'})-[e:ALIAS]->(v) "
        "RETURN v.key AS key, e.alias AS alias, e.until IS NULL AS open ORDER BY e.since, key")])
    assert tenures == [{"key": "churn@1", "alias": "champion", "open": False},
                       {"key": "churn@2", "alias": "champion", "open": True}]


def test_ownership_transfer_and_retirement_are_recorded(client: Client, graph: Graph) -> None:
    client.log_run(id="r1")
    client.register_model("churn", run_id="r1")
    client.own("model:churn", owner="person:alice")
    client.transfer("model:churn", from_="person:alice", to="person:bob")
    deployment = client.deploy("churn", "1", environment="production").id
    client.retire(deployment)
    owns = [(x.action, x.key) for c in records(graph, "Model", "churn") for x in c.links
            if x.rel == "OWNS"]
    assert owns == [("add", "alice"), ("close", "alice"), ("add", "bob")]
    retired = records(graph, "Deployment", deployment)[-1]
    assert retired.fields["status"] == ("ACTIVE", "RETIRED")
    assert retired.fields["retiredAt"][0] is None


def test_a_refused_write_records_nothing(client: Client, graph: Graph) -> None:
    with pytest.raises(NotFound), client.batch() as b:
        b.run(id="r1")
        b.deploy("churn", "7", environment="production")
    assert count(graph) == 0


def test_changes_reads_a_span_by_actor_and_pages_without_gaps(graph: Graph) -> None:
    alice = Client(graph, actor="alice")
    bob = Client(graph, actor="bob", source="cli")
    for day in range(6):
        (alice if day % 2 == 0 else bob).write(_run(alice, f"r{day}"), now=at(day))
    everything = graph.read(lambda tx: changes(tx, first=100)).items
    assert [c.key for c in everything if c.kind == "Run"] == [f"r{d}" for d in range(5, -1, -1)]
    by_bob = graph.read(lambda tx: changes(tx, actor="bob", first=100)).items
    assert {c.key for c in by_bob} == {"r1", "r3", "r5"}
    assert {c.path for c in by_bob} == {"cli"}
    span = graph.read(lambda tx: changes(tx, since=at(2), until=at(3), first=100)).items
    assert {c.key for c in span} == {"r2", "r3"}
    seen, after = [], None
    while True:
        page = graph.read(lambda tx, a=after: changes(tx, first=2, after=a))
        seen += [c.id for c in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == [c.id for c in everything]


def _run(client: Client, run_id: str):
    b = client.builder()
    b.run(id=run_id)
    return b
