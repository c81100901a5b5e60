"""kb: an ML team's knowledge graph.

The SDK lives here so that training scripts need only ``import kb``::

    kb.person("alice", name="Alice Liddell", team="vision")
    with kb.run(experiment="churn", person="alice", params={"lr": 0.01}) as run:
        run.log_metrics({"auc": 0.91})
        mv = run.register_model("churn")

and so that notebooks read with nothing else::

    kb.who_trained("churn", version=3)[0].person_handle
    kb.runs(person="alice", status="completed").to_pandas()
"""

from __future__ import annotations

from kb.ingest.digest import content_digest
from kb.ingest.sdk import (
    batch,
    client,
    close,
    connect,
    dataset,
    dataset_version,
    deploy,
    experiment,
    log_run,
    model,
    note,
    own,
    person,
    register_model,
    retire,
    run,
    team,
    transfer,
)
from kb.read import (
    compare_runs,
    datasets,
    deployments,
    experiments,
    handover,
    history,
    impact,
    lineage,
    lineage_neighbours,
    models,
    orphans,
    people,
    runs,
    search,
    show,
    teams,
    who_trained,
)

__all__ = [
    "batch",
    "client",
    "close",
    "compare_runs",
    "connect",
    "content_digest",
    "dataset",
    "dataset_version",
    "datasets",
    "deploy",
    "deployments",
    "experiment",
    "experiments",
    "handover",
    "history",
    "impact",
    "lineage",
    "lineage_neighbours",
    "log_run",
    "model",
    "models",
    "note",
    "orphans",
    "own",
    "people",
    "person",
    "register_model",
    "retire",
    "run",
    "runs",
    "search",
    "show",
    "team",
    "teams",
    "transfer",
    "who_trained",
]
