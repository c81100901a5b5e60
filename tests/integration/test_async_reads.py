"""The API awaits its questions on the event loop (``AsyncGraph``) when it has a lifespan,
and answers exactly what the worker-thread path answers, errors included."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from api_support import Api, api_config, seed_history

from kb.api.app import create_app
from kb.config import Config
from kb.graph.async_driver import AsyncGraph

QUERIES = [
    '{ whoTrained(model: "churn") { version personHandle personActive runId params { key value } '
    'inputs { dataset version role } } }',
    '{ whoTrained(model: "churn", version: "1") { version commit } }',
    '{ whoTrained(model: "churn", version: "99") { version } }',
    '{ whoTrained(model: "nope") { version } }',
    '{ impact(dataset: "customers") { kind key hops environment path { key label } } }',
    '{ impact(dataset: "customers", version: "2024-05") { kind key } }',
    '{ impact(dataset: "nope") { key } }',
]


def _served(graph, config: Config, queries: list[str]) -> tuple[list[dict[str, Any]], Any]:
    """Answers from the app run with its lifespan, as uvicorn runs it; and its twin."""
    app = create_app(config, graph)

    async def ask() -> tuple[list[dict[str, Any]], Any]:
        async with app.router.lifespan_context(app):
            aio = app.state.aio
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://localhost") as c:
                answers = [(await c.post("/graphql", json={"query": q})).json()
                           for q in queries]
            return answers, aio

    return asyncio.run(ask())


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors") or []:
        error.get("extensions", {}).pop("requestId", None)
    return body


@pytest.fixture
def seeded(graph, client):
    seed_history(client)
    return graph


def test_questions_are_read_on_the_loop_and_answer_as_threads_do(seeded):
    threads = Api(seeded)  # no lifespan: every question in a worker thread
    expected = [_without_ids(threads.post(q).json()) for q in QUERIES]
    before = seeded.round_trips
    answers, aio = _served(seeded, api_config(), QUERIES)
    assert isinstance(aio, AsyncGraph)
    assert aio.reads >= len(QUERIES)
    assert seeded.round_trips - before == aio.reads  # every read of them went there
    assert [_without_ids(a) for a in answers] == expected
    assert expected[0]["data"]["whoTrained"] and expected[4]["data"]["impact"]
    assert [e["extensions"]["code"] for a in expected[2:4] + expected[6:] for e in a["errors"]
            ] == ["NOT_FOUND"] * 3


def test_the_switch_leaves_questions_to_threads(seeded):
    config = api_config(api_async_reads=False)
    answers, aio = _served(seeded, config, QUERIES[:1])
    assert aio is None
    assert answers[0]["data"]["whoTrained"]
    assert not Config.from_env({"KB_API_ASYNC_READS": "false"}).api_async_reads
    assert Config.from_env({}).api_async_reads
