"""The write path against the real Neo4j: idempotent, all-or-nothing, numbered, concurrent."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from together import run_together

from kb.domain import parse_ref
from kb.errors import InvalidInput, KbError, NotFound
from kb.graph import Graph, deployments, show, who_trained
from kb.graph.plan import SMALL_BATCH_ROWS
from kb.graph.stats import counts
from kb.ingest import Client
from kb.ingest.run import ActiveRun

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def stamps(graph: Graph) -> dict[tuple[str, str], object]:
    """Every node's updatedAt, by label and natural key."""

    def work(tx):
        return {(r["label"], r["key"]): r["at"] for r in tx.run(
            "MATCH (n) WHERE n.updatedAt IS NOT NULL "
            "RETURN labels(n)[0] AS label, "
            "coalesce(n.key, n.id, n.handle, n.name, n.digest) AS key, n.updatedAt AS at")}

    return graph.read(work)


def write_everything(client: Client) -> None:
    """One of every kind of write, with every value given (no clocks, no random ids)."""
    client.team("ml", description="Machine learning")
    client.person("alice", name="Alice", email="alice@example.com", team="ml")
    client.person("bob", name="Bob", team=["ml"], left_at="2026-02-01T00:00:00Z")
    client.dataset("customers", description="CRM export", datasheet={"uses": "churn only"})
    client.dataset_version("customers", "2024-05", digest="sha256:c5", rows=10,
                           schema=["id", {"name": "age", "type": "int"}])
    client.dataset_version("customers", "2024-06", digest="sha256:c6",
                           derived_from=["customers@2024-05"])
    client.experiment("churn", description="Churn models")
    client.model("churn", task="classification")
    client.log_run(id="run-1", person="alice", experiment="churn", params={"lr": 0.1},
                   metrics={"auc": 0.9}, inputs=[("customers", "2024-06", "train")],
                   code={"repo": "r", "commit": "c1"}, started_at=T0, ended_at=T0,
                   models=[{"model": "churn", "aliases": ["champion"]}])
    client.deploy("churn", 1, environment="production", by="alice", id="dep-1",
                  deployed_at=T0)
    client.own("churn", owner="alice")
    client.own("dataset:customers", owner="team:ml", role="steward")
    client.note("model:churn@1", "Trained before the price change.", by="alice")


# -- idempotency -----------------------------------------------------------------------------
def test_the_same_writes_twice_change_nothing(client: Client, graph: Graph) -> None:
    write_everything(client)
    first_counts, first_stamps = counts(graph), stamps(graph)
    assert first_counts["ModelVersion"] == 1 and first_counts["OWNS"] == 2
    write_everything(client)
    assert counts(graph) == first_counts
    assert stamps(graph) == first_stamps


def test_a_real_change_stamps_the_node(client: Client, graph: Graph) -> None:
    write_everything(client)
    before = stamps(graph)
    client.person("alice", name="Alice Liddell")
    after = stamps(graph)
    assert after[("Person", "alice")] > before[("Person", "alice")]
    assert {k: v for k, v in after.items() if k != ("Person", "alice")} == {
        k: v for k, v in before.items() if k != ("Person", "alice")}
    assert show(graph, parse_ref("person:alice"))["email"] == "alice@example.com"


def test_a_relogged_run_keeps_the_maps_it_does_not_restate(client: Client,
                                                            graph: Graph) -> None:
    client.log_run(id="run-p", params={"lr": 0.1}, metrics={"auc": 0.8})
    client.log_run(id="run-p", metrics={"auc": 0.9})  # later metrics, params not restated
    run = show(graph, parse_ref("run:run-p"))
    assert (run["params"], run["metrics"]) == ({"lr": 0.1}, {"auc": 0.9})
    client.log_run(id="run-p", params={})  # an empty map is stated: no params at all
    run = show(graph, parse_ref("run:run-p"))
    assert (run["params"], run["metrics"]) == ({}, {"auc": 0.9})


