"""``kb import mlflow --follow``/``--once``: passes from a cursor, against a real MLflow
store in tmp and the real Neo4j; ``--user-map``; runs a training script marked as its own."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from kb.cli import app
from kb.domain import Label, Ref
from kb.errors import InvalidInput
from kb.graph import Graph, show, who_trained
from kb.graph.stats import counts
from kb.ingest.client import Client
from kb.ingest.mlflow_follow import follow_pass
from kb.ingest.mlflow_import import default_tracking_uri, import_mlflow, run_key
from kb.ingest.mlflow_users import load_user_map
from kb.ingest.run import ActiveRun

# Writes MLflow stores, and runs the importer as a process of its own.
pytestmark = pytest.mark.slow

T0 = datetime(2024, 5, 1, tzinfo=UTC)
KB = Path(sys.executable).with_name("kb")


def _ms(day: int) -> int:
    return int(T0.replace(day=day).timestamp() * 1000)


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


def _changes(graph: Graph) -> int:
    return graph.query("MATCH (c:Change) RETURN count(c) AS n")[0]["n"]


def _runs(graph: Graph) -> int:
    return graph.query("MATCH (r:Run) RETURN count(r) AS n")[0]["n"]


def _trainers(graph: Graph, run_id: str) -> list[str]:
    rows = graph.query("MATCH (p:Person)-[:TRAINED]->(:Run {id: $id}) RETURN p.handle AS h",
                       id=run_id)
    return sorted(r["h"] for r in rows)


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The team's directory, also the working directory: nothing may appear in it."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("KB_MLFLOW_UI_URL", raising=False)
    root = tmp_path / "team"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


class Store:
    """The team's MLflow, written with MLflow's own client."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def __enter__(self) -> MlflowClient:
        self._env = default_tracking_uri(self.uri)
        self._env.__enter__()
        return self.client

    def __exit__(self, *exc: object) -> None:
        self._env.__exit__(*exc)

    def run(self, exp: str, day: int, user: str, *, finish: bool = True,
            tags: dict[str, str] | None = None) -> str:
        with self as client:
            run = client.create_run(exp, start_time=_ms(day), run_name=f"train-{day}",
                                    tags={"mlflow.user": user, **(tags or {})})
            rid = run.info.run_id
            client.log_param(rid, "epochs", str(day))
            client.log_metric(rid, "loss", 1 / day, timestamp=_ms(day), step=0)
            if finish:
                client.set_terminated(rid, "FINISHED", end_time=_ms(day) + 3_600_000)
        return rid

    def version(self, model: str, rid: str) -> str:
        with self as client:
            if not client.search_registered_models(f"name='{model}'"):
                client.create_registered_model(model)
            return str(client.create_model_version(model, source=f"runs:/{rid}/m",
                                                   run_id=rid).version)

    def alias(self, model: str, alias: str, version: str) -> None:
        with self as client:
            client.set_registered_model_alias(model, alias, version)


def _file_store(team: Path) -> tuple[Store, str]:
    store = Store((team / "mlruns").as_uri())
    with store as client:
        exp = client.create_experiment("churn")
    return store, exp


def test_follow_reads_and_writes_only_what_changed(graph: Graph, team: Path):
    store, exp = _file_store(team)
    a = store.run(exp, 2, "alice@corp.com")
    b = store.run(exp, 5, "bob", finish=False)
    store.version("churn", a)
    store.alias("churn", "champion", "1")
    before = _tree(team)

    first = follow_pass(graph, store.uri, actor="tester")
    assert first.first and (first.new_runs, first.changed_runs) == (2, 0)
    assert (first.model_versions, first.alias_moves) == (1, 1)
    assert show(graph, Ref(Label.RUN, run_key(b)))["status"] == "RUNNING"

    kept, changes = counts(graph), _changes(graph)
    idle = follow_pass(graph, store.uri, actor="tester")
    # Only the run still RUNNING is read again; nothing is written.
    assert not idle.first and idle.written == 0 and idle.runs_read == 1
    assert idle.versions_read == 0 and idle.line() == "nothing new"
    assert counts(graph) == kept and _changes(graph) == changes
    assert _tree(team) == before

    c = store.run(exp, 9, "carol")
    with store as client:
        client.log_metric(b, "loss", 0.01, timestamp=_ms(6), step=1)
        client.set_terminated(b, "FINISHED", end_time=_ms(6))
    store.version("churn", b)
    store.alias("churn", "champion", "2")
    before = _tree(team)

    step = follow_pass(graph, store.uri, actor="tester")
    assert (step.new_runs, step.changed_runs, step.experiments) == (1, 1, 0)
    assert (step.model_versions, step.alias_moves) == (1, 1)
    assert step.runs_read == 2  # b (started after a, and open) and c; never a again
    assert step.line() == "1 new runs, 1 runs changed, 1 model versions, 1 alias moves"
    (two,) = who_trained(graph, "churn", "2")
    assert two.aliases == ("champion",) and two.run_id == run_key(b)
    assert two.run_status == "COMPLETED" and two.metrics == {"loss": 0.01}
    (one,) = who_trained(graph, "churn", "1")
    assert one.aliases == () and one.person == "alice"
    assert _trainers(graph, run_key(c)) == ["carol"]

    kept, changes = counts(graph), _changes(graph)
    idle = follow_pass(graph, store.uri, actor="tester")
    assert idle.written == 0 and idle.runs_read == 1  # c, within the clock-skew margin
    assert counts(graph) == kept and _changes(graph) == changes
    assert _tree(team) == before


