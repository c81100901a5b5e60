"""The handover drill from the shell: handover, orphans, runs, compare, search and the
lists, as JSON and as text read at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import at_80_columns, ok, ok_json

LONG_RUN = "churn-gbm-2026-01-15-nightly-retrain-on-the-full-customer-history-x1"
HOSTILE = "Labels from [red]support[/red] [link=https://evil.example]tickets[/link]"


@pytest.fixture
def kb(kb_env: Path, clean_db, monkeypatch: pytest.MonkeyPatch):
    """Run ``kb ARGS`` at 80 columns; returns the result."""
    return at_80_columns(monkeypatch)


@pytest.fixture
def history(kb, tmp_path: Path):
    """Alice owned churn and the labels and trained two runs, then left; bob stays."""
    ok(kb("team", "add", "ml", "--description", HOSTILE))
    ok(kb("person", "add", "alice", "--name", "Alice", "--team", "ml"))
    ok(kb("person", "add", "bob", "--name", "Bob [blink]", "--team", "ml"))
    ok(kb("dataset", "add", "labels@1"))
    ok(kb("dataset", "add", "train@1", "--derived-from", "labels@1"))
    ok(kb("dataset", "add", "train@2", "--derived-from", "labels@1"))
    ok(kb("dataset", "add", "events@1"))
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([
        {"id": "run-a", "person": "alice", "experiment": "churn", "status": "COMPLETED",
         "started_at": "2026-01-10T09:00:00Z", "params": {"lr": 0.1, "depth": 6},
         "metrics": {"auc": 0.80}, "inputs": ["train@1"],
         "code": {"repo": "git@example.com:ml/churn.git", "commit": "abc123", "dirty": True},
         "models": [{"model": "churn"}]},
        {"id": LONG_RUN, "person": "alice", "experiment": "churn", "status": "FAILED",
         "started_at": "2026-01-15T09:00:00Z", "params": {"lr": 0.05, "depth": 6},
         "metrics": {"auc": 0.83}, "inputs": ["train@2"],
         "code": {"repo": "git@example.com:ml/churn.git", "commit": "def456", "dirty": False},
         "models": [{"model": "churn"}]},
        {"id": "run-b", "person": "bob", "experiment": "events", "status": "COMPLETED",
         "started_at": "2026-02-01T09:00:00Z", "params": {"lr": 0.2},
         "inputs": ["events@1"], "models": [{"model": "ranker"}]},
    ]))
    ok(kb("run", "log", str(runs)))
    ok(kb("own", "churn", "--owner", "alice"))
    ok(kb("own", "dataset:labels", "--owner", "alice", "--role", "steward"))
    ok(kb("own", "ranker", "--owner", "bob"))
    ok(kb("person", "leave", "alice", "--at", "2026-03-01"))
    return kb


@pytest.mark.slow  # a dozen commands seed the history
def test_handover_orphans_and_search(history) -> None:
    kb = history
    items = {i["ref"]: i for i in ok_json(kb("handover", "alice", "--json"))}
    assert {"model:churn", "dataset:labels"} <= set(items)
    assert items["model:churn"]["relations"] == ["OWNS", "TRAINED"]
    assert items["dataset:labels"]["roles"] == ["steward"]
    assert items["dataset:labels"]["at_risk"] is True
    assert ok_json(kb("handover", "person:bob", "--json"))[0]["ref"] == "model:ranker"

    orphans = {o["ref"] for o in ok_json(kb("orphans", "--json"))}
    assert {"model:churn", "dataset:labels"} <= orphans
    assert "model:ranker" not in orphans

    text = ok(kb("handover", "alice"))
    assert "model:churn" in text and "at-risk" in text
    text = ok(kb("orphans"))
    assert "model:churn" in text and "dataset:labels" in text

    hits = ok_json(kb("search", "support tickets", "--json"))
    assert hits[0]["ref"] == "team:ml"
    assert [h["ref"] for h in ok_json(kb("search", "churn", "--kind", "model", "--json"))
            ] == ["model:churn"]
    # Graph text reaches the terminal as the text it is, never as rich markup.
    shown = ok(kb("search", "support"))
    assert "[red]support[/red]" in shown and "[link=https://evil.example]tickets[/link]" in shown
    assert "[blink]" in ok(kb("people"))


def _ids(result) -> list[str]:
    return [r["id"] for r in ok_json(result)]


@pytest.mark.slow
def test_runs_filters_and_compare(history) -> None:
    kb = history
    # Newest first; the derivations, which have no start time, last.
    assert _ids(kb("runs", "--json")) == ["run-b", LONG_RUN, "run-a", "derive:train@1",
                                          "derive:train@2"]
    assert _ids(kb("runs", "--dataset", "labels", "--json")) == ["derive:train@1",
                                                                  "derive:train@2"]
    assert _ids(kb("runs", "--person", "alice", "--json")) == [LONG_RUN, "run-a"]
    assert _ids(kb("runs", "--experiment", "events", "--json")) == ["run-b"]
    assert _ids(kb("runs", "--model", "churn", "--json")) == [LONG_RUN, "run-a"]
    assert _ids(kb("runs", "--dataset", "train", "--json")) == [LONG_RUN, "run-a"]
    assert _ids(kb("runs", "--dataset", "train", "--status", "completed", "--json")
                ) == ["run-a"]
    assert _ids(kb("runs", "--since", "2026-01-12", "--json")) == ["run-b", LONG_RUN]
    assert _ids(kb("runs", "--person", "alice", "--since", "2026-01-12", "--model",
                   "churn", "--json")) == [LONG_RUN]
    assert _ids(kb("runs", "--first", "1", "--json")) == ["run-b"]
    assert _ids(kb("runs", "--person", "bob", "--model", "churn", "--json")) == []

    cmp = ok_json(kb("compare", "run-a", f"run:{LONG_RUN}", "--json"))
    assert [r["ref"] for r in cmp["runs"]] == ["run:run-a", f"run:{LONG_RUN}"]
    assert [r["dirty"] for r in cmp["runs"]] == [True, False]
    assert {"param lr", "metric auc", "commit", "dirty tree", "data", "status"} <= set(
        cmp["differ"])
    assert "param depth" not in cmp["differ"]
    text = ok(kb("compare", "run-a", LONG_RUN, "run-b"))
    assert f"run:{LONG_RUN}" in text and "0.05" in text and "0.1" in text


@pytest.mark.slow
def test_every_id_whole_at_80_columns(history) -> None:
    kb = history
    for args in (("runs",), ("runs", "--person", "alice"), ("compare", "run-a", LONG_RUN),
                 ("handover", "alice"), ("orphans",), ("search", "churn"), ("models",),
                 ("datasets",), ("people",)):
        text = ok(kb(*args))
        assert "…" not in text, args
        if args[0] in ("runs", "compare"):
            assert f"run:{LONG_RUN}" in text, args
    people = ok(kb("people", "--left"))
    assert "person:alice" in people and "person:bob" not in people
    assert "model:churn" in ok(kb("models", "--owner", "alice"))


@pytest.mark.parametrize("args, code, message", [
    (("handover", "nobody"), 1, "person 'nobody' does not exist"),
    (("runs", "--model", "nope"), 1, "model 'nope' does not exist"),
    (("runs", "--status", "weird"), 2, "--status"),
    (("runs", "--since", "yesterday"), 2, "--since"),
    (("compare", "run-x"), 2, "at least two runs"),
    (("compare", "run-x", "run-y", "--json"), 1, "run 'run-x' does not exist"),
    (("search", "x", "--kind", "code"), 2, "--kind"),
    (("people", "--first", "0"), 2, "--first"),
])
def test_bad_input(kb, args, code, message) -> None:
    result = kb(*args)
    assert result.exit_code == code, result.output
    if "--json" in args:  # the error is JSON on stdout, as the command's answer would be
        assert message in json.loads(result.stdout)["error"]["message"]
        assert result.stderr == ""
    else:
        assert message in result.stderr and result.stdout == ""


def test_an_environment_nobody_uses_gets_the_ones_that_exist(kb, history):
    out = ok(kb("prod", "--env", "prd"))
    assert "no deployment names the environment 'prd'" in out
    assert ok_json(kb("prod", "--env", "prd", "--json")) == []


def test_a_mistyped_kind_is_an_input_error(kb, history):
    result = kb("show", "modle:churn")
    assert result.exit_code == 2
    assert "'modle' is not a kind" in result.output


def test_a_mistyped_name_gets_the_names_it_is_close_to(kb, history):
    result = kb("who-trained", "chrun")
    assert result.exit_code == 1
    assert "model 'chrun' does not exist; did you mean 'churn'?" in result.output
    far = kb("show", "person:zzzzzz")
    assert far.exit_code == 1 and "did you mean" not in far.output
