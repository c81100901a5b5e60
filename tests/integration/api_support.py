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
    """A small team history whose answers the tests spell out, in one transaction."""
    with client.batch() as b:
        b.team("vision", description="Computer vision")
        b.person("alice", name="Alice Liddell", team="vision")
        b.person("bob", name="Bob Stone", team="vision",
                 left_at=datetime(2024, 9, 1, tzinfo=UTC))
        b.person("carol", name="Carol Danvers")
        b.dataset("customers", description="Customer table snapshots")
        b.dataset_version("customers", "2024-05", digest="sha256:c05", rows=1000)
        b.dataset_version("customers", "2024-06", digest="sha256:c06", rows=1100)
        b.dataset_version("features", "v1", derived_from=["customers@2024-05"])
        b.run(id="r1", person="bob", experiment="churn-exp", started_at=T0,
              inputs=[("features", "v1", "train")], params={"lr": 0.1, "depth": 6},
              metrics={"auc": 0.81}, command="python train.py", seed=7,
              code={"repo": "git@example.com:ml/churn", "commit": "abc123", "branch": "main"})
        b.model_version("churn", version="1", run_id="r1")
        b.run(id="r2", person="alice", experiment="churn-exp",
              started_at=datetime(2024, 7, 1, tzinfo=UTC),
              inputs=[("customers", "2024-06", "train")], params={"lr": 0.05, "depth": 6},
              metrics={"auc": 0.84},
              code={"repo": "git@example.com:ml/churn", "commit": "def456", "branch": "main"})
        b.model_version("churn", version="2", run_id="r2", aliases=["production"])
        b.deploy("churn", "2", environment="prod", by="carol", id="dep-prod",
                 deployed_at=datetime(2024, 7, 2, tzinfo=UTC))
        b.deploy("churn", "1", environment="staging", by="bob", id="dep-staging",
                 deployed_at=datetime(2024, 6, 2, tzinfo=UTC))
        b.own("model:churn", owner="bob")
        b.own("dataset:customers", owner="alice")
        b.own("dataset:features", owner="team:vision")
        b.own("experiment:churn-exp", owner="bob")
        b.note("model:churn", "AUC drops on new customers; retrain monthly", by="alice")


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
