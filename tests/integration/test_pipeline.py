"""The pipelined batch writer against the real Neo4j: order, atomicity, failures, exit."""

from __future__ import annotations

import gc
import math
from concurrent.futures import CancelledError

import pytest

from kb.errors import InvalidInput, NotFound
from kb.graph import Graph
from kb.graph.stats import counts
from kb.ingest import BatchBuilder, Client


def handles(graph: Graph) -> set[str]:
    def work(tx):
        return {r["h"] for r in tx.run("MATCH (p:Person) RETURN p.handle AS h")}

    return graph.read(work)


def name_of(graph: Graph, handle: str) -> str | None:
    def work(tx):
        rec = tx.run("MATCH (p:Person {handle: $h}) RETURN p.name AS n", h=handle).single()
        return None if rec is None else rec["n"]

    return graph.read(work)


def people(client: Client, *names: str) -> BatchBuilder:
    b = client.builder()
    for name in names:
        b.person(name)
    return b


def bad_batch(client: Client) -> BatchBuilder:
    """Valid input whose write fails: a model version of a run that does not exist."""
    b = client.builder()
    b.person("in-the-bad-batch")
    b.model_version("churn", run_id="no-such-run")
    return b


def test_batches_commit_in_submission_order(client: Client, graph: Graph) -> None:
    with client.pipeline(depth=2) as pipe:
        for k in range(6):
            with pipe.batch() as b:
                b.person("alice", name=f"name {k}")
                b.run(id=f"run-{k}", person="alice")
                if k:  # the previous batch's run must already be committed
                    b.model_version("churn", run_id=f"run-{k - 1}")
    assert name_of(graph, "alice") == "name 5"
    found = counts(graph)
    assert found["Run"] == 6 and found["ModelVersion"] == 5


def test_submit_returns_the_write_result(client: Client) -> None:
    with client.pipeline() as pipe:
        b = client.builder()
        b.run(id="run-1")
        b.model_version("churn", run_id="run-1")
        future = pipe.submit(b)
    assert future.result(timeout=0).model_versions == [("churn", "1", "run-1")]


def test_exit_waits_for_every_write(client: Client, graph: Graph) -> None:
    with client.pipeline(depth=3) as pipe:
        for k in range(5):
            with pipe.batch() as b:
                for i in range(200):
                    b.person(f"p-{k}-{i}")
    assert len(handles(graph)) == 1000


def test_validation_errors_are_raised_in_the_caller(client: Client, graph: Graph) -> None:
    with client.pipeline() as pipe:
        with pipe.batch() as b:
            b.person("alice")
        with pytest.raises(InvalidInput, match=r"run\.metrics: metric .auc."), \
                pipe.batch() as b:
            b.person("bob")
            b.run(id="r", metrics={"auc": math.nan})
        with pipe.batch() as b:  # the pipe goes on after a rejected batch
            b.person("carol")
    assert handles(graph) == {"alice", "carol"}


def test_a_failed_batch_writes_nothing_and_raises_at_the_next_batch(
    client: Client, graph: Graph
) -> None:
    with pytest.raises(NotFound, match="no-such-run"), client.pipeline(depth=1) as pipe:
        pipe.submit(bad_batch(client))
        # depth 1: this waits until the bad batch has failed, then raises its error
        with pipe.batch() as b:
            b.person("after")
    assert handles(graph) == set()


def test_a_failed_last_batch_raises_on_exit(client: Client, graph: Graph) -> None:
    with pytest.raises(NotFound, match="no-such-run"), client.pipeline() as pipe:
        with pipe.batch() as b:
            b.person("before")
        pipe.submit(bad_batch(client))
    assert handles(graph) == {"before"}
    assert gc.isenabled()  # a failed pipeline gives the cycle collector back too


def test_nothing_is_written_after_a_failed_batch(client: Client, graph: Graph) -> None:
    futures = []
    with pytest.raises(NotFound), client.pipeline(depth=4) as pipe:
        futures.append(pipe.submit(people(client, "first")))
        futures.append(pipe.submit(bad_batch(client)))
        for k in range(3):
            futures.append(pipe.submit(people(client, f"later-{k}")))
    assert handles(graph) == {"first"}
    assert futures[0].result().model_versions == []
    with pytest.raises(NotFound):
        futures[1].result()
    for later in futures[2:]:
        with pytest.raises(CancelledError):
            later.result()


def test_a_caller_error_keeps_the_batches_already_submitted(
    client: Client, graph: Graph
) -> None:
    with pytest.raises(KeyError), client.pipeline() as pipe:
        for k in range(3):
            with pipe.batch() as b:
                b.person(f"p-{k}")
        with pipe.batch() as b:
            b.person("never")
            raise KeyError("the caller's own failure")
    assert handles(graph) == {"p-0", "p-1", "p-2"}


def test_a_closed_pipeline_refuses_batches(client: Client) -> None:
    pipe = client.pipeline()
    pipe.close()
    with pytest.raises(RuntimeError, match="closed"):
        pipe.submit(client.builder())
    with pytest.raises(ValueError, match="depth"):
        client.pipeline(depth=0)


def test_cycle_collection_is_paused_while_the_pipeline_is_open(client: Client,
                                                              graph: Graph) -> None:
    assert gc.isenabled()
    with client.pipeline() as pipe:
        assert not gc.isenabled()
        with pipe.batch() as b:
            b.person("gc-alice")
        with pytest.raises(InvalidInput), pipe.batch() as b:
            b.person("")  # refused in the block: the pipeline stays usable
        assert not gc.isenabled()
    assert gc.isenabled()
    assert "gc-alice" in handles(graph)
