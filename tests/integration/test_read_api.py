"""``import kb`` reads: each function answers what the CLI's ``--json`` and the
``kb.graph`` function answer for the same history, lists are read page by page as used,
``to_pandas()`` gives the records' fields as columns, and bad input is kb's error.

The history, written through the SDK's Client:

    train@1 -> run-a1 (alice, churn, lr 0.1) -> churn@1 -> dep-churn-1 production (retired)
    train@1, eval@1 -> run-b2 (bob, churn, lr 0.05) -> churn@2 -> dep-churn-2 production
    eval@1 -> run-c3 (carol) -> fraud@1 -> dep-fraud-1 staging
    alice owns dataset train, then leaves; bob owns model churn; fraud has no owner.
    sweep-00 .. sweep-11: twelve runs of experiment sweep by carol, a day apart.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import at_80_columns, ok_json

import kb
from kb.cli.app import _default
from kb.domain import Label, parse_ref, to_global_id
from kb.errors import InvalidInput, NotFound
from kb.graph import Graph
from kb.graph import deployments as graph_deployments
from kb.graph import impact as graph_impact
from kb.graph import lineage as graph_lineage
from kb.graph import who_trained as graph_who_trained
from kb.graph.compare import compare_runs as graph_compare_runs
from kb.graph.history import entity_history
from kb.graph.ownership import handover as graph_handover
from kb.graph.ownership import orphans as graph_orphans
from kb.ingest import Client
from kb.read import Results, RunSummary, Training

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SWEEP = [f"sweep-{i:02d}" for i in range(12)]


def at(day: int) -> datetime:
    return T0 + timedelta(days=day)


def write_history(client: Client) -> None:
    with client.batch() as b:
        b.team("ml")
        b.person("alice", name="Alice Liddell", team="ml")
        b.person("bob", name="Bob Marley", team="ml")
        b.person("carol", name="Carol Danvers", team="ml")
        b.dataset_version("train", "1", digest="sha256:train1", uri="s3://d/train/1")
        b.dataset_version("eval", "1", digest="sha256:eval1")
        b.model("churn", description="Who will leave next month", task="classification")
    client.log_run(
        id="run-a1", person="alice", experiment="churn", params={"lr": 0.1, "depth": 6},
        metrics={"auc": 0.81}, inputs=[("train", "1", "train")],
        code={"repo": "git@example.com:ml/churn.git", "commit": "abc123", "dirty": False},
        command="python train.py --lr 0.1", seed=7, started_at=at(2), ended_at=at(3),
        models=[{"model": "churn"}])
    client.log_run(
        id="run-b2", person="bob", experiment="churn", params={"lr": 0.05},
        metrics={"auc": 0.86}, inputs=[("train", "1", "train"), ("eval", "1", "validation")],
        code={"repo": "git@example.com:ml/churn.git", "commit": "def456", "dirty": True},
        started_at=at(5), ended_at=at(6), models=[{"model": "churn", "aliases": ["champion"]}])
    client.log_run(id="run-c3", person="carol", inputs=["eval@1"], started_at=at(7),
                   models=[{"model": "fraud"}])
    client.deploy("churn", 1, environment="production", by="alice", id="dep-churn-1",
                  deployed_at=at(4))
    client.deploy("churn", 2, environment="production", by="bob", id="dep-churn-2",
                  deployed_at=at(8))
    client.deploy("fraud", 1, environment="staging", by="carol", id="dep-fraud-1",
                  deployed_at=at(9))
    client.own("dataset:train", owner="alice")
    client.own("model:churn", owner="bob")
    client.person("alice", left_at=at(20))
    client.note("model:churn", "Retrain monthly; churn labels lag by two weeks.", by="bob")
    with client.batch() as b:
        for i, run_id in enumerate(SWEEP):
            b.run(id=run_id, person="carol", experiment="sweep", status="COMPLETED",
                  params={"lr": round(0.01 * (i + 1), 2), "layers": i % 3},
                  metrics={"loss": 1.0 / (i + 1)}, started_at=at(30 + i))


@pytest.fixture
def story(client: Client, graph: Graph) -> Graph:
    write_history(client)
    return graph


@pytest.fixture
def notebook(kb_env: Path, story: Graph):
    """``import kb`` with nothing but the environment: the default client connects itself."""
    kb.close()
    yield kb
    kb.close()


@pytest.fixture
def cli(kb_env: Path, monkeypatch: pytest.MonkeyPatch):
    run = at_80_columns(monkeypatch)
    return lambda *args: ok_json(run(*args, "--json"))


def as_json(value: object) -> object:
    """A value as the CLI prints it in ``--json``."""
    return json.loads(json.dumps(value, default=_default))


def bare(ref: str | None) -> str | None:
    return None if ref is None else ref.partition(":")[2]


def test_who_trained_answers_as_the_cli_and_the_graph(notebook, story: Graph, cli) -> None:
    answer = notebook.who_trained("churn")
    assert isinstance(answer, Results)
    trainings = list(answer)
    assert [t.version for t in trainings] == ["2", "1"]
    assert all(isinstance(t, Training) for t in trainings)
    facts = graph_who_trained(story, "churn")
    shown = cli("who-trained", "churn")
    for t, f, c in zip(trainings, facts, shown, strict=True):
        assert (t.model, t.version, t.person_handle, t.person_name, t.person_active,
                t.run_id, t.run_status, t.params, t.metrics, t.commit, t.dirty, t.seed,
                t.command, t.aliases) == (
            f.model, f.version, f.person, f.person_name, f.person_active, f.run_id,
            f.run_status, f.params, f.metrics, f.commit, f.dirty, f.seed, f.command,
            f.aliases)
        assert t.inputs == f.inputs
        assert t.id == to_global_id(Label.MODEL_VERSION, f"churn@{t.version}")
        assert (f"model:{t.model}", t.version, t.person_handle, t.run_id) == (
            c["model"], c["version"], bare(c["person"]), bare(c["run"]))
        assert as_json([t.started_at, t.ended_at, t.created_at, t.params, t.metrics]) == [
            c["started_at"], c["ended_at"], c["created_at"], c["params"], c["metrics"]]
        assert [f"dataset:{i.dataset}@{i.version}" for i in t.inputs] == [
            i["ref"] for i in c["inputs"]]
    assert trainings[1].person_active is False  # alice left
    one = notebook.who_trained("churn", version=1).all()
    assert one == [trainings[1]] == notebook.who_trained("churn@1").all()


def test_as_of_takes_a_datetime_or_the_cli_text(notebook, story: Graph, cli) -> None:
    now = datetime.now(UTC)
    by_text = notebook.who_trained("churn", as_of=now.isoformat()).all()
    assert notebook.who_trained("churn", as_of=now).all() == by_text
    assert [t.version for t in by_text] == [f.version for f in
                                            graph_who_trained(story, "churn", as_of=now)]
    assert [t.version for t in by_text] == ["2", "1"]
    # Before the versions were written there were none, whichever way the instant is given.
    assert notebook.who_trained("churn", as_of="2026-01-05").all() == []
    then = datetime(2026, 1, 5, tzinfo=UTC)
    assert notebook.orphans(as_of=then).all() == notebook.orphans(as_of="2026-01-05").all()
    prod = notebook.deployments(environment="production", as_of=now).all()
    assert [d.deployment_id for d in prod] == [c["id"] for c in cli(
        "prod", "--env", "production", "--as-of", now.isoformat())] == ["dep-churn-2"]


def test_lineage_is_the_graph_answer(notebook, story: Graph) -> None:
    answer = notebook.lineage("dataset:train@1", direction="downstream", depth=4)
    assert answer == graph_lineage(story, parse_ref("dataset:train@1"),
                                   direction="DOWNSTREAM", depth=4)
    assert {n.key for n in answer.nodes} >= {"churn@1", "churn@2", "dep-churn-2"}
    assert notebook.lineage("churn").root == to_global_id(Label.MODEL, "churn")


def test_impact_answers_as_the_cli(notebook, story: Graph, cli) -> None:
    items = notebook.impact("train", "1").all()
    assert items == notebook.impact("dataset:train@1").all() == notebook.impact("train", 1).all()
    assert [(i.kind, i.key, i.hops) for i in items] == [
        (i.kind, i.key, i.hops) for i in graph_impact(story, "train", "1")]
    shown = cli("impact", "train@1")["items"]
    assert {(i.kind, i.key, i.hops, i.environment) for i in items} == {
        (c["kind"], bare(c["ref"]), c["hops"], c["environment"]) for c in shown}
    path = next(i for i in items if i.key == "dep-churn-2").path
    assert path[0].key == "train@1"


def test_deployments_answer_as_the_cli(notebook, story: Graph, cli) -> None:
    mine = notebook.deployments().all()
    assert [d.deployment_id for d in mine] == [d.id for d in graph_deployments(story)]
    shown = {c["id"]: c for c in cli("prod")}
    assert set(shown) == {d.deployment_id for d in mine} == {"dep-churn-2", "dep-fraud-1"}
    for d in mine:
        c = shown[d.deployment_id]
        assert (d.model, d.version, d.environment, d.status, d.deployed_by, d.trained_by,
                d.run_id) == (bare(c["model"]), c["version"], c["environment"], c["status"],
                              bare(c["deployed_by"]), bare(c["trained_by"]), bare(c["run"]))
        assert as_json(d.deployed_at) == c["deployed_at"]
        assert [f"{o.kind.lower()}:{o.key}" for o in d.owners] == [o["ref"] for o in c["owners"]]
    churn = next(d for d in mine if d.model == "churn")
    assert churn.id == to_global_id(Label.DEPLOYMENT, "dep-churn-2")
    assert [(o.key, o.active) for o in churn.owners] == [("bob", True)]
    every = notebook.deployments(status=None, model="churn").all()
    assert {d.deployment_id for d in every} == {"dep-churn-1", "dep-churn-2"}


def test_handover_and_orphans_answer_as_the_cli(notebook, story: Graph, cli) -> None:
    items = notebook.handover("person:alice").all()
    assert [(h.kind, h.key, h.at_risk) for h in items] == [
        (h.kind, h.key, h.at_risk) for h in graph_handover(story, "alice")]
    assert [(h.kind, h.key, list(h.relations), list(h.roles), h.at_risk) for h in items] == [
        (c["kind"], c["key"], c["relations"], c["roles"], c["at_risk"])
        for c in cli("handover", "alice")]
    assert ("Dataset", "train") in {(h.kind, h.key) for h in items}
    orphans = notebook.orphans().all()
    assert [(o.kind, o.key, o.reason) for o in orphans] == [
        (o.kind, o.key, o.reason) for o in graph_orphans(story)]
    assert [(o.kind, o.key, o.reason, o.feeds_production, as_json(o.last_owned_at))
            for o in orphans] == [(c["kind"], c["key"], c["reason"], c["feeds_production"],
                                   c["last_owned_at"]) for c in cli("orphans")]
    train = next(o for o in orphans if o.key == "train")
    assert (train.reason, train.former_owners) == ("OWNER_LEFT", ("alice",))


def test_compare_search_and_show(notebook, story: Graph, cli) -> None:
    diff = notebook.compare_runs("run-a1", "run:run-b2")
    record = graph_compare_runs(story, "run-a1", "run-b2")
    assert (diff.params, diff.metrics, diff.inputs_only_in_b, diff.commit_a, diff.commit_b,
            diff.same_code) == (record.params, record.metrics, record.inputs_only_b,
                                "abc123", "def456", False)
    assert [(c.key, c.a, c.b) for c in diff.params] == [("depth", 6, None), ("lr", 0.1, 0.05)]

    hits = notebook.search("churn", types=["model"]).all()
    shown = cli("search", "churn", "--kind", "model")
    assert [(h.node.ref, h.score) for h in hits] == [(c["ref"], c["score"]) for c in shown]
    assert hits[0].node.description == "Who will leave next month"

    version = notebook.show("model:churn@2")
    data = cli("show", "model:churn@2")
    assert (version.key, version.version, version.model_name, version.aliases) == (
        data["key"], data["version"], data["model"], tuple(data["aliases"]))
    assert as_json(version.created_at) == data["createdAt"]
    assert {name: (g.count, list(g.refs)) for name, g in version.links.items()} == {
        name: (g["count"], g["refs"]) for name, g in data["links"].items()}
    run = notebook.show("run:run-a1")
    assert (run.run_id, run.seed, run.command, run.params) == (
        "run-a1", 7, "python train.py --lr 0.1", {"lr": 0.1, "depth": 6})
    person = notebook.show("person:alice")
    assert (person.name, person.active) == ("Alice Liddell", False)


def test_runs_are_read_page_by_page_as_used(notebook, story: Graph, cli) -> None:
    runs = notebook.runs(experiment="sweep", page_size=5)
    assert runs.pages_fetched == 1  # the first page at the call
    assert [r.run_id for r in runs.first(6)] == SWEEP[::-1][:6]
    assert runs.pages_fetched == 2
    every = list(runs)
    assert runs.pages_fetched == 3
    assert [r.run_id for r in every] == SWEEP[::-1]  # newest first, each once
    assert all(isinstance(r, RunSummary) for r in every)
    shown = cli("runs", "--experiment", "sweep")
    assert [(r.run_id, r.person, r.experiment, r.status, r.params, r.metrics)
            for r in every] == [(bare(c["ref"]), bare(c["person"]), bare(c["experiment"]),
                                 c["status"], c["params"], c["metrics"]) for c in shown]
    assert as_json([r.started_at for r in every]) == [c["started_at"] for c in shown]
    assert [r.run_id for r in notebook.runs(person="alice")] == ["run-a1"]
    assert [r.run_id for r in notebook.runs(model="churn")] == ["run-b2", "run-a1"]
    assert [r.run_id for r in notebook.runs(dataset="eval", since="2026-01-07")] == ["run-c3"]
    assert len(notebook.runs(status="completed", since=at(35)).all()) == 7


def test_to_pandas_has_the_records_fields(notebook, story: Graph) -> None:
    frame = notebook.runs(experiment="sweep", page_size=5).to_pandas()
    assert len(frame) == 12
    assert list(frame.columns)[:5] == ["run_id", "status", "started_at", "person",
                                       "experiment"]
    assert {"params.lr", "params.layers", "metrics.loss", "inputs", "id", "ref"} <= set(
        frame.columns)
    newest = frame.iloc[0]
    assert (newest["run_id"], newest["params.lr"], newest["params.layers"]) == (
        "sweep-11", 0.12, 2)
    trained = notebook.who_trained("churn").to_pandas()
    assert trained[["version", "person_handle", "params.lr"]].values.tolist() == [
        ["2", "bob", 0.05], ["1", "alice", 0.1]]
    models = notebook.models().to_pandas()
    assert models["name"].tolist() == ["churn", "fraud"]


def test_models_and_other_lists_answer_as_the_cli(notebook, story: Graph, cli) -> None:
    models = notebook.models(page_size=1)
    assert [m.name for m in models] == [r["name"] for r in cli("models")["items"]]
    assert models.pages_fetched == 2
    churn = models[0]
    assert (churn.description, churn.task, churn.ref) == (
        "Who will leave next month", "classification", "model:churn")
    assert [m.name for m in notebook.models(owner="bob")] == ["churn"]
    assert [d.name for d in notebook.datasets(owner="alice")] == ["train"]
    assert [e.name for e in notebook.experiments()] == ["churn", "sweep"]
    assert [t.name for t in notebook.teams()] == ["ml"]
    assert [p.handle for p in notebook.people(team="ml", active=False)] == ["alice"]
    here = [p.handle for p in notebook.people(active=True)]
    assert here == [r["handle"] for r in cli("people", "--active")["items"]]
    assert {"bob", "carol"} <= set(here) and "alice" not in here


def test_history_is_the_graph_history(notebook, story: Graph) -> None:
    changes = notebook.history("model:churn", page_size=2)
    first = story.read(entity_history, Label.MODEL, "churn", first=2)
    for mine, fact in zip(changes.first(2), first.items, strict=True):
        assert (mine.id, mine.at, mine.actor, mine.path, mine.op, mine.entity.kind,
                mine.entity.key, mine.links) == (fact.id, fact.at, fact.actor, fact.path,
                                                 fact.op, fact.kind, fact.key, fact.links)
        assert {f.name: (f.before, f.after) for f in mine.fields} == fact.fields
    every = changes.all()
    assert len(every) > 2 and len({c.id for c in every}) == len(every)
    assert changes.pages_fetched >= 2
    created = next(c for c in every if c.entity.key == "churn" and c.op == "create")
    assert created.entity.entity_id == to_global_id(Label.MODEL, "churn")
    assert "created" in created.kinds


def test_bad_input_is_kbs_error_naming_the_argument(notebook) -> None:
    with pytest.raises(NotFound):
        notebook.who_trained("nope")
    with pytest.raises(NotFound):
        notebook.runs(person="nobody")  # at the call: the first page is read there
    with pytest.raises(NotFound):
        notebook.show("model:nope")
    with pytest.raises(NotFound):
        notebook.compare_runs("run-a1", "run-zz")
    with pytest.raises(NotFound):
        notebook.handover("nobody")
    cases = [
        ("status", lambda: notebook.runs(status="done")),
        ("since", lambda: notebook.runs(since="last tuesday")),
        ("page_size", lambda: notebook.runs(page_size=0)),
        ("page_size", lambda: notebook.models(page_size=101)),
        ("depth", lambda: notebook.lineage("model:churn", depth=0)),
        ("direction", lambda: notebook.lineage("model:churn", direction="SIDEWAYS")),
        ("ref", lambda: notebook.show("nonsense:x")),
        ("ref", lambda: notebook.show(42)),
        ("as_of", lambda: notebook.who_trained("churn", as_of="soon")),
        ("as_of", lambda: notebook.orphans(as_of=3.5)),
        ("model", lambda: notebook.who_trained("")),
        ("version", lambda: notebook.who_trained("churn", version=1.5)),
        ("dataset", lambda: notebook.impact("  ")),
        ("status", lambda: notebook.deployments(status="GONE")),
        ("types", lambda: notebook.search("churn", types=["deployment"])),
        ("text", lambda: notebook.search("   ")),
        ("first", lambda: notebook.search("churn", first=0)),
        ("first", lambda: notebook.search("churn", first="10")),
        ("version", lambda: notebook.impact("train", [1])),
        ("person", lambda: notebook.runs(person=7)),
        ("depth", lambda: notebook.lineage("model:churn", depth="3")),
        ("active", lambda: notebook.people(active="yes")),
        ("kinds", lambda: notebook.history("model:churn", kinds=["nope"])),
    ]
    for field, call in cases:
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == field, (field, caught.value)
    # Lucene syntax in the text is searched as written, never a driver error.
    assert isinstance(notebook.search('churn) OR "(*').all(), list)
