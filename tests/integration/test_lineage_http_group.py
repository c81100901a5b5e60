"""Group commit of OpenLineage requests: many requests, one transaction, isolated errors.

Requests are sent concurrently through the ASGI app (one event loop, as under uvicorn),
so the writer finds several waiting and writes them together; the real Neo4j checks the
outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid

import httpx
import pytest
from together import run_together

from kb.api import lineage_batching
from kb.api.app import create_app
from kb.config import Config
from kb.domain import Label, Ref
from kb.graph import Graph, show
from kb.graph.stats import counts
from kb.graph.tokens import create_token
from kb.ingest import openlineage

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


def _event(run: int, event_type: str, time: str, **run_facets) -> dict:
    return {"eventType": event_type, "eventTime": time, "producer": PRODUCER,
            "run": {"runId": str(uuid.UUID(int=run)), "facets": run_facets},
            "job": {"namespace": "etl", "name": f"job{run % 3}"},
            "inputs": [{"namespace": "pg", "name": f"in{run % 4}"}],
            "outputs": [{"namespace": "pg", "name": f"out{run}"}] if event_type != "START"
            else []}


def _params(value: str) -> dict:
    return {"parameters": [{"key": "p", "value": value}]}


async def _post_all(app, token: str | list[str], bodies: list) -> list[httpx.Response]:
    tokens = [token] * len(bodies) if isinstance(token, str) else token
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return list(await asyncio.gather(*(client.post(
            "/api/v1/lineage" if isinstance(b, dict) else "/api/v1/lineage/batch",
            json=b, headers={"Authorization": f"Bearer {t}"} if t else {})
            for b, t in zip(bodies, tokens, strict=True))))


@pytest.fixture
def spied(monkeypatch) -> list[int]:
    """The number of requests in each group the writer wrote (spying, not mocking)."""
    sizes: list[int] = []
    real = lineage_batching.write_group

    def spy(graph, actor, groups):
        sizes.append(len(groups))
        return real(graph, actor, groups)

    monkeypatch.setattr(lineage_batching, "write_group", spy)
    return sizes


def _app(graph: Graph):
    app = create_app(Config(api_host="127.0.0.1"), graph=graph)
    _, secret = create_token(graph, name="airflow", scope="write", actor="airflow")
    return app, secret


def test_concurrent_requests_are_grouped_and_merge_like_one_by_one(graph: Graph, spied):
    app, token = _app(graph)
    # Each run: START, RUNNING and COMPLETE, out of order and one of them twice.
    bodies = []
    for run in range(1, 9):
        bodies += [
            _event(run, "COMPLETE", "2024-05-01T10:20:00Z", executionParameters=_params("new")),
            _event(run, "START", "2024-05-01T10:00:00Z", executionParameters=_params("old")),
            _event(run, "RUNNING", "2024-05-01T10:10:00Z"),
            _event(run, "COMPLETE", "2024-05-01T10:20:00Z", executionParameters=_params("new")),
        ]
    responses = asyncio.run(_post_all(app, token, bodies))
    assert [r.status_code for r in responses] == [201] * len(bodies)
    assert max(spied) > 1, spied  # at least one transaction held several requests
    grouped = {run: show(graph, Ref(Label.RUN, str(uuid.UUID(int=run)))) for run in
               range(1, 9)}
    for run, entity in grouped.items():
        assert entity["status"] == "COMPLETED"
        assert entity["startedAt"].isoformat() == "2024-05-01T10:00:00+00:00"
        assert entity["endedAt"].isoformat() == "2024-05-01T10:20:00+00:00"
        assert entity["params"] == {"p": "new"}, run
    before = counts(graph)
    # The same events again, all in one request each at once: nothing changes.
    again = asyncio.run(_post_all(app, token, bodies))
    assert {r.status_code for r in again} == {201}
    assert counts(graph) == before
    for run, entity in grouped.items():
        assert show(graph, Ref(Label.RUN, str(uuid.UUID(int=run)))) == entity


def _many_params(prefix: str) -> dict:
    return {"parameters": [{"key": f"{prefix}{i}", "value": i} for i in range(600)]}


def test_a_request_that_fails_in_its_group_fails_alone(graph: Graph, spied):
    app, token = _app(graph)
    good = [_event(run, "START", "2024-05-01T10:00:00Z") for run in range(20, 30)]
    # Each event is valid on its own, and refused only when its run is merged in the
    # write: with the params run 99 has already, it would hold more than a run may.
    (first,) = asyncio.run(_post_all(app, token, [_event(
        99, "START", "2024-05-01T10:00:00Z", executionParameters=_many_params("a"))]))
    assert first.status_code == 201, first.text
    bad = _event(99, "RUNNING", "2024-05-01T10:01:00Z", executionParameters=_many_params("b"))
    bad_batch = [_event(40, "START", "2024-05-01T10:00:00Z"), bad]
    bodies = [*good[:5], bad, bad_batch, *good[5:]]
    responses = asyncio.run(_post_all(app, token, bodies))
    codes = [r.status_code for r in responses]
    assert codes == [201] * 5 + [400, 400] + [201] * 5, [r.text for r in responses]
    assert "run.params: at most 1,000 items" in responses[5].json()["message"]
    assert max(spied) > 1, spied
    c = counts(graph)
    assert c.get("Run", 0) == 11  # the good ones and run 99, nothing of the bad batch
    for run in range(20, 30):
        assert show(graph, Ref(Label.RUN, str(uuid.UUID(int=run))))["status"] == "RUNNING"
    assert len(show(graph, Ref(Label.RUN, str(uuid.UUID(int=99))))["params"]) == 600


def test_a_run_id_with_a_control_character_is_refused_before_the_write(graph: Graph):
    app, token = _app(graph)
    bad = _event(99, "START", "2024-05-01T10:00:00Z")
    bad["run"]["runId"] = "run\u0000id"
    (resp,) = asyncio.run(_post_all(app, token, [bad]))
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("event.run.runId: must not contain U+0000")
    assert counts(graph).get("Run", 0) == 0


def test_blank_run_id_is_refused(graph: Graph):
    app, token = _app(graph)
    event = _event(1, "START", "2024-05-01T10:00:00Z")
    event["run"]["runId"] = "   "
    (resp,) = asyncio.run(_post_all(app, token, [event]))
    assert resp.status_code == 400
    assert "runId" in resp.json()["message"]
    assert counts(graph).get("Run", 0) == 0


def test_tokens_looked_up_together_are_judged_one_by_one(graph: Graph):
    from kb.graph.tokens import revoke_token

    app, writer = _app(graph)
    _, reader = create_token(graph, name="viewer", scope="read", actor="viewer")
    _, revoked = create_token(graph, name="old", scope="write", actor="old")
    revoke_token(graph, "old")
    tokens = [writer, reader, "kb_unknown", revoked, "", writer]
    bodies = [_event(run, "START", "2024-05-01T10:00:00Z") for run in range(50, 56)]
    responses = asyncio.run(_post_all(app, tokens, bodies))
    assert [r.status_code for r in responses] == [201, 403, 401, 401, 401, 201]
    assert counts(graph).get("Run", 0) == 2
    assert show(graph, Ref(Label.RUN, str(uuid.UUID(int=50))))["updatedBy"] == "airflow"


@pytest.mark.slow  # each writer waits (up to seconds) for the other to read
@pytest.mark.parametrize("first", ["START", "COMPLETE"])
def test_two_server_processes_merging_one_run_lose_no_event(graph: Graph, monkeypatch,
                                                            first: str):
    """Two ``kb serve`` workers write events of one run at the same moment. They do not
    share the in-process run locks, so this takes them away; each transaction then waits,
    between reading the run's merge state and writing the merged run, until the other
    has read too (or two seconds have passed). Without a lock taken in the database when
    the state is read, both merge into the same old state and the last commit drops the
    other's event."""
    monkeypatch.setattr(openlineage, "_locked", lambda ids: contextlib.nullcontext())
    both_read = threading.Barrier(2, timeout=2)
    real = openlineage._batch_for

    def after_both_read(events):
        build = real(events)

        def waiting(existing):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()
            return build(existing)

        return waiting

    monkeypatch.setattr(openlineage, "_batch_for", after_both_read)
    _, secret = create_token(graph, name="airflow", scope="write", actor="airflow")
    if first == "COMPLETE":  # the run exists already: both read its state
        lineage_batching.write_group(graph, secret, [[openlineage.parse_event(
            _event(7, "RUNNING", "2024-05-01T10:01:00Z"))]])
    events = iter([_event(7, "START", "2024-05-01T10:00:00Z", executionParameters=_params("a")),
                   _event(7, "COMPLETE", "2024-05-01T10:05:00Z")])
    lock = threading.Lock()

    def one_worker():
        with lock:
            raw = next(events)
        (outcome,) = lineage_batching.write_group(graph, secret,
                                                  [[openlineage.parse_event(raw)]])
        assert not isinstance(outcome, Exception), outcome

    assert run_together(one_worker, 2) == []
    run = show(graph, Ref(Label.RUN, str(uuid.UUID(int=7))))
    assert run["status"] == "COMPLETED"  # the COMPLETE event
    assert run["params"] == {"p": "a"}  # the START event
    assert run["startedAt"].isoformat().startswith("2024-05-01T10:00:00")
    assert run["endedAt"].isoformat().startswith("2024-05-01T10:05:00")
