"""The home page's assets without an active owner: those whose owner left apart from those
no one owns, each group led by what reaches production."""

from __future__ import annotations

from datetime import UTC, datetime

from docs_gen.collect import collect
from kb.graph import Graph
from kb.ingest import Client


def test_orphans_are_split_and_production_comes_first(client: Client, graph: Graph):
    client.person("olga", name="Olga")
    client.dataset_version("raw", "1")
    client.dataset_version("archive", "1")
    client.log_run(id="run-1", person="olga", inputs=["raw@1"], models=[{"model": "churn"}])
    client.log_run(id="run-2", person="olga", models=[{"model": "alpha"}])
    client.deploy("churn", "1", environment="production", id="dep-churn")
    client.own("model:churn", owner="olga")
    client.own("model:alpha", owner="olga")
    client.person("olga", left_at=datetime(2025, 1, 1, tzinfo=UTC))

    home = {(p.kind, p.key): p for p in collect(graph)}[("Home", None)]
    orphans = [(o["name"], bool(o["formerOwners"]), o["feedsProduction"])
               for o in home.context["orphans"]]
    left = [o for o in orphans if o[1]]
    never = [o for o in orphans if not o[1]]
    assert left == [("churn", True, True), ("alpha", True, False)]
    assert never == [("raw", False, True), ("archive", False, False)]
    # "archive" sorts before "raw" by name: production leads within each group.
