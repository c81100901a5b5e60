"""The lineage tree's labels: refs first, graph text shown as the text it is."""

from __future__ import annotations

from kb.cli.app import console
from kb.cli.trees import lineage_json, print_lineage
from kb.domain import Label, to_global_id
from kb.domain.answers import LineageEdge, LineageGraph, LineageNode
from kb.domain.text import natural


def _node(label: Label, key: str, name: str | None = None) -> LineageNode:
    return LineageNode(to_global_id(label, key), label.value, key, name or key)


def test_a_tree_of_refs_with_hostile_names_escaped(monkeypatch) -> None:
    monkeypatch.setattr(console, "width", 80)
    data = _node(Label.DATASET_VERSION, "raw@1")
    run = _node(Label.RUN, "r" * 70, "nightly \x1b]0;owned\x07 [red]x[/red]")
    version = _node(Label.MODEL_VERSION, "churn@3")
    person = _node(Label.PERSON, "alice", "Alice")
    answer = LineageGraph(data.id, "DOWNSTREAM", 3, (data, run, version, person), (
        LineageEdge(run.id, data.id, "USED"), LineageEdge(run.id, version.id, "PRODUCED"),
        LineageEdge(person.id, run.id, "TRAINED")), False)
    with console.capture() as captured:
        print_lineage(answer, ("DOWNSTREAM",), 10, {})
    text = captured.get()
    # The long run id is whole on one line, never folded, even past 80 columns.
    assert f"run:{'r' * 70}" in text and "model:churn@3" in text
    assert "\x1b" not in text and "\\x1b]0;owned\\x07" in text and "[red]x[/red]" in text
    assert "trained by person:alice" in text
    assert console.width == 80
    refs = lineage_json(answer)
    assert refs["root"] == "dataset:raw@1"
    assert {"source": f"run:{'r' * 70}", "target": "dataset:raw@1", "type": "USED"
            } in refs["edges"]


def test_versions_sort_as_numbers() -> None:
    assert sorted(["model:churn@10", "model:churn@2", "model:churn@1"], key=natural) == [
        "model:churn@1", "model:churn@2", "model:churn@10"]