def test_follow_resumes_after_a_restart_and_stops_cleanly_on_ctrl_c(
        kb_env, graph: Graph, team: Path):
    db = team / "mlflow.db"
    store = Store(f"sqlite:///{db}")
    with store as client:
        exp = client.create_experiment("churn")
    store.run(exp, 2, "alice")
    before = _tree(team)
    follow = subprocess.Popen(
        [str(KB), "import", "mlflow", "--tracking-uri", store.uri, "--follow",
         "--interval", "0.5", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=os.environ.copy(), cwd=team)
    try:
        first = json.loads(follow.stdout.readline())
        assert first["first"] and first["new_runs"] == 1
        assert _tree(team) == before
        store.run(exp, 4, "bob")
        for _ in range(120):  # each pass prints a line; the new run comes in one of them
            line = json.loads(follow.stdout.readline())
            assert not line["first"]
            if line["new_runs"]:
                break
        # The run of day 2 is read again (within the clock-skew margin), not written.
        assert (line["new_runs"], line["changed_runs"], line["runs_read"]) == (1, 0, 2)
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=60) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert "stopping after this pass" in follow.stderr.read()

    # Started again, it continues from its cursor: only what came meanwhile is read.
    store.run(exp, 8, "carol")
    before = _tree(team)
    done = CliRunner().invoke(app, ["import", "mlflow", "--tracking-uri", store.uri,
                                    "--once", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert not data["first"] and (data["new_runs"], data["changed_runs"]) == (1, 0)
    assert data["runs_read"] == 2  # day 4's run, within the margin, and day 8's
    assert _tree(team) == before
    assert _runs(graph) == 3


def test_user_map_names_kb_people(kb_env, graph: Graph, team: Path):
    store, exp = _file_store(team)
    a = store.run(exp, 2, "alice@corp.com")
    b = store.run(exp, 3, "Bob.Builder@corp.com")
    c = store.run(exp, 4, "carol@corp.com")
    (team / "users.map").write_text("# MLflow user = kb person\n\n"
                                    "alice@corp.com = asmith\n")
    done = CliRunner().invoke(app, [
        "import", "mlflow", "--tracking-uri", store.uri, "--user-map",
        str(team / "users.map"), "--user-map", "bob.builder@corp.com=bob"])
    assert done.exit_code == 0, done.output
    assert _trainers(graph, run_key(a)) == ["asmith"]
    assert _trainers(graph, run_key(b)) == ["bob"]  # matched regardless of case
    assert _trainers(graph, run_key(c)) == ["carol"]  # unmapped: as before


@pytest.mark.parametrize(("lines", "problem"), [
    ("alice@corp.com = alice\nbob@corp.com alice\n", "line 2: expected 'mlflow_user = kb_handle'"),
    ("alice@corp.com = \n", "line 1: expected"),
    ("# people\nalice@corp.com = al ice\n", "line 2: 'al ice' is not a kb person handle"),
    ("a@x = alice\na@x = bob\n", "line 2: 'a@x' is already mapped to 'alice'"),
], ids=["no-equals", "no-handle", "bad-handle", "twice"])
def test_malformed_user_map_is_refused_naming_the_line(
        kb_env, graph: Graph, team: Path, lines: str, problem: str):
    store, exp = _file_store(team)
    store.run(exp, 2, "alice@corp.com")
    path = team / "users.map"
    path.write_text(lines)
    kept = counts(graph)
    done = CliRunner().invoke(app, ["import", "mlflow", "--tracking-uri", store.uri,
                                    "--user-map", str(path)])
    assert done.exit_code == 2, done.output
    message = " ".join(done.output.split())
    assert "--user-map" in message and f"{path}, {problem}" in message
    assert counts(graph) == kept


def test_user_map_pairs_and_conflicts():
    assert load_user_map(["a@x=alice", "b=bob"]) == {"a@x": "alice", "b": "bob"}
    with pytest.raises(InvalidInput) as caught:
        load_user_map(["a@x=alice", "a@x=bob"])
    assert caught.value.field == "--user-map" and "both 'alice' and 'bob'" in caught.value.problem
    with pytest.raises(InvalidInput) as caught:
        load_user_map(["no-such-file.map"])
    assert "neither a map file nor" in caught.value.problem


def _kb_run(graph: Graph, person: str, **given) -> ActiveRun:
    return ActiveRun(Client(graph, actor=person, default_person=person), experiment="churn-kb",
                     person=person, params={"lr": 0.1}, inputs=(), seed=None, name=None,
                     capture_env=False, tracker_url=None, parent=None, **given)


def test_a_marked_run_is_one_run_with_one_trainer(graph: Graph, team: Path):
    store, exp = _file_store(team)
    m = store.run(exp, 2, "svc-account@corp.com", finish=False)
    with _kb_run(graph, "dana", id=None, mlflow_run_id=m) as run:
        run.log_metrics({"auc": 0.9})
    assert run.id == run_key(m)
    # The script's own id, named by the MLflow tag kb.run_id.
    with _kb_run(graph, "erin", id="erin-7", accept=["mlflow"]):
        pass
    n = store.run(exp, 3, "svc-account@corp.com", tags={"kb.run_id": "erin-7"})
    # Marked with a kb run that does not let MLflow write it: left alone, not duplicated.
    with _kb_run(graph, "fay", id="fay-1"):
        pass
    o = store.run(exp, 4, "svc-account@corp.com", tags={"kb.run_id": "fay-1"})
    store.version("churn", m)
    store.version("churn", n)
    store.version("churn", o)

    for _ in range(2):
        result = follow_pass(graph, store.uri, actor="tester")
        import_mlflow(graph, store.uri, actor="tester")
    assert any("fay-1" in line and "does not accept mlflow" in line
               for line in result.skipped)

    assert _runs(graph) == 3  # no mlflow:<id> beside the marked runs
    assert _trainers(graph, run_key(m)) == ["dana"]
    assert _trainers(graph, "erin-7") == ["erin"]
    assert "svc-account" not in {p["handle"] for p in _people(graph)}
    marked = show(graph, Ref(Label.RUN, run_key(m)))
    # The kb run finished; MLflow's run is still RUNNING: the kb run's status stands.
    assert marked["status"] == "COMPLETED"
    assert marked["params"] == {"lr": 0.1, "epochs": "2"}
    assert marked["metrics"] == {"auc": 0.9, "loss": 0.5}
    assert marked["links"]["PART_OF->"]["refs"] == ["experiment:churn-kb"]
    (one,) = who_trained(graph, "churn", "1")
    assert (one.run_id, one.person) == (run_key(m), "dana")
    (two,) = who_trained(graph, "churn", "2")
    assert (two.run_id, two.person) == ("erin-7", "erin")
    assert show(graph, Ref(Label.RUN, "erin-7"))["params"] == {"lr": 0.1, "epochs": "3"}
    (three,) = who_trained(graph, "churn", "3")
    assert three.run_id is None

    kept, changes = counts(graph), _changes(graph)
    again = follow_pass(graph, store.uri, actor="tester")
    import_mlflow(graph, store.uri, actor="tester")
    assert counts(graph) == kept and _changes(graph) == changes
    assert again.new_runs == 0


def _people(graph: Graph) -> list[dict]:
    return graph.query("MATCH (p:Person) RETURN p.handle AS handle")


def test_mlflow_run_id_and_another_id_are_refused(graph: Graph):
    with pytest.raises(InvalidInput) as caught:
        _kb_run(graph, "dana", id="mine", mlflow_run_id="abc")
    assert caught.value.field == "id" and "kb.run_id" in caught.value.problem


def test_a_first_pass_cut_short_resumes_from_its_last_batch(graph: Graph, team: Path):
    store, exp = _file_store(team)
    for day in range(2, 8):
        store.run(exp, day, "alice")
    batches = []

    def killed(done: int) -> None:
        batches.append(done)
        if len(batches) == 2:
            raise KeyboardInterrupt  # as if the process stopped here

    with pytest.raises(KeyboardInterrupt):
        follow_pass(graph, store.uri, actor="tester", batch_size=2, progress=killed)
    assert _runs(graph) == 4

    rest = follow_pass(graph, store.uri, actor="tester", batch_size=2)
    assert not rest.first and (rest.new_runs, rest.changed_runs) == (2, 0)
    assert rest.runs_read == 3  # day 5's again (the clock-skew margin), days 6 and 7
    assert _runs(graph) == 6


def test_a_young_running_run_waits_a_pass_for_the_script_to_mark_it(graph: Graph, team: Path):
    store, exp = _file_store(team)
    m = store.run(exp, 3, "svc-account", finish=False)
    just_after = T0.replace(day=3, second=5)  # the pass runs five seconds after it started

    early = follow_pass(graph, store.uri, actor="tester", now=just_after)
    assert (early.new_runs, early.waiting) == (0, 1) and _runs(graph) == 0
    # Meanwhile the training script opens its kb run, marked as that MLflow run.
    with _kb_run(graph, "dana", id=None, mlflow_run_id=m):
        pass

    later = follow_pass(graph, store.uri, actor="tester")
    assert (later.new_runs, later.waiting) == (1, 0)
    assert _runs(graph) == 1 and _trainers(graph, run_key(m)) == ["dana"]
    assert show(graph, Ref(Label.RUN, run_key(m)))["params"] == {"lr": 0.1, "epochs": "3"}
