"""kb: an ML team's knowledge graph.

The SDK lives here so that training scripts need only ``import kb``::

    kb.person("alice", name="Alice Liddell", team="vision")
    with kb.run(experiment="churn", person="alice", params={"lr": 0.01}) as run:
        run.log_metrics({"auc": 0.91})
        mv = run.register_model("churn")
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

__all__ = [
    "batch",
    "client",
    "close",
    "connect",
    "content_digest",
    "dataset",
    "dataset_version",
    "deploy",
    "experiment",
    "log_run",
    "model",
    "note",
    "own",
    "person",
    "register_model",
    "retire",
    "run",
    "team",
    "transfer",
]