def test_a_run_not_told_its_status_is_completed_once_and_keeps_it(client: Client,
                                                                  graph: Graph) -> None:
    def kind_status(run_id: str) -> tuple[object, object]:
        run = show(graph, parse_ref(f"run:{run_id}"))
        return run.get("kind"), run.get("status")

    client.log_run(id="run-new", metrics={"auc": 0.8})
    assert kind_status("run-new") == ("training", "COMPLETED")
    client.log_run(id="run-f", kind="evaluation", status="FAILED")
    client.log_run(id="run-f", metrics={"auc": 0.5})  # logged again, not restated
    assert kind_status("run-f") == ("evaluation", "FAILED")
    # A parent named before it is logged is a stub, which states nothing...
    client.log_run(id="run-child", parent="run-parent", status="RUNNING")
    assert kind_status("run-parent") == (None, None)
    # ...until a record of it does.
    client.log_run(id="run-parent", name="sweep")
    assert kind_status("run-parent") == ("training", "COMPLETED")
    before = stamps(graph)
    client.log_run(id="run-parent", name="sweep")
    assert stamps(graph) == before


def test_an_input_named_again_without_its_role_keeps_it(client: Client,
                                                        graph: Graph) -> None:
    def roles() -> dict[str, str]:
        return graph.read(lambda tx: {r["version"]: r["role"] for r in tx.run(
            "MATCH (:Run {id: 'run-r'})-[u:USED]->(d:DatasetVersion) "
            "RETURN d.version AS version, u.role AS role")})

    client.log_run(id="run-r", inputs=[("customers", "2024-05", "train")])
    client.log_run(id="run-r", inputs=[("customers", "2024-05"), ("customers", "2024-06")])
    assert roles() == {"2024-05": "train", "2024-06": "other"}  # a new input: the default
    client.log_run(id="run-r", inputs=[("customers", "2024-06", "validation")])
    assert roles() == {"2024-05": "train", "2024-06": "validation"}


def test_large_batches_write_the_columns_their_rows_know(client: Client, graph: Graph) -> None:
    """Over ``SMALL_BATCH_ROWS`` node rows a batch's statement carries only the columns
    some row knows: a value one row knows is written, the others keep what is stored,
    and the same batch again changes nothing."""
    ids = [f"big-{i}" for i in range(SMALL_BATCH_ROWS + 1)]
    with client.batch() as b:
        for i, run_id in enumerate(ids):
            b.run(id=run_id, person="alice", experiment="churn", name=f"run {i}",
                  started_at=T0, command="train.py" if i == 0 else None)
    with client.batch() as b:  # the same runs again, knowing only a seed
        for run_id in ids:
            b.run(id=run_id, seed=7)
    first = show(graph, parse_ref("run:big-0"))
    assert (first["command"], first["name"], first["seed"]) == ("train.py", "run 0", 7)
    assert (first["kind"], first["status"]) == ("training", "COMPLETED")  # never stated
    assert first["startedAt"] == T0
    other = show(graph, parse_ref(f"run:{ids[-1]}"))
    assert "command" not in other and other["name"] == f"run {SMALL_BATCH_ROWS}"
    before = stamps(graph)
    with client.batch() as b:
        for run_id in ids:
            b.run(id=run_id, seed=7)
    assert stamps(graph) == before
    assert counts(graph)["TRAINED"] == len(ids)


# -- validation: named field, nothing written ------------------------------------------------
BAD_WRITES: list[tuple[str, Callable[[Client], object], type[KbError], str]] = [
    ("bad handle", lambda c: c.person("alice smith"), InvalidInput, "person.handle"),
    ("non-finite metric", lambda c: c.log_run(id="r-nan", metrics={"auc": math.nan}),
     InvalidInput, "run.metrics"),
    ("infinite metric", lambda c: c.log_run(id="r-inf", metrics={"loss": math.inf}),
     InvalidInput, "run.metrics"),
    ("empty dataset name", lambda c: c.dataset_version("  ", "1"), InvalidInput,
     "dataset_version.dataset"),
    ("version with @", lambda c: c.dataset_version("customers", "1@2"), InvalidInput,
     "dataset_version.version"),
    ("unknown datasheet section", lambda c: c.dataset("d", datasheet={"gossip": "x"}),
     InvalidInput, "dataset.datasheet"),
    ("bad input role", lambda c: c.log_run(id="r-role", inputs=[("d", "1", "snack")]),
     InvalidInput, "run.inputs.0.role"),
    ("deploy of a missing model version",
     lambda c: c.deploy("churn", 9, environment="production", id="dep-9"), NotFound,
     "model version"),
    ("own of a missing asset", lambda c: c.own("ghost", owner="alice"), NotFound, "asset"),
    ("own of a missing model", lambda c: c.own("model:ghost", owner="alice"), NotFound,
     "Model"),
    ("note about a missing run", lambda c: c.note("run:ghost", "hello"), NotFound, "Run"),
    ("retire a missing deployment", lambda c: c.retire("dep-ghost"), NotFound, "deployment"),
    ("register for a missing run", lambda c: c.register_model("churn", run_id="ghost"),
     NotFound, "run"),
]


