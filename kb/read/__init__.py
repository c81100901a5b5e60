"""kb's read side from Python: the questions and lists, as typed records.

``import kb`` exports the functions: the questions (``questions.py``: ``kb.who_trained``,
``kb.impact`` ...) and the lists (``lists.py``: ``kb.runs``, ``kb.models`` ...). Their
records are in ``answers.py``, ``entities.py`` and ``changes.py``; a list is a
``Results`` (``results.py``), read a page at a time as it is used.
"""

from __future__ import annotations

from .answers import (
    DataUse,
    DeploymentFact,
    HandoverItem,
    ImpactItem,
    LineageEdge,
    LineageGraph,
    LineageNode,
    ModelOwner,
    Orphan,
    RunComparison,
    RunSummary,
    SearchHit,
    Training,
    ValueChange,
)
from .changes import Change, ChangedEntity, FieldChange, LinkChange
from .entities import (
    CodeVersion,
    Dataset,
    DatasetVersion,
    Deployment,
    Environment,
    Experiment,
    Links,
    Model,
    ModelVersion,
    Note,
    Person,
    Run,
    Team,
)
from .lists import datasets, experiments, models, people, runs, teams
from .questions import (
    compare_runs,
    deployments,
    handover,
    history,
    impact,
    lineage,
    lineage_neighbours,
    orphans,
    search,
    show,
    who_trained,
)
from .results import Results

__all__ = [
    "Change", "ChangedEntity", "CodeVersion", "DataUse", "Dataset", "DatasetVersion",
    "Deployment", "DeploymentFact", "Environment", "Experiment", "FieldChange",
    "HandoverItem", "ImpactItem", "LineageEdge", "LineageGraph", "LineageNode",
    "LinkChange", "Links", "Model", "ModelOwner", "ModelVersion", "Note", "Orphan",
    "Person", "Results", "Run", "RunComparison", "RunSummary", "SearchHit", "Team",
    "Training", "ValueChange", "compare_runs", "datasets", "deployments", "experiments",
    "handover", "history", "impact", "lineage", "lineage_neighbours", "models", "orphans",
    "people", "runs", "search", "show", "teams", "who_trained"
]
