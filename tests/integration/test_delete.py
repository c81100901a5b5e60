"""``kb delete``: an entity written by mistake removed with its links, in one transaction,
refused while other facts depend on it unless cascading, and recorded without values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cli_support import at_80_columns, ok, ok_json

from kb.domain import Label, Ref
from kb.domain.changes import LINK_SEPARATOR
from kb.domain.erase import HasDependents
from kb.errors import InvalidInput, NotFound
from kb.graph.history import entity_history
from kb.graph.stats import counts, fingerprint

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

COUNT_CHANGES = "MATCH (c:Change) RETURN count(c) AS n"


def _records(graph, batch: str) -> list[dict]:
    return graph.read(lambda tx: [dict(r["c"]) for r in tx.run(
        "MATCH (c:Change {batch: $b}) RETURN c ORDER BY c.id", b=batch)])


def _changes(graph) -> int:
    return graph.read(lambda tx: tx.run(COUNT_CHANGES).single()["n"])


def _seed(client) -> None:
    with client.batch() as b:
        b.team("vision")
        b.person("alice", name="Alice Liddell", team="vision")
        b.person("bob", name="Bob Stone")
        b.dataset_version("customers", "2024-05", digest="sha256:c05", rows=1000)
        b.dataset_version("customers", "2024-06", digest="sha256:c06", rows=1100)
        b.run(id="r1", person="bob", experiment="churn-exp", started_at=T0,
              inputs=[("customers", "2024-05", "train")], params={"lr": 0.1},
              code={"repo": "git@example.com:ml/churn", "commit": "abc123"})
        b.model_version("churn", version="1", run_id="r1", aliases=["production"])
        b.run(id="r2", person="alice", experiment="churn-exp", started_at=T0,
              inputs=[("customers", "2024-06", "train")])
        b.model_version("churn", version="2", run_id="r2")
        b.deploy("churn", "1", environment="prod", by="bob", id="dep-1",
                 deployed_at=T0)
        b.own("model:churn", owner="bob")
        b.own("dataset:customers", owner="alice")
        b.note("model:churn", "AUC drops on new customers", by="alice")
        b.note("run:r1", "a lucky seed", by="bob")


def test_a_run_goes_with_its_own_links_and_is_recorded_without_values(graph, client):
    _seed(client)
    result = client.delete("run:r2", reason="logged twice by mistake")
    assert result.deleted == [Ref(Label.RUN, "r2")]
    assert result.unlinked == []
    left = counts(graph)
    assert left["Run"] == 1 and left["TRAINED"] == 1 and left["USED"] == 1
    (record, *survivors) = _records(graph, result.batch)
    assert record["op"] == "delete" and record["kind"] == "Run" and record["key"] == "r2"
    assert record["categories"] == ["deleted", "links"]
    assert record["reason"] == "logged twice by mistake"
    assert record["actor"] == "tester" and record["path"] == "sdk"
    assert record["fields"] == []
    assert not any(k.startswith(("was.", "now.")) for k in record)
    assert sorted(x.split(LINK_SEPARATOR) for x in record["links"]) == sorted([
        ["PART_OF", "out", "Experiment", "churn-exp", "close"],
        ["PRODUCED", "out", "ModelVersion", "churn@2", "close"],
        ["TRAINED", "in", "Person", "alice", "close"],
        ["USED", "out", "DatasetVersion", "customers@2024-06", "close"]])
    # the model version the run produced stays, without its producer: its own link
    assert survivors == []
    # history says it existed, then was deleted
    page = graph.read(entity_history, Label.RUN, "r2")
    assert [c.op for c in page.items] == ["delete", "create"]


def test_a_dataset_version_used_by_runs_is_refused_with_the_exact_dependents(graph, client):
    _seed(client)
    before = fingerprint(graph)
    with pytest.raises(HasDependents) as caught:
        client.delete("dataset:customers@2024-05")
    assert [str(d) for d in caught.value.dependents] == [
        "<-USED- run:r1 (unlinked)"]
    assert "cascade" in caught.value.message
    assert fingerprint(graph) == before


def test_cascade_keeps_the_runs_and_removes_their_inputs(graph, client):
    _seed(client)
    result = client.delete("dataset:customers@2024-05", cascade=True, reason="wrong digest")
    assert [str(r) for r in result.deleted] == ["dataset:customers@2024-05"]
    assert [str(d) for d in result.unlinked] == ["<-USED- run:r1 (unlinked)"]
    assert counts(graph)["Run"] == 2
    records = _records(graph, result.batch)
    assert [(r["op"], r["kind"], r["key"]) for r in records] == [
        ("delete", "DatasetVersion", "customers@2024-05"), ("update", "Run", "r1")]
    assert records[1]["links"] == [LINK_SEPARATOR.join(
        ["USED", "out", "DatasetVersion", "customers@2024-05", "close"])]
    assert records[1]["reason"] == "wrong digest"


def test_a_model_refuses_then_cascades_to_versions_deployments_and_notes(graph, client):
    _seed(client)
    with pytest.raises(HasDependents) as caught:
        client.delete("model:churn")
    assert [str(d) for d in caught.value.dependents] == [  # listed in the entities' order
        "<-VERSION_OF- model:churn@1 (deleted)",
        "<-VERSION_OF- model:churn@2 (deleted)",
        "<-ABOUT- note:" + _note_about(graph, "churn") + " (deleted)"]
    result = client.delete("model:churn", cascade=True)
    assert sorted(str(r) for r in result.deleted) == sorted([
        "model:churn", "model:churn@1", "model:churn@2", "deployment:dep-1",
        "note:" + _note_about(graph, "churn", gone=True)])
    left = counts(graph)
    assert left.get("Model", 0) == 0 and left.get("ModelVersion", 0) == 0
    assert left.get("Deployment", 0) == 0 and left.get("ALIAS", 0) == 0
    assert left["Run"] == 2 and left["Note"] == 1
    ops = {(r["op"], r["kind"]) for r in _records(graph, result.batch)}
    assert ("delete", "Deployment") in ops and ("delete", "Note") in ops
    # the runs that produced the versions stay; their PRODUCED links were the versions'
    assert all(r["op"] == "delete" for r in _records(graph, result.batch))


_NOTES: dict[str, str] = {}


def _note_about(graph, model: str, gone: bool = False) -> str:
    if not gone:
        _NOTES[model] = graph.read(lambda tx: tx.run(
            "MATCH (n:Note)-[:ABOUT]->(:Model {name: $m}) RETURN n.id AS id",
            m=model).single()["id"])
    return _NOTES[model]


def test_a_person_is_refused_pointing_to_forget(graph, client):
    _seed(client)
    with pytest.raises(HasDependents) as caught:
        client.delete("person:bob")
    message = caught.value.message
    assert "kb forget person:bob" in message
    assert sorted(str(d) for d in caught.value.dependents) == sorted([
        "-TRAINED-> run:r1 (unlinked)", "-DEPLOYED-> deployment:dep-1 (unlinked)",
        "-OWNS-> model:churn (unlinked)",
        "-WROTE-> note:" + _note_by(graph, "bob") + " (unlinked)"])


def _note_by(graph, handle: str) -> str:
    return graph.read(lambda tx: tx.run(
        "MATCH (:Person {handle: $h})-[:WROTE]->(n:Note) RETURN n.id AS id",
        h=handle).single()["id"])


def test_a_person_cascade_keeps_their_runs_without_a_trainer(graph, client):
    _seed(client)
    result = client.delete("person:bob", cascade=True)
    assert [str(r) for r in result.deleted] == ["person:bob"]
    assert graph.read(lambda tx: tx.run(
        "MATCH (r:Run {id: 'r1'}) RETURN COUNT { (r)<-[:TRAINED]-() } AS n").single()["n"]) == 0
    updated = {(r["kind"], r["key"]) for r in _records(graph, result.batch)
               if r["op"] == "update"}
    note = graph.read(lambda tx: tx.run(
        "MATCH (n:Note)-[:ABOUT]->(:Run {id: 'r1'}) RETURN n.id AS id").single()["id"])
    assert updated == {("Run", "r1"), ("Deployment", "dep-1"), ("Model", "churn"),
                       ("Note", note)}


def test_deleting_twice_is_not_found_and_records_nothing(graph, client):
    _seed(client)
    client.delete("run:r2")
    before = _changes(graph)
    with pytest.raises(NotFound, match="r2"):
        client.delete("run:r2")
    assert _changes(graph) == before
    with pytest.raises(NotFound):
        client.delete("model:nope@9")
    with pytest.raises(InvalidInput, match="ref"):
        client.delete("nonsense")


def test_a_failure_half_way_leaves_everything(graph, client, monkeypatch):
    _seed(client)
    before = fingerprint(graph)
    from kb.graph import changes

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("kb.graph.erase.new_batch", broken)
    assert changes.new_batch  # the write path itself is untouched
    with pytest.raises(RuntimeError):
        client.delete("model:churn", cascade=True)
    assert fingerprint(graph) == before


def test_cli_delete_refuses_then_cascades_naming_everything(graph, client, kb_env,
                                                           monkeypatch):
    _seed(client)
    kb = at_80_columns(monkeypatch)
    refused = kb("delete", "dataset:customers@2024-05", "--yes")
    assert refused.exit_code == 1
    assert "run:r1" in refused.stderr and "--cascade" in refused.stderr
    done = ok_json(kb("delete", "dataset:customers@2024-05", "--cascade", "--yes",
                      "--reason", "wrong digest", "--json"))
    assert done["deleted"] == ["dataset:customers@2024-05"]
    assert done["unlinked"] == [{"ref": "run:r1", "rel": "USED", "direction": "in"}]
    shown = ok(kb("history", "dataset:customers@2024-05"))
    assert "deleted (reason: wrong digest)" in shown
    again = kb("delete", "dataset:customers@2024-05", "--yes")
    assert again.exit_code == 1 and "does not exist" in again.stderr


def test_cli_asks_before_it_deletes(graph, client, kb_env, monkeypatch):
    from cli_support import runner

    from kb.cli import app

    _seed(client)
    monkeypatch.setenv("KB_USER", "dora")
    before = fingerprint(graph)
    declined = runner.invoke(app, ["delete", "run:r2"], input="n\n")
    assert declined.exit_code == 1 and "Delete run:r2?" in declined.stderr
    assert fingerprint(graph) == before
    accepted = runner.invoke(app, ["delete", "run:r2", "--reason", "twice"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "deleted 1:\n  run:r2" in accepted.stdout
    assert counts(graph)["Run"] == 1
