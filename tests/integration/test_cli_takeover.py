"""The takeover from the shell at 80 columns: lineage as a tree of pasteable refs, impact
summed up with the owners to tell, show grouped, orphans split, JSON errors and refs,
and the warnings a write gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_support import at_80_columns, ok, ok_json

LONG_RUN = "churn-gbm-2026-01-15-nightly-retrain-on-the-full-customer-history-x1"
HOSTILE = "ranker [red]retrain[/red] [link=https://evil.example]x[/link]"
REF = re.compile(r"^[│├└─ ]*((?:dataset|model|run|deployment|experiment|person):\S+)")


@pytest.fixture
def kb(kb_env: Path, clean_db, monkeypatch: pytest.MonkeyPatch):
    """Run ``kb ARGS`` at 80 columns; returns the result."""
    return at_80_columns(monkeypatch)


@pytest.fixture
def history(kb, tmp_path: Path):
    """Alice owned churn and the labels and trained its versions, then left; churn@2 is in
    production, ranker (bob's) in staging."""
    ok(kb("person", "add", "alice", "--name", "Alice"))
    ok(kb("person", "add", "bob", "--name", "Bob"))
    ok(kb("dataset", "add", "labels@1"))
    ok(kb("dataset", "add", "train@1", "--derived-from", "labels@1"))
    ok(kb("dataset", "add", "train@2", "--derived-from", "labels@1"))
    ok(kb("dataset", "add", "events@1"))
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([
        {"id": "run-a", "person": "alice", "experiment": "churn", "status": "COMPLETED",
         "started_at": "2026-01-10T09:00:00Z", "params": {"lr": 0.1},
         "metrics": {"auc": 0.80}, "inputs": ["train@1"], "models": [{"model": "churn"}]},
        {"id": LONG_RUN, "person": "alice", "experiment": "churn", "status": "COMPLETED",
         "started_at": "2026-01-15T09:00:00Z", "params": {"lr": 0.05},
         "metrics": {"auc": 0.83}, "inputs": ["train@2"], "models": [{"model": "churn"}]},
        {"id": "run-b", "person": "bob", "experiment": "events", "status": "COMPLETED",
         "name": HOSTILE,
         "started_at": "2026-02-01T09:00:00Z", "inputs": ["events@1"],
         "models": [{"model": "ranker"}]},
    ]))
    ok(kb("run", "log", str(runs)))
    ok(kb("own", "churn", "--owner", "alice"))
    ok(kb("own", "dataset:labels", "--owner", "alice"))
    ok(kb("own", "ranker", "--owner", "bob"))
    ok(kb("deploy", "churn@2", "--env", "production", "--by", "bob"))
    ok(kb("deploy", "ranker@1", "--env", "staging", "--by", "bob"))
    ok(kb("person", "leave", "alice", "--at", "2026-03-01"))
    return kb


@pytest.mark.slow  # a dozen commands seed the history
def test_lineage_tree_labels_paste_into_show(history) -> None:
    kb = history
    text = ok(kb("lineage", "dataset:labels@1", "--depth", "6"))
    refs = [m[1] for m in map(REF.match, text.splitlines()) if m]
    assert {"dataset:labels@1", "dataset:train@2", f"run:{LONG_RUN}", "model:churn@2",
            "model:churn@1"} <= set(refs)
    assert any(r.startswith("deployment:") for r in refs)
    assert "…" not in text and "upstream" in text and "downstream" in text
    assert "active in production" in text and "active in staging" not in text
    for one in sorted(set(refs)):
        ok(kb("show", one))

    data = ok_json(kb("lineage", "model:churn@2", "--up", "--json"))
    assert data["root"] == "model:churn@2"
    nodes = {n["ref"] for n in data["nodes"]}
    assert {"dataset:train@2", f"run:{LONG_RUN}", "person:alice"} <= nodes
    assert {"source": f"run:{LONG_RUN}", "target": "model:churn@2",
            "type": "PRODUCED"} in data["edges"]

    cut = ok(kb("lineage", "dataset:labels", "--down", "--breadth", "1"))
    assert "more" in cut and "--breadth" in cut


@pytest.mark.slow
def test_impact_leads_with_production_and_the_owners_to_tell(history) -> None:
    kb = history
    data = ok_json(kb("impact", "labels", "--json"))
    assert data["start"] == "dataset:labels"
    first = data["items"][0]
    assert (first["kind"], first["environment"], first["model_version"]) == (
        "DEPLOYMENT", "production", "model:churn@2")
    assert first["path"][0].startswith("dataset:labels@") and first["path"][-1] == first["ref"]
    assert {i["model_version"] for i in data["items"]} == {"model:churn@1", "model:churn@2"}
    assert data["owners"] == [{"model": "model:churn", "active_owner": False,
                               "owners": [{"ref": "person:alice", "active": False}]}]

    text = ok(kb("impact", "dataset:labels@1"))
    order = [text.index(s) for s in ("in production now", "other active deployments",
                                      "owners to notify", "model versions downstream")]
    assert order == sorted(order)
    assert "person:alice (left)" in text and "NO ACTIVE OWNER" in text
    ranker = ok_json(kb("impact", "events@1", "--json"))
    assert ranker["items"][0]["environment"] == "staging"
    assert ranker["owners"][0]["owners"] == [{"ref": "person:bob", "active": True}]