@pytest.mark.parametrize(("what", "write", "error", "field"), BAD_WRITES,
                         ids=[b[0] for b in BAD_WRITES])
def test_bad_writes_name_the_field_and_write_nothing(
        client: Client, graph: Graph, what: str, write: Callable[[Client], object],
        error: type[KbError], field: str) -> None:
    write_everything(client)
    before, before_stamps = counts(graph), stamps(graph)
    with pytest.raises(error) as err:
        write(client)
    named = err.value.field if isinstance(err.value, InvalidInput) else err.value.kind
    assert named == field
    assert field.rsplit(".", 1)[-1].lower() in err.value.message.lower()
    assert counts(graph) == before
    assert stamps(graph) == before_stamps


def test_a_batch_whose_last_record_is_bad_writes_nothing(client: Client, graph: Graph) -> None:
    write_everything(client)
    before = counts(graph)
    with pytest.raises(InvalidInput) as err, client.batch() as b:
        b.person("carol")
        b.dataset_version("orders", "1")
        b.run(id="run-9", person="carol", inputs=["orders@1"])
        b.run(id="run-10", metrics={"auc": float("nan")})
    assert err.value.field == "run.metrics"
    assert counts(graph) == before


def test_a_batch_whose_last_reference_is_missing_writes_nothing(
        client: Client, graph: Graph) -> None:
    write_everything(client)
    before = counts(graph)
    with pytest.raises(NotFound), client.batch() as b:
        b.person("carol")
        b.run(id="run-9", person="carol", inputs=["orders@1"])
        b.deploy("churn", 5, environment="staging", id="dep-5")
    assert counts(graph) == before
    with pytest.raises(NotFound):
        show(graph, parse_ref("person:carol"))


# -- kb.run ------------------------------------------------------------------------------------
def active_run(client: Client, run_id: str) -> ActiveRun:
    return ActiveRun(client, experiment="churn", person="alice", params={"lr": 0.1},
                     inputs=[("customers", "2024-06", "train")], seed=3, name=None,
                     id=run_id, capture_env=False, tracker_url=None, parent=None)


def test_a_failing_run_block_is_recorded_failed_and_reraises(
        client: Client, graph: Graph) -> None:
    with pytest.raises(ZeroDivisionError), active_run(client, "run-fail") as run:
        run.log_metrics({"loss": 0.5})
        run.register_model("churn")
        assert show(graph, parse_ref("run:run-fail"))["status"] == "RUNNING"
        _ = 1 / 0
    recorded = show(graph, parse_ref("run:run-fail"))
    assert recorded["status"] == "FAILED"
    assert recorded["error"].startswith("ZeroDivisionError")
    assert recorded["endedAt"] is not None
    assert "ModelVersion" not in counts(graph)
    with pytest.raises(NotFound):
        who_trained(graph, "churn")


def test_a_successful_run_block_registers_its_model(client: Client, graph: Graph) -> None:
    with active_run(client, "run-ok") as run:
        run.log_metrics({"auc": 0.75})
        handle = run.register_model("churn", aliases=["candidate"])
    assert handle.version == "1"
    (fact,) = who_trained(graph, "churn")
    assert (fact.run_id, fact.run_status, fact.person, fact.seed) == (
        "run-ok", "COMPLETED", "alice", 3)
    assert fact.metrics == {"auc": 0.75}
    assert fact.aliases == ("candidate",)


