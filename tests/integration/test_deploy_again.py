"""Deploying a version again where it already runs is the same deployment, even when two
writers deploy it at once: the write looks for it inside its own transaction."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kb.graph import Graph
from kb.ingest import Client


def _deployments(graph: Graph) -> list[dict]:
    return graph.query("MATCH (d:Deployment) RETURN d.id AS id, d.status AS status "
                       "ORDER BY d.id")


def test_deploying_again_keeps_the_deployment(client: Client, graph: Graph) -> None:
    client.log_run(id="run-1", models=[{"model": "churn"}])
    first = client.deploy("churn", 1, environment="production", by="alice")
    again = client.deploy("churn", 1, environment="Production", by="bob")
    assert again.id == first.id
    assert _deployments(graph) == [{"id": first.id, "status": "ACTIVE"}]
    elsewhere = client.deploy("churn", 1, environment="staging")
    assert elsewhere.id != first.id


def test_concurrent_deploys_of_one_version_are_one_deployment(client: Client,
                                                              graph: Graph) -> None:
    client.log_run(id="run-1", models=[{"model": "churn"}])

    def deploy(n: int) -> str:
        writer = Client(graph, actor=f"writer-{n}", default_person=f"writer-{n}")
        return writer.deploy("churn", 1, environment="production").id

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(deploy, range(4)))
    assert len(ids) == 1
    assert _deployments(graph) == [{"id": ids.pop(), "status": "ACTIVE"}]


def test_a_given_id_is_kept(client: Client, graph: Graph) -> None:
    client.log_run(id="run-1", models=[{"model": "churn"}])
    client.deploy("churn", 1, environment="production", id="dep-a")
    client.deploy("churn", 1, environment="production", id="dep-b")
    assert _deployments(graph) == [{"id": "dep-a", "status": "RETIRED"},
                                   {"id": "dep-b", "status": "ACTIVE"}]
