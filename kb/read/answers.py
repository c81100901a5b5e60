"""The questions' answers as Python reads them, named as their GraphQL types.

Each record has the scalar fields of its GraphQL type in snake_case, and ``id``, the
GraphQL global id of what it is about; key/value lists (``params``, ``metrics``) are
dicts. Where ``kb.domain.answers`` already has a record of exactly the GraphQL shape, it
is the same class (``LineageGraph``, ``LineageNode``, ``LineageEdge``, ``DataUse``,
``ModelOwner``, ``ValueChange``); the others are built here from the ``kb.graph`` record
the CLI and the API read, so every path answers with the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.domain import Label, to_global_id, versioned_key
from kb.domain.answers import DatasetVersionFact as DataUse
from kb.domain.answers import DeploymentFact as DeploymentRecord
from kb.domain.answers import ImpactItem as ImpactRecord
from kb.domain.answers import LineageEdge, LineageGraph, LineageNode, TrainingFact
from kb.domain.answers import OwnerFact as ModelOwner
from kb.graph.compare import RunComparison as ComparisonRecord
from kb.graph.compare import ValueChange
from kb.graph.ownership import HandoverItem as HandoverRecord
from kb.graph.ownership import Orphan as OrphanRecord
from kb.graph.runs import RunSheet

__all__ = ["DataUse", "DeploymentFact", "HandoverItem", "ImpactItem", "LineageEdge",
           "LineageGraph", "LineageNode", "ModelOwner", "Orphan", "RunComparison",
           "RunSummary", "SearchHit", "Training", "ValueChange"]


@dataclass(frozen=True)
class Training:
    """Who trained a model version, on which data, with which code: ``kb.who_trained``.

    ``person_active`` is False once the person has left (None when nobody is recorded);
    ``inputs`` are the exact dataset versions the run read; ``repo``, ``commit``,
    ``dirty``, ``command``, ``seed`` and ``environment_digest`` are what re-running it
    needs. ``id`` is the model version's.
    """

    model: str
    version: str
    created_at: datetime | None
    aliases: tuple[str, ...]
    person_handle: str | None
    person_name: str | None
    person_active: bool | None
    run_id: str | None
    run_status: str | None
    started_at: datetime | None
    ended_at: datetime | None
    experiment: str | None
    params: Mapping[str, Any] = field(hash=False)
    metrics: Mapping[str, Any] = field(hash=False)
    inputs: tuple[DataUse, ...]
    repo: str | None
    commit: str | None
    branch: str | None
    dirty: bool | None
    command: str | None
    seed: int | None
    environment_digest: str | None
    id: str


def training(f: TrainingFact) -> Training:
    return Training(
        model=f.model, version=f.version, created_at=f.created_at, aliases=tuple(f.aliases),
        person_handle=f.person, person_name=f.person_name, person_active=f.person_active,
        run_id=f.run_id, run_status=f.run_status, started_at=f.started_at,
        ended_at=f.ended_at, experiment=f.experiment, params=dict(f.params),
        metrics=dict(f.metrics), inputs=tuple(f.inputs), repo=f.repo, commit=f.commit,
        branch=f.branch, dirty=f.dirty, command=f.command, seed=f.seed,
        environment_digest=f.environment_digest,
        id=to_global_id(Label.MODEL_VERSION, versioned_key(f.model, f.version)))


@dataclass(frozen=True)
class ImpactItem:
    """A model version (``kind`` MODEL_VERSION) or active deployment (DEPLOYMENT)
    downstream of a dataset: ``path`` is one shortest path from the dataset version to it,
    both ends included, ``hops`` its relationships; ``key`` is the version's
    (``churn@7``) or the deployment's id."""

    kind: str
    key: str
    model: str
    version: str
    environment: str | None
    status: str | None
    deployed_at: datetime | None
    hops: int
    path: tuple[LineageNode, ...]
    id: str


def impact_item(i: ImpactRecord) -> ImpactItem:
    label = Label.DEPLOYMENT if i.kind == "DEPLOYMENT" else Label.MODEL_VERSION
    return ImpactItem(kind=i.kind, key=i.key, model=i.model, version=i.version,
                      environment=i.environment, status=i.status, deployed_at=i.deployed_at,
                      hops=i.hops, path=tuple(i.path), id=to_global_id(label, i.key))


@dataclass(frozen=True)
class DeploymentFact:
    """What runs where, since when, and the people behind it: ``kb.deployments``.

    ``*_active`` is False for people who have left; ``owners`` are the served model's
    owners (as of ``as_of`` when asked): whom to ask about what runs here.
    """

    deployment_id: str
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
    owners: tuple[ModelOwner, ...]
    id: str