# -- model versions ------------------------------------------------------------------------------
def test_versions_are_numbered_and_a_relogged_run_keeps_its_version(
        client: Client, graph: Graph) -> None:
    assert [client.register_model("churn").version for _ in range(3)] == ["1", "2", "3"]
    _, (first,) = client.log_run(id="run-x", models=[{"model": "churn"}])
    assert first.version == "4"
    before = counts(graph)
    _, (again,) = client.log_run(id="run-x", models=[{"model": "churn"}])
    assert again.version == "4"
    assert counts(graph) == before


def test_concurrent_registrations_get_distinct_numbers(client: Client, graph: Graph) -> None:
    versions: list[str] = []
    errors = run_together(lambda: versions.append(client.register_model("race").version), 8)
    assert errors == []
    assert sorted(versions, key=int) == [str(i) for i in range(1, 9)]
    assert counts(graph)["ModelVersion"] == 8


def test_concurrent_writers_of_one_ownership_leave_one_edge(client: Client,
                                                           graph: Graph) -> None:
    client.person("alice", name="Alice")
    client.experiment("churn")
    errors = run_together(lambda: client.own("experiment:churn", owner="alice"), 8)
    assert errors == []
    edges = graph.read(lambda tx: tx.run(
        "MATCH (:Person {handle: 'alice'})-[e:OWNS]->(:Experiment {name: 'churn'}) "
        "RETURN count(e) AS n").single()["n"])
    assert edges == 1


def test_one_run_logged_twice_at_once_produces_one_version(client: Client,
                                                          graph: Graph) -> None:
    client.experiment("churn")

    def log() -> None:
        with client.batch() as b:
            b.run(id="run-1", experiment="churn")
            b.model_version("churn", run_id="run-1")

    assert run_together(log, 4) == []
    assert [f.version for f in who_trained(graph, "churn")] == ["1"]


def test_concurrent_deployments_of_one_model_leave_one_active(client: Client,
                                                              graph: Graph) -> None:
    for _ in range(4):
        client.register_model("churn")
    versions = iter(range(1, 5))
    take = threading.Lock()

    def deploy() -> None:
        with take:
            version = next(versions)
        client.deploy("churn", version, environment="production", id=f"dep-{version}",
                      deployed_at=T0.replace(day=version))

    assert run_together(deploy, 4) == []
    assert [f.id for f in deployments(graph, environment="production")] == ["dep-4"]


def test_an_alias_moves_to_the_newest_holder(client: Client, graph: Graph) -> None:
    client.register_model("churn", aliases=["champion", "v-one"])
    client.register_model("churn", aliases=["champion"])
    by_version = {f.version: f.aliases for f in who_trained(graph, "churn")}
    assert by_version == {"1": ("v-one",), "2": ("champion",)}


def test_deploying_a_new_version_retires_the_previous_one_there(
        client: Client, graph: Graph) -> None:
    for _ in range(2):
        client.register_model("churn")
    client.deploy("churn", 1, environment="production", id="dep-1", deployed_at=T0)
    client.deploy("churn", 1, environment="staging", id="dep-s1", deployed_at=T0)
    client.deploy("churn", 2, environment="production", id="dep-2",
                  deployed_at=T0.replace(day=2))
    facts = {f.id: f for f in deployments(graph, status=None)}
    assert facts["dep-1"].status == "RETIRED"
    assert facts["dep-1"].retired_at == T0.replace(day=2)
    assert facts["dep-2"].status == "ACTIVE"
    assert facts["dep-s1"].status == "ACTIVE"  # another environment is left alone
    assert [f.id for f in deployments(graph, environment="production")] == ["dep-2"]
    # A deployment older than the active one, recorded late, is history at once.
    client.deploy("churn", 1, environment="production", id="dep-0",
                  deployed_at=T0.replace(hour=12))
    facts = {f.id: f for f in deployments(graph, status=None)}
    assert facts["dep-0"].status == "RETIRED"
    assert facts["dep-0"].retired_at == T0.replace(day=2)
    assert [f.id for f in deployments(graph, environment="production")] == ["dep-2"]


def test_retire_and_transfer_keep_history(client: Client, graph: Graph) -> None:
    write_everything(client)
    client.retire("dep-1")
    assert deployments(graph) == []
    client.transfer("churn", from_="alice", to="bob")
    churn = show(graph, parse_ref("model:churn"))
    assert churn["links"]["<-OWNS"]["refs"] == ["person:bob"]  # the closed edge is history
    assert counts(graph)["OWNS"] == 3
