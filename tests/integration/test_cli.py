"""The ``kb`` commands end to end: writes, questions, ``--json`` and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.cli import app
from kb.ingest import content_digest

runner = CliRunner()


@pytest.fixture
def kb(kb_env: Path, clean_db, monkeypatch: pytest.MonkeyPatch):
    """Run ``kb ARGS``; returns the result (stdout and stderr kept apart)."""
    monkeypatch.setenv("KB_USER", "dora")

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def ok_json(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_history(kb, tmp_path: Path) -> None:
    data = tmp_path / "raw.csv"
    data.write_text("id,age\n1,40\n")
    assert kb("team", "add", "ml", "--description", "ML team").exit_code == 0
    assert kb("person", "add", "alice", "--name", "Alice", "--team", "ml").exit_code == 0
    assert kb("person", "add", "bob", "--name", "Bob", "--email", "bob@example.com",
              "--team", "ml").exit_code == 0
    added = ok_json(kb("dataset", "add", "raw@1", "--digest-of", str(data), "--uri",
                       "file://raw.csv", "--rows", "1", "--json"))
    assert added["digest"] == content_digest(data)
    assert kb("dataset", "add", "clean@1", "--derived-from", "raw@1").exit_code == 0
    assert kb("dataset", "add", "train@1", "--derived-from", "clean@1",
              "--digest", "sha256:t1").exit_code == 0
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([
        {"id": "run-1", "person": "alice", "experiment": "churn",
         "params": {"lr": 0.1}, "metrics": {"auc": 0.8},
         "inputs": [{"dataset": "train", "version": "1", "role": "train"}],
         "code": {"repo": "git@example.com:ml/churn.git", "commit": "abc123"},
         "models": [{"model": "churn"}]},
        {"id": "run-2", "person": "bob", "params": {"lr": 0.05}, "inputs": ["train@1"],
         "models": [{"model": "churn", "aliases": ["champion"]}]},
    ]))
    logged = ok_json(kb("run", "log", str(runs), "--json"))
    assert logged == {"runs": ["run-1", "run-2"], "model_versions": [
        {"model": "churn", "version": "1", "run": "run-1"},
        {"model": "churn", "version": "2", "run": "run-2"}]}
    assert kb("deploy", "churn@1", "--env", "production", "--by", "alice",
              "--endpoint", "https://churn").exit_code == 0
    assert kb("deploy", "churn@2", "--env", "Staging").exit_code == 0


@pytest.mark.slow  # a few dozen commands, each opening the graph
def test_questions_after_writes(kb, tmp_path: Path) -> None:
    write_history(kb, tmp_path)
    assert kb("person", "leave", "alice", "--at", "2026-02-01").exit_code == 0

    facts = ok_json(kb("who-trained", "churn", "--json"))
    assert [f["version"] for f in facts] == ["2", "1"]
    v1 = facts[1]
    assert (v1["ref"], v1["person"], v1["person_active"], v1["run"], v1["commit"]) == (
        "model:churn@1", "person:alice", False, "run:run-1", "abc123")
    assert v1["inputs"] == [{"ref": "dataset:train@1", "digest": "sha256:t1",
                             "uri": None, "role": "train"}]
    assert facts[0]["aliases"] == ["champion"]
    assert ok_json(kb("who-trained", "churn@1", "--json"))[0]["version"] == "1"

    up = ok_json(kb("lineage", "churn@1", "--up", "--depth", "10", "--json"))
    assert {n["ref"] for n in up["nodes"]} >= {"model:churn@1", "run:run-1", "person:alice",
                                               "dataset:train@1", "dataset:clean@1",
                                               "dataset:raw@1"}
    assert up["direction"] == "UPSTREAM" and up["truncated"] is False
    down = ok_json(kb("lineage", "dataset:raw@1", "--down", "--depth", "10", "--json"))
    assert {"churn@1", "churn@2"} <= {n["key"] for n in down["nodes"]}

    items = ok_json(kb("impact", "raw@1", "--json"))["items"]
    assert [(i["kind"], i["model_version"], i["environment"]) for i in items] == [
        ("DEPLOYMENT", "model:churn@1", "production"),
        ("DEPLOYMENT", "model:churn@2", "staging"),
        ("MODEL_VERSION", "model:churn@1", None), ("MODEL_VERSION", "model:churn@2", None)]
    assert all(i["path"][0] == "dataset:raw@1" for i in items)

    prod = ok_json(kb("prod", "--environment", "production", "--json"))
    assert [(d["model_version"], d["deployed_by"], d["deployed_by_active"],
             d["endpoint"]) for d in prod] == [("model:churn@1", "person:alice", False,
                                                "https://churn")]
    staging = ok_json(kb("prod", "--env", "staging", "--json"))
    assert staging[0]["deployed_by"] == "person:dora"  # the actor, when --by is not given

    table = kb("prod")
    assert table.exit_code == 0
    assert "people who left stand behind these: alice" in table.stdout

    run = ok_json(kb("show", "run:run-1", "--json"))
    assert run["params"] == {"lr": 0.1}
    assert run["links"]["USED->"]["refs"] == ["dataset:train@1"]
    assert run["updatedBy"] == "dora"
    assert kb("show", "run:run-1").exit_code == 0


@pytest.mark.slow  # a dozen commands, each opening the graph
def test_ownership_notes_and_retirement(kb, tmp_path: Path) -> None:
    write_history(kb, tmp_path)
    assert ok_json(kb("own", "churn", "--owner", "alice", "--json")) == {
        "asset": "model:churn", "owner": "person:alice", "role": "owner"}
    moved = ok_json(kb("transfer", "churn", "--from", "alice", "--to", "team:ml", "--json"))
    assert (moved["from"], moved["to"]) == ("person:alice", "team:ml")
    note = ok_json(kb("note", "churn@1", "Calibrated on Q1 only.", "--json"))
    assert (note["about"], note["by"]) == ("model:churn@1", "dora")
    model = ok_json(kb("show", "model:churn", "--json"))
    assert model["links"]["<-OWNS"]["refs"] == ["team:ml"]
    version = ok_json(kb("show", "model:churn@1", "--json"))
    assert version["links"]["<-ABOUT"]["refs"] == [f"note:{note['id']}"]

    dep_id = ok_json(kb("prod", "--env", "production", "--json"))[0]["id"]
    assert kb("retire", dep_id).exit_code == 0
    assert ok_json(kb("prod", "--env", "production", "--json")) == []
    assert [d["status"] for d in ok_json(kb("prod", "--all", "--json"))
            if d["id"] == dep_id] == ["RETIRED"]

    registered = ok_json(kb("model", "register", "churn", "--alias", "champion", "--json"))
    assert registered["version"] == "3"
    assert ok_json(kb("who-trained", "churn", "--version", "3", "--json"))[0]["aliases"] == [
        "champion"]


@pytest.mark.parametrize(("args", "field"), [
    (("person", "add", "alice smith"), "person.handle"),
    (("dataset", "add", "customers"), "dataset"),
    (("dataset", "add", "customers@1@"), "dataset"),
    (("dataset", "add", "x@1", "--derived-from", "nope"), "--derived-from.0"),
    (("lineage", "model:churn@1", "--depth", "11"), "depth"),
    (("lineage", "churn", "--up", "--down"), "--up/--down"),
    (("deploy", "churn", "--env", "production"), "model"),
    (("lineage", "person:alice"), "entity"),
])
def test_bad_input_exits_2_naming_the_field(kb, args: tuple[str, ...], field: str) -> None:
    result = kb(*args)
    assert result.exit_code == 2, result.output
    assert f"{field}:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_run_file_names_the_run_and_writes_nothing(kb, tmp_path: Path) -> None:
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([
        {"id": "good", "person": "alice", "params": {"lr": 0.1}, "models": [{"model": "m"}]},
        {"id": "bad", "params": {"lr": {"nested": True}}},
    ]))
    result = kb("run", "log", str(runs))
    assert result.exit_code == 2
    assert "runs[1].params.lr:" in result.stderr
    missing = kb("show", "run:good")
    assert missing.exit_code == 1
    assert "does not exist" in missing.stderr

    runs.write_text(json.dumps({"id": "r", "metrics": {"auc": "high"}}))
    result = kb("run", "log", str(runs))
    assert result.exit_code == 2 and "runs[0].metrics.auc:" in result.stderr

    runs.write_text("{not json")
    result = kb("run", "log", str(runs))
    assert result.exit_code == 2 and "file:" in result.stderr


def test_missing_things_exit_1(kb) -> None:
    for args in (("who-trained", "ghost"), ("deploy", "ghost@1", "--env", "prod"),
                 ("retire", "dep-ghost"), ("person", "leave", "ghost"),
                 ("impact", "ghost@1"), ("own", "ghost", "--owner", "alice")):
        result = kb(*args)
        assert result.exit_code == 1, args
        assert "does not exist" in result.stderr, args


def test_help_documents_the_naming_scheme(kb) -> None:
    result = kb("lineage", "--help")
    assert result.exit_code == 0
    assert "model:churn@7" in result.stdout


def test_a_database_error_is_one_line_without_a_traceback(
        kb, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server answers, but not as kb hoped: here it has no database of that name."""
    monkeypatch.setenv("KB_NEO4J_DATABASE", "nosuchdb")
    result = kb("who-trained", "churn")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "KB_NEO4J_DATABASE" in result.stderr
    assert "Traceback" not in result.output