def deployment_fact(d: DeploymentRecord) -> DeploymentFact:
    return DeploymentFact(
        deployment_id=d.id, model=d.model, version=d.version, environment=d.environment,
        endpoint=d.endpoint, status=d.status, deployed_at=d.deployed_at,
        retired_at=d.retired_at, deployed_by=d.deployed_by, deployed_by_name=d.deployed_by_name,
        deployed_by_active=d.deployed_by_active, trained_by=d.trained_by,
        trained_by_active=d.trained_by_active, run_id=d.run_id, owners=tuple(d.owners),
        id=to_global_id(Label.DEPLOYMENT, d.id))


@dataclass(frozen=True)
class HandoverItem:
    """Something a person holds (``relations``: OWNS, TRAINED and/or DEPLOYED);
    ``at_risk`` when no other active person owns it or has trained on it."""

    kind: str
    key: str
    relations: tuple[str, ...]
    roles: tuple[str, ...]
    other_owners: tuple[str, ...]
    other_trainers: tuple[str, ...]
    at_risk: bool
    id: str


def handover_item(h: HandoverRecord) -> HandoverItem:
    return HandoverItem(kind=h.kind, key=h.key, relations=tuple(h.relations),
                        roles=tuple(h.roles), other_owners=tuple(h.other_owners),
                        other_trainers=tuple(h.other_trainers), at_risk=h.at_risk,
                        id=to_global_id(Label(h.kind), h.key))


@dataclass(frozen=True)
class Orphan:
    """An asset with no active owner: ``reason`` OWNER_LEFT (``former_owners`` all left)
    or NEVER_OWNED; ``feeds_production`` when it reaches an active production deployment."""

    kind: str
    key: str
    former_owners: tuple[str, ...]
    last_owned_at: datetime | None
    feeds_production: bool
    reason: str
    id: str


def orphan(o: OrphanRecord) -> Orphan:
    return Orphan(kind=o.kind, key=o.key, former_owners=tuple(o.former_owners),
                  last_owned_at=o.last_owned_at, feeds_production=o.feeds_production,
                  reason=o.reason, id=to_global_id(Label(o.kind), o.key))


@dataclass(frozen=True)
class SearchHit:
    """A match, best first: ``node`` is the entity's record (``kb.read.entities``)."""

    score: float
    node: Any


@dataclass(frozen=True)
class RunComparison:
    """What differs between runs ``a`` and ``b``: each param and metric that differs (a
    side is None where the key is absent), the dataset versions only one read, and
    whether the code and the environment are the same."""

    a: str
    b: str
    params: tuple[ValueChange, ...]
    metrics: tuple[ValueChange, ...]
    inputs_only_in_a: tuple[str, ...]
    inputs_only_in_b: tuple[str, ...]
    commit_a: str | None
    commit_b: str | None
    environment_a: str | None
    environment_b: str | None
    same_code: bool
    same_environment: bool


def comparison(c: ComparisonRecord) -> RunComparison:
    return RunComparison(
        a=c.a, b=c.b, params=tuple(c.params), metrics=tuple(c.metrics),
        inputs_only_in_a=tuple(c.inputs_only_a), inputs_only_in_b=tuple(c.inputs_only_b),
        commit_a=c.commit_a, commit_b=c.commit_b, environment_a=c.environment_a,
        environment_b=c.environment_b, same_code=c.same_code,
        same_environment=c.same_environment)


@dataclass(frozen=True)
class RunSummary:
    """One run of ``kb.runs``, with what it is linked to by key: ``person`` (handle),
    ``experiment`` (name), ``inputs`` (dataset versions, ``customers@2024-05``),
    ``model_versions`` (``churn@7``), the code (``repo``, ``commit``, ``dirty``) and
    ``environment_digest``. ``kb.show(ref)`` reads the whole run."""

    run_id: str
    status: str | None
    started_at: datetime | None
    person: str | None
    experiment: str | None
    params: Mapping[str, Any] = field(hash=False)
    metrics: Mapping[str, Any] = field(hash=False)
    inputs: tuple[str, ...]
    model_versions: tuple[str, ...]
    repo: str | None
    commit: str | None
    dirty: bool | None
    environment_digest: str | None
    id: str
    ref: str


def run_summary(s: RunSheet) -> RunSummary:
    return RunSummary(
        run_id=s.id, status=s.status, started_at=s.started_at, person=s.person,
        experiment=s.experiment, params=dict(s.params), metrics=dict(s.metrics),
        inputs=tuple(s.inputs), model_versions=tuple(s.produced), repo=s.repo,
        commit=s.commit, dirty=s.dirty, environment_digest=s.environment,
        id=to_global_id(Label.RUN, s.id), ref=f"run:{s.id}")
