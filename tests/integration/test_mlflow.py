"""Import a real local MLflow store, built with MLflow's own client, into the real Neo4j."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag
from typer.testing import CliRunner

from kb.cli import app
from kb.domain import Label, Ref
from kb.graph import Graph, lineage, show, who_trained
from kb.graph.stats import counts
from kb.ingest.mlflow_import import default_tracking_uri, import_mlflow, run_key

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _ms(day: int) -> int:
    return int(T0.replace(day=day).timestamp() * 1000)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A file store with two runs, dataset inputs, a registered model with two versions
    and the alias ``champion`` on the second. Runs in ``tmp_path``, where no stray
    ``mlflow.db`` may appear."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = (tmp_path / "mlruns").as_uri()
    with default_tracking_uri(uri):
        return _build_store(uri)


def _build_store(uri: str) -> dict:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("churn")
    ids = []
    for day, user, lr in ((2, "alice@corp.com", "0.1"), (9, "bob", "0.05")):
        run = client.create_run(exp, start_time=_ms(day), run_name=f"train-{day}", tags={
            "mlflow.user": user, "mlflow.source.name": "train.py",
            "mlflow.source.git.commit": f"c0ffee{day}",
            "mlflow.source.git.repoURL": "https://github.com/acme/churn.git"})
        rid = run.info.run_id
        client.log_param(rid, "lr", lr)
        client.log_metric(rid, "auc", 0.7, timestamp=_ms(day), step=0)
        client.log_metric(rid, "auc", 0.8 + day / 100, timestamp=_ms(day) + 1, step=1)
        client.log_inputs(rid, [
            DatasetInput(Dataset(name="customers", digest=f"d{day}", source_type="http",
                                 source=json.dumps({"url": f"https://data/customers-{day}.csv"})),
                         tags=[InputTag("mlflow.data.context", "training")]),
            DatasetInput(Dataset(name="holdout", digest="h1", source_type="http",
                                 source=json.dumps({"url": "https://data/holdout.csv"})),
                         tags=[InputTag("mlflow.data.context", "test")])])
        client.set_terminated(rid, status="FINISHED", end_time=_ms(day) + 3_600_000)
        ids.append(rid)
    client.create_registered_model("churn", description="Who will leave next month")
    for rid in ids:
        client.create_model_version("churn", source=f"runs:/{rid}/model", run_id=rid)
    client.set_registered_model_alias("churn", "champion", "2")
    return {"uri": uri, "runs": ids, "experiment": exp}


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


def test_import_answers_who_trained_and_lineage(graph: Graph, store: dict, tmp_path: Path):
    before = _tree(tmp_path)
    result = import_mlflow(graph, store["uri"], actor="tester")
    assert _tree(tmp_path) == before  # the store, and the directory around it, only read
    assert (result.experiments, result.runs, result.model_versions) == (2, 2, 2)  # + Default

    (fact,) = who_trained(graph, "churn", "2")
    assert fact.person == "bob" and fact.run_id == run_key(store["runs"][1])
    assert fact.aliases == ("champion",)
    assert fact.params == {"lr": "0.05"} and fact.metrics == {"auc": pytest.approx(0.89)}
    assert fact.commit == "c0ffee9" and fact.repo == "https://github.com/acme/churn.git"
    assert fact.command == "train.py" and fact.run_status == "COMPLETED"
    assert fact.started_at == T0.replace(day=9)
    inputs = {(i.dataset, i.version, i.digest, i.role) for i in fact.inputs}
    assert inputs == {("customers", "d9", "d9", "train"), ("holdout", "h1", "h1", "test")}
    (first,) = who_trained(graph, "churn", "1")
    assert first.person == "alice" and first.aliases == ()

    run = show(graph, Ref(Label.RUN, run_key(store["runs"][0])))
    assert run.get("trackerUrl") is None  # no UI address known for a file store
    assert run["links"]["PART_OF->"]["refs"] == ["experiment:churn"]

    up = lineage(graph, Ref(Label.MODEL_VERSION, "churn@2"), direction="UPSTREAM", depth=2)
    assert {"customers@d9", "holdout@h1", run_key(store["runs"][1])} <= {n.key for n in up.nodes}
    down = lineage(graph, Ref(Label.DATASET_VERSION, "holdout@h1"), direction="DOWNSTREAM",
                   depth=2)
    assert {"churn@1", "churn@2"} <= {n.key for n in down.nodes}

    kept = counts(graph)
    again = import_mlflow(graph, store["uri"], actor="tester")
    assert again.runs == 2
    assert counts(graph) == kept
    assert who_trained(graph, "churn", "2") == [fact]
    assert _tree(tmp_path) == before


def test_cli_import_with_since_and_experiment(kb_env, graph: Graph, store: dict):
    args = ["import", "mlflow", "--tracking-uri", store["uri"], "--experiment", "churn",
            "--since", "2024-05-05", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # Only the run of May 9 is new; both model versions were registered just now, and the
    # one whose run was not imported is kept without a run until that run is imported.
    assert data["runs"] == 1 and data["model_versions"] == 2
    assert len(data["skipped"]) == 1 and "churn v1" in data["skipped"][0]
    assert {f.version: f.person for f in who_trained(graph, "churn")} == {"1": None, "2": "bob"}

    result = CliRunner().invoke(app, ["import", "mlflow", "--tracking-uri", store["uri"]])
    assert result.exit_code == 0, result.output
    assert {f.version: f.person for f in who_trained(graph, "churn")} == {"1": "alice",
                                                                          "2": "bob"}

    result = CliRunner().invoke(app, ["import", "mlflow", "--tracking-uri", store["uri"],
                                      "--experiment", "nope"])
    assert result.exit_code == 1
    assert "nope" in result.output
    assert not Path("mlflow.db").exists()
