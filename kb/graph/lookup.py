"""Small reads the write path needs: which kind a bare name is, what already runs where."""

from __future__ import annotations

from neo4j import ManagedTransaction

from kb.domain import OWNABLE, Label

EXISTING_ASSETS = """
OPTIONAL MATCH (m:Model {name: $name}) WITH count(m) > 0 AS model
OPTIONAL MATCH (d:Dataset {name: $name}) WITH model, count(d) > 0 AS dataset
OPTIONAL MATCH (e:Experiment {name: $name}) WITH model, dataset, count(e) > 0 AS experiment
OPTIONAL MATCH (x:Deployment {id: $name})
RETURN model, dataset, experiment, count(x) > 0 AS deployment
"""

_COLUMN = {Label.MODEL: "model", Label.DATASET: "dataset", Label.EXPERIMENT: "experiment",
           Label.DEPLOYMENT: "deployment"}


def asset_labels(tx: ManagedTransaction, name: str) -> list[Label]:
    """The ownable kinds that hold an entity called ``name``, in resolution order."""
    record = tx.run(EXISTING_ASSETS, name=name).single(strict=True)
    return [label for label in OWNABLE if record[_COLUMN[label]]]
