"""What one batch's upserts leave in the graph: each node with the links it needs, and
only what its rows know, in small batches (every column) and large ones (only the
columns some row knows) alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kb.domain import parse_ref
from kb.graph import Graph, show
from kb.graph.plan import SMALL_BATCH_ROWS
from kb.graph.stats import counts
from kb.ingest import Client

T0 = datetime(2026, 3, 1, tzinfo=UTC)

#: A small batch (one record) and one over ``SMALL_BATCH_ROWS`` node rows.
SIZES = pytest.mark.parametrize("size", [1, SMALL_BATCH_ROWS + 1], ids=["small", "large"])


def links(graph: Graph, run_id: str) -> dict[str, list[str]]:
    """The other ends of a run's links, by type."""

    def work(tx: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in tx.run("MATCH (:Run {id: $id})-[l]-(o) "
                        "RETURN type(l) AS rel, coalesce(o.key, o.id, o.handle, o.name) AS o",
                        id=run_id):
            out.setdefault(r["rel"], []).append(r["o"])
        return {rel: sorted(ends) for rel, ends in out.items()}

    return graph.read(work)


def test_one_batch_writes_each_node_before_the_links_that_need_it(client: Client,
                                                                  graph: Graph) -> None:
    with client.batch() as b:
        b.run(id="r1", person="alice", experiment="churn",
              inputs=[("customers", "1", "train")])
        b.dataset_version("customers", "1", rows=10)
        b.dataset("customers", description="CRM export")
    assert links(graph, "r1") == {"PART_OF": ["churn"], "TRAINED": ["alice"],
                                  "USED": ["customers@1"]}
    version = graph.read(lambda tx: tx.run(
        "MATCH (v:DatasetVersion {key: 'customers@1'})-[:VERSION_OF]->(d:Dataset) "
        "RETURN v.rows AS rows, d.description AS description").single().data())
    assert version == {"rows": 10, "description": "CRM export"}
    first = counts(graph)
    with client.batch() as b:  # the same batch again changes nothing
        b.run(id="r1", person="alice", experiment="churn",
              inputs=[("customers", "1", "train")])
        b.dataset_version("customers", "1", rows=10)
        b.dataset("customers", description="CRM export")
    assert counts(graph) == first


@SIZES
def test_rows_that_name_some_links_and_properties_leave_the_others_as_stored(
        client: Client, graph: Graph, size: int) -> None:
    client.experiment("churn", description="Churn models")
    ids = [f"run-{i}" for i in range(size)]
    with client.batch() as b:
        for run_id in ids:
            b.run(id=run_id, experiment="churn", seed=7, command="train.py",
                  kind="evaluation", status="FAILED")
    with client.batch() as b:  # now only who trained them, their names and start
        for i, run_id in enumerate(ids):
            b.run(id=run_id, person="alice", name=f"run {i}", started_at=T0)
    for i in (0, size - 1):
        run = show(graph, parse_ref(f"run:{ids[i]}"))
        assert (run["name"], run["startedAt"]) == (f"run {i}", T0)
        assert (run["seed"], run["command"]) == (7, "train.py")
        assert (run["kind"], run["status"]) == ("evaluation", "FAILED")
        assert links(graph, ids[i]) == {"PART_OF": ["churn"], "TRAINED": ["alice"]}
    # The experiment each row names as a stub states nothing about it.
    assert show(graph, parse_ref("experiment:churn"))["description"] == "Churn models"
    assert counts(graph)["PART_OF"] == counts(graph)["TRAINED"] == size


@SIZES
def test_a_property_one_row_knows_is_written_and_the_others_keep_theirs(
        client: Client, graph: Graph, size: int) -> None:
    handles = [f"p{i}" for i in range(size)]
    with client.batch() as b:
        for handle in handles:
            b.person(handle, name=handle.upper())
    with client.batch() as b:
        for handle in handles[:-1]:
            b.person(handle)
        b.person(handles[-1], email="last@example.com")
    first, last = (show(graph, parse_ref(f"person:{h}")) for h in (handles[0], handles[-1]))
    assert last["email"] == "last@example.com" and last["name"] == handles[-1].upper()
    assert first["name"] == "P0"
    assert size == 1 or "email" not in first