@pytest.mark.slow
def test_show_groups_versions_and_runs(history) -> None:
    kb = history
    text = ok(kb("show", "churn"))
    assert "owners: person:alice (left); NO ACTIVE OWNER" in text
    assert "versions (2)" in text and "model:churn@2" in text and "production" in text
    assert "alice (left)" in text and "auc 0.83" in text
    person = ok(kb("show", "person:alice"))
    assert "runs (2)" in person and "experiment:churn" in person
    assert f"run:{LONG_RUN}" in person and "completed" in person and "auc 0.8" in person
    assert "TRAINED->" not in person  # the runs table replaces the bare list
    experiment = ok(kb("show", "experiment:churn"))
    assert "run:run-a" in experiment and "alice" in experiment
    assert "…" not in text + person + experiment


@pytest.mark.slow
def test_orphans_split_and_production_first(history) -> None:
    kb = history
    items = ok_json(kb("orphans", "--json"))
    ranks = [(i["reason"] != "OWNER_LEFT", not i["feeds_production"]) for i in items]
    assert ranks == sorted(ranks)
    by_ref = {i["ref"]: i for i in items}
    assert by_ref["model:churn"]["reason"] == "OWNER_LEFT"
    assert by_ref["model:churn"]["feeds_production"] is True
    assert by_ref["model:churn"]["former_owners"] == ["person:alice"]
    assert by_ref["dataset:labels"]["feeds_production"] is True  # through train@2, churn@2
    assert by_ref["dataset:events"] == {**by_ref["dataset:events"], "reason": "NEVER_OWNED",
                                        "feeds_production": False}
    assert by_ref["experiment:churn"]["feeds_production"] is True
    assert "model:ranker" not in by_ref
    text = ok(kb("orphans"))
    assert text.index("owner left") < text.index("no owner on record")
    assert text.index("model:churn") < text.index("no owner on record")


@pytest.mark.slow
def test_json_errors_and_refs(history) -> None:
    kb = history
    missing = kb("show", "model:chrn", "--json")
    assert missing.exit_code == 1
    error = json.loads(missing.stdout)["error"]
    assert error["code"] == "NOT_FOUND" and "did you mean 'churn'" in error["message"]
    bad = kb("runs", "--first", "0", "--json")
    assert bad.exit_code == 2
    assert json.loads(bad.stdout) == {"error": {
        "code": "BAD_USER_INPUT", "field": "--first",
        "message": "--first: must be between 1 and 500 (got 0)"}}
    kind = kb("lineage", "foo:bar", "--json")
    assert kind.exit_code == 2 and json.loads(kind.stdout)["error"]["field"] == "entity"
    text = kb("show", "model:chrn")
    assert text.exit_code == 1 and text.stdout == "" and "did you mean" in text.stderr

    run = ok_json(kb("runs", "--model", "churn", "--first", "1", "--json"))[0]
    assert (run["ref"], run["person"], run["experiment"], run["produced"], run["inputs"]) == (
        f"run:{LONG_RUN}", "person:alice", "experiment:churn", ["model:churn@2"],
        ["dataset:train@2"])
    assert {o["ref"] for o in ok_json(kb("orphans", "--json"))} >= {"model:churn"}


@pytest.mark.slow
def test_writes_warn_of_new_environments_and_undescribed_people(history) -> None:
    kb = history
    typo = kb("deploy", "ranker@1", "--env", "prd", "--by", "bob")
    assert typo.exit_code == 0
    assert "new environment 'prd'; existing: production, staging" in typo.stderr
    assert "warning" not in typo.stdout
    again = kb("deploy", "churn@1", "--env", "staging", "--by", "bob")
    assert "new environment" not in again.stderr

    owned = kb("own", "dataset:events", "--owner", "carol", "--json")
    assert json.loads(owned.stdout)["owner"] == "person:carol"
    assert "person 'carol' is new and has no name or email" in owned.stderr
    assert "kb person add carol" in owned.stderr
    quiet = kb("note", "churn", "check the labels", "--by", "carol", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    described = kb("own", "experiment:events", "--owner", "bob")
    assert described.stderr == ""


@pytest.mark.slow
def test_prod_and_who_trained_answer_the_drill(history) -> None:
    kb = history
    text = ok(kb("prod"))
    assert text.index("production") < text.index("staging")
    assert "model:churn@2" in text and "alice (left)" in text and "NO ACTIVE" in text
    (prod,) = ok_json(kb("prod", "--env", "production", "--json"))
    assert (prod["model_version"], prod["deployed_by"], prod["trained_by"], prod["run"]) == (
        "model:churn@2", "person:bob", "person:alice", f"run:{LONG_RUN}")
    assert prod["owners"] == [{"ref": "person:alice", "role": "owner", "active": False}]

    facts = ok_json(kb("who-trained", "churn", "--json"))
    assert [(f["ref"], f["person"], f["run"]) for f in facts] == [
        ("model:churn@2", "person:alice", f"run:{LONG_RUN}"),
        ("model:churn@1", "person:alice", "run:run-a")]
    assert facts[0]["inputs"][0]["ref"] == "dataset:train@2"
    text = ok(kb("who-trained", "churn"))
    assert f"run:{LONG_RUN}" in text and "dataset:train@2" in text and "alice (left)" in text


@pytest.mark.slow
def test_search_puts_the_exact_name_first(history) -> None:
    kb = history
    hits = [h["ref"] for h in ok_json(kb("search", "churn", "--json"))]
    assert hits[:2] == ["model:churn", "experiment:churn"] and len(hits) == len(set(hits))
    first = ok_json(kb("search", "churn", "--kind", "experiment", "--json"))[0]
    assert first["ref"] == "experiment:churn"


@pytest.mark.slow
def test_graph_text_in_a_tree_stays_text(history) -> None:
    text = ok(history("lineage", "dataset:events@1", "--down"))
    assert "[red]retrain[/red]" in text and "[link=https://evil.example]x[/link]" in text
    assert "run:run-b" in text
