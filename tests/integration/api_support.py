"""Helpers for the API tests: a fixture history and a client over real HTTP (ASGI)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import httpx

from kb.api.app import create_app
from kb.config import Config
from kb.graph import Graph
from kb.graph.tokens import create_token
from kb.ingest import Client

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def seed_history(client: Client) -> None:
    """A small team history whose answers the tests spell out."""
    client.team("vision", description="Computer vision")
    client.person("alice", name="Alice Liddell", team="vision")
    client.person("bob", name="Bob Stone", team="vision", left_at=datetime(2024, 9, 1,
                                                                           tzinfo=UTC))
    client.person("carol", name="Carol Danvers")
    client.dataset("customers", description="Customer table snapshots")
    client.dataset_version("customers", "2024-05", digest="sha256:c05", rows=1000)
    client.dataset_version("customers", "2024-06", digest="sha256:c06", rows=1100)
    client.dataset_version("features", "v1", derived_from=["customers@2024-05"])
    client.log_run(
        id="r1", person="bob", experiment="churn-exp", started_at=T0,
        inputs=[("features", "v1", "train")], params={"lr": 0.1, "depth": 6},
        metrics={"auc": 0.81}, command="python train.py", seed=7,
        code={"repo": "git@example.com:ml/churn", "commit": "abc123", "branch": "main"},
        models=[{"model": "churn", "version": "1"}])
    client.log_run(
        id="r2", person="alice", experiment="churn-exp",
        started_at=datetime(2024, 7, 1, tzinfo=UTC),
        inputs=[("customers", "2024-06", "train")], params={"lr": 0.05, "depth": 6},
        metrics={"auc": 0.84},
        code={"repo": "git@example.com:ml/churn", "commit": "def456", "branch": "main"},
        models=[{"model": "churn", "version": "2", "aliases": ["production"]}])
    client.deploy("churn", "2", environment="prod", by="carol", id="dep-prod",
                  deployed_at=datetime(2024, 7, 2, tzinfo=UTC))
    client.deploy("churn", "1", environment="staging", by="bob", id="dep-staging",
                  deployed_at=datetime(2024, 6, 2, tzinfo=UTC))
    client.own("model:churn", owner="bob")
    client.own("dataset:customers", owner="alice")
    client.own("dataset:features", owner="team:vision")
    client.own("experiment:churn-exp", owner="bob")
    client.note("model:churn", "AUC drops on new customers; retrain monthly", by="alice")


def api_config(**overrides: Any) -> Config:
    return dataclasses.replace(Config(), **{"anonymous_reads": True, **overrides})


class Api:
    """Posts GraphQL over HTTP to the ASGI app (the real HTTP stack, no network)."""

    def __init__(self, graph: Graph, config: Config | None = None) -> None:
        self.graph = graph
        self.app = create_app(config or api_config(), graph)

    async def _send(self, method: str, url: str, **kw: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return await c.request(method, url, **kw)

    def http(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return asyncio.run(self._send(method, url, **kw))

    def post(self, query: str, variables: dict[str, Any] | None = None, *,
             token: str | None = None, headers: dict[str, str] | None = None,
             operation: str | None = None) -> httpx.Response:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation:
            body["operationName"] = operation
        return self.http("POST", "/graphql", json=body, headers=hdrs)

    def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any
             ) -> dict[str, Any]:
        response = self.post(query, variables, **kw)
        body = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def token(self, scope: str, actor: str = "alice") -> str:
        _, secret = create_token(self.graph, name=f"{scope}-{actor}", scope=scope, actor=actor)
        return secret


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]
