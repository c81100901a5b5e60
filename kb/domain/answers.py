"""The answers kb gives to its questions, as plain frozen records.

kb.graph builds them from the database; the API, the CLI and the docs site render them.
They hold Python values only (``datetime``, ``dict``, tuples), never Neo4j types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class DatasetVersionFact:
    """One input of a run: which exact bytes it read, and in which role."""

    dataset: str
    version: str
    digest: str | None
    uri: str | None
    role: str | None


@dataclass(frozen=True)
class TrainingFact:
    """Everything needed to say who trained a model version and to re-run it.

    ``person_active`` is False once the person has left: the question a team lead asks
    first when a colleague resigns.
    """

    model: str
    version: str
    created_at: datetime | None
    aliases: tuple[str, ...]
    person: str | None
    person_name: str | None
    person_active: bool | None
    run_id: str | None
    run_status: str | None
    started_at: datetime | None
    ended_at: datetime | None
    experiment: str | None
    params: dict = field(hash=False)
    metrics: dict = field(hash=False)
    inputs: tuple[DatasetVersionFact, ...]
    repo: str | None
    commit: str | None
    branch: str | None
    dirty: bool | None
    command: str | None
    seed: int | None
    environment_digest: str | None


@dataclass(frozen=True)
class LineageNode:
    """``id`` is ``kb.domain.to_global_id(label, key)``; ``name`` is display text."""

    id: str
    label: str
    key: str
    name: str


@dataclass(frozen=True)
class LineageEdge:
    """A relationship between two global ids, in the direction it is stored."""

    source: str
    target: str
    type: str


@dataclass(frozen=True)
class LineageCut:
    """A node whose neighbours one hop did not all show: ``shown`` of them came, and
    ``kb.graph.lineage.neighbours(node, direction, after=end_cursor)`` lists the rest."""

    node: str  # global id
    direction: str  # UPSTREAM | DOWNSTREAM
    shown: int
    end_cursor: str


@dataclass(frozen=True)
class LineageGraph:
    """The neighbourhood of ``root``; ``truncated`` when a per-hop cap dropped neighbours,
    and ``truncated_at`` says where and how to continue."""

    root: str
    direction: str
    depth: int
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]
    truncated: bool
    truncated_at: tuple[LineageCut, ...] = ()


@dataclass(frozen=True)
class LineageNeighbour:
    """One neighbour of a node along the lineage path, and the link between them."""

    node: LineageNode
    edge: LineageEdge


@dataclass(frozen=True)
class ImpactItem:
    """A model version or active deployment downstream of a dataset version.

    ``path`` is one shortest path from the dataset version to the item, both ends included;
    ``hops`` is its number of relationships.
    """

    kind: str  # "MODEL_VERSION" | "DEPLOYMENT"
    key: str
    model: str
    version: str
    environment: str | None
    status: str | None
    deployed_at: datetime | None
    hops: int
    path: tuple[LineageNode, ...]


@dataclass(frozen=True)
class OwnerFact:
    """A current owner of an asset: a person (``active`` False once they left) or a team."""

    kind: str
    key: str
    role: str | None
    active: bool | None


@dataclass(frozen=True)
class DeploymentFact:
    """A deployment with the people behind it; ``*_active`` is False for people who left."""

    id: str
    model: str
    version: str
    environment: str
    endpoint: str | None
    status: str
    deployed_at: datetime | None
    retired_at: datetime | None
    deployed_by: str | None
    deployed_by_name: str | None
    deployed_by_active: bool | None
    trained_by: str | None
    trained_by_active: bool | None
    run_id: str | None
    #: The served model's current owners: whom to ask about what runs here.
    owners: tuple[OwnerFact, ...] = ()
