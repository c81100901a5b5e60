"""The types of the questions' answers; each is built from a kb.graph answer record."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from kb.domain import Label, to_global_id, versioned_key
from kb.domain.answers import DeploymentFact as DeploymentRecord
from kb.domain.answers import ImpactItem as ImpactRecord
from kb.domain.answers import LineageGraph as LineageRecord
from kb.domain.answers import LineageNeighbour as NeighbourRecord
from kb.domain.answers import TrainingFact
from kb.domain.diff import ModelDiff as DiffRecord
from kb.domain.paging import Page
from kb.graph.compare import RunComparison as ComparisonRecord
from kb.graph.ownership import HandoverItem as HandoverRecord
from kb.graph.ownership import Orphan as OrphanRecord

from .common import KeyValue, Node, key_values
from .context import Info
from .types import ModelVersion, Person, Run, build


@strawberry.enum
class Direction(Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"
    BOTH = "BOTH"


@strawberry.type(description="A dataset version a run read, as recorded on the run.")
class DataUse:
    dataset: str
    version: str
    digest: str | None
    uri: str | None
    role: str | None


async def _node(info: Info, label: Label, key: str | None):
    if key is None:
        return None
    props = await info.context.loaders.node(label).load(key)
    return None if props is None else build(label, props)


@strawberry.type(description="Who trained a model version, on which data, with which code.")
class Training:
    model: str
    version: str
    created_at: datetime | None
    aliases: list[str]
    person_handle: str | None
    person_name: str | None
    person_active: bool | None = strawberry.field(
        description="False once the person has left; null when nobody is recorded.")
    run_id: str | None
    run_status: str | None
    started_at: datetime | None
    ended_at: datetime | None
    experiment: str | None
    params: list[KeyValue]
    metrics: list[KeyValue]
    inputs: list[DataUse]
    repo: str | None
    commit: str | None
    branch: str | None
    dirty: bool | None
    command: str | None
    seed: int | None
    environment_digest: str | None

    @strawberry.field(description="The model version's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(Label.MODEL_VERSION,
                                          versioned_key(self.model, self.version)))

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await _node(info, Label.PERSON, self.person_handle)

    @strawberry.field
    async def run(self, info: Info) -> Run | None:
        return await _node(info, Label.RUN, self.run_id)

    @strawberry.field
    async def model_version(self, info: Info) -> ModelVersion | None:
        return await _node(info, Label.MODEL_VERSION, f"{self.model}@{self.version}")


def training(f: TrainingFact) -> Training:
    return Training(
        model=f.model, version=f.version, created_at=f.created_at, aliases=list(f.aliases),
        person_handle=f.person, person_name=f.person_name, person_active=f.person_active,
        run_id=f.run_id, run_status=f.run_status, started_at=f.started_at,
        ended_at=f.ended_at, experiment=f.experiment, params=key_values(f.params),
        metrics=key_values(f.metrics),
        inputs=[DataUse(dataset=i.dataset, version=i.version, digest=i.digest, uri=i.uri,
                        role=i.role) for i in f.inputs],
        repo=f.repo, commit=f.commit, branch=f.branch, dirty=f.dirty, command=f.command,
        seed=f.seed, environment_digest=f.environment_digest)


@strawberry.type
class LineageNode:
    id: strawberry.ID
    label: str
    key: str
    name: str


@strawberry.type
class LineageEdge:
    source: strawberry.ID
    target: strawberry.ID
    type: str


@strawberry.enum(description="One way along the lineage path.")
class LineageWay(Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"


@strawberry.type(description="A node whose neighbours one hop did not all show: "
                 "lineageNeighbours(id: node, direction:, after: endCursor) lists the rest.")
class LineageCut:
    node: strawberry.ID
    direction: LineageWay
    shown: int = strawberry.field(description="How many of its neighbours the answer holds.")
    end_cursor: str = strawberry.field(description="Continues after the last one shown.")


@strawberry.type(description="A drawable neighbourhood: nodes and typed edges.")
class LineageGraph:
    root: strawberry.ID
    direction: Direction
    depth: int
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = strawberry.field(
        description="True when a node had more neighbours than one hop explores.")
    truncated_at: list[LineageCut] = strawberry.field(
        default_factory=list,
        description="Each node cut short, with the cursor that lists the rest.")

    @strawberry.field(description="Same as truncated: the answer is partial.")
    def is_partial(self) -> bool:
        return self.truncated


def lineage_graph(g: LineageRecord) -> LineageGraph:
    # The domain records have exactly the attributes of LineageNode and LineageEdge (ids
    # are strings either way), so they are served as they are: copying a thousand of
    # them into strawberry objects cost more than the rest of the request's execution.
    return LineageGraph(
        root=strawberry.ID(g.root), direction=Direction(g.direction), depth=g.depth,
        nodes=cast("list[LineageNode]", list(g.nodes)),
        edges=cast("list[LineageEdge]", list(g.edges)), truncated=g.truncated,
        truncated_at=[LineageCut(node=strawberry.ID(c.node), direction=LineageWay(c.direction),
                                 shown=c.shown, end_cursor=c.end_cursor)
                      for c in g.truncated_at])


@strawberry.type(description="One neighbour along the lineage path and the link to it.")
class LineageNeighbour:
    node: LineageNode
    edge: LineageEdge


@strawberry.type(description="A page of one node's lineage neighbours.")
class LineageNeighbours:
    neighbours: list[LineageNeighbour]
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page (null when empty).")
    has_next_page: bool


def lineage_neighbours(page: Page[NeighbourRecord]) -> LineageNeighbours:
    return LineageNeighbours(
        neighbours=[LineageNeighbour(node=cast("LineageNode", n.node),
                                     edge=cast("LineageEdge", n.edge)) for n in page.items],
        end_cursor=page.end_cursor, has_next_page=page.has_next)


@strawberry.enum
class ImpactKind(Enum):
    MODEL_VERSION = "MODEL_VERSION"
    DEPLOYMENT = "DEPLOYMENT"


@strawberry.type(description="A model version or active deployment downstream of the data.")
class ImpactItem:
    kind: ImpactKind
    key: str
    model: str
    version: str
    environment: str | None
    status: str | None
    deployed_at: datetime | None
    hops: int
    path: list[LineageNode] = strawberry.field(
        description="One shortest path from the dataset version, both ends included.")

    @strawberry.field(description="The model version's or the deployment's id.")
    def id(self) -> strawberry.ID:
        label = Label.DEPLOYMENT if self.kind is ImpactKind.DEPLOYMENT else Label.MODEL_VERSION
        return strawberry.ID(to_global_id(label, self.key))


def impact_item(i: ImpactRecord) -> ImpactItem:
    return ImpactItem(kind=ImpactKind(i.kind), key=i.key, model=i.model, version=i.version,
                      environment=i.environment, status=i.status, deployed_at=i.deployed_at,
                      hops=i.hops, path=cast("list[LineageNode]", list(i.path)))


@strawberry.type(description="Who owned the model a deployment serves: a person (`active` "
                 "false once they had left) or a team (`active` null).")
class ModelOwner:
    kind: str
    key: str
    role: str | None
    active: bool | None


@strawberry.type(description="What runs where, since when, and who is behind it.")
class DeploymentFact:
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
    owners: list[ModelOwner] = strawberry.field(
        description="The model's owners (as of `asOf` when asked), by kind and key.")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(Label.DEPLOYMENT, self.deployment_id))


def deployment_fact(d: DeploymentRecord) -> DeploymentFact:
    return DeploymentFact(
        deployment_id=d.id, model=d.model, version=d.version, environment=d.environment,
        endpoint=d.endpoint, status=d.status, deployed_at=d.deployed_at,
        retired_at=d.retired_at, deployed_by=d.deployed_by, deployed_by_name=d.deployed_by_name,
        deployed_by_active=d.deployed_by_active, trained_by=d.trained_by,
        trained_by_active=d.trained_by_active, run_id=d.run_id,
        owners=[ModelOwner(kind=o.kind, key=o.key, role=o.role, active=o.active)
                for o in d.owners])


@strawberry.type(description="Something a person holds, flagged when nobody else would.")
class HandoverItem:
    kind: str
    key: str
    relations: list[str] = strawberry.field(description="OWNS, TRAINED and/or DEPLOYED.")
    roles: list[str]
    other_owners: list[str]
    other_trainers: list[str]
    at_risk: bool = strawberry.field(
        description="No other active person owns it or has trained on it.")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(Label(self.kind), self.key))


def handover_item(h: HandoverRecord) -> HandoverItem:
    return HandoverItem(kind=h.kind, key=h.key, relations=list(h.relations),
                        roles=list(h.roles), other_owners=list(h.other_owners),
                        other_trainers=list(h.other_trainers), at_risk=h.at_risk)


@strawberry.enum(description="Why an asset has no active owner.")
class OrphanReason(Enum):
    OWNER_LEFT = strawberry.enum_value("OWNER_LEFT", description="Every owner it had left "
                                       "(or is a team with no active member).")
    NEVER_OWNED = strawberry.enum_value("NEVER_OWNED", description="No owner on record.")


@strawberry.type(description="An asset with no active owner. `orphans` lists those whose "
                 "owner left first, then those never owned, each led by what feeds "
                 "production.")
class Orphan:
    kind: str
    key: str
    former_owners: list[str]
    last_owned_at: datetime | None
    feeds_production: bool = strawberry.field(
        description="Whether it reaches an active deployment in the production "
        "environment: a model through its versions, a dataset through what was trained "
        "on it at any depth, an experiment through its runs' versions.")
    reason: OrphanReason

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(Label(self.kind), self.key))


def orphan(o: OrphanRecord) -> Orphan:
    return Orphan(kind=o.kind, key=o.key, former_owners=list(o.former_owners),
                  last_owned_at=o.last_owned_at, feeds_production=o.feeds_production,
                  reason=OrphanReason(o.reason))


@strawberry.type
class SearchHit:
    score: float
    node: Node


@strawberry.type
class ValueChange:
    key: str
    a: JSON | None
    b: JSON | None


@strawberry.type(description="What differs between two runs.")
class RunComparison:
    a: str
    b: str
    params: list[ValueChange]
    metrics: list[ValueChange]
    inputs_only_in_a: list[str]
    inputs_only_in_b: list[str]
    commit_a: str | None
    commit_b: str | None
    environment_a: str | None
    environment_b: str | None
    same_code: bool
    same_environment: bool


def comparison(c: ComparisonRecord) -> RunComparison:
    def changes(items):
        return [ValueChange(key=v.key, a=v.a, b=v.b) for v in items]

    return RunComparison(
        a=c.a, b=c.b, params=changes(c.params), metrics=changes(c.metrics),
        inputs_only_in_a=list(c.inputs_only_a), inputs_only_in_b=list(c.inputs_only_b),
        commit_a=c.commit_a, commit_b=c.commit_b, environment_a=c.environment_a,
        environment_b=c.environment_b, same_code=c.same_code,
        same_environment=c.same_environment)


@strawberry.type(description="A model version registered between the two instants.")
class DiffVersion:
    version: str
    at: datetime | None
    run_id: str | None
    trained_by: str | None


@strawberry.type(description="A deployment started or retired between the two instants.")
class DiffDeployment:
    deployment_id: str
    environment: str
    version: str
    at: datetime | None
    by: str | None = strawberry.field(description="Who deployed or retired it.")


@strawberry.type(description="An ownership begun or ended between the two instants.")
class DiffOwner:
    kind: str
    key: str
    role: str | None
    at: datetime | None
    by: str | None = strawberry.field(description="Who recorded it.")


@strawberry.type(description="An alias given to a version; fromVersion null: newly given, "
                 "toVersion null: taken away.")
class AliasMove:
    alias: str
    from_version: str | None
    to_version: str | None
    at: datetime | None
    by: str | None


@strawberry.type(description="What changed about a model between two instants; the "
                 "production versions and the dataset versions upstream of them at each.")
class ModelDiff:
    model: str
    start: datetime = strawberry.field(name="from")
    end: datetime = strawberry.field(name="to")
    versions_added: list[DiffVersion]
    deployments_started: list[DiffDeployment]
    deployments_retired: list[DiffDeployment]
    owners_added: list[DiffOwner]
    owners_removed: list[DiffOwner]
    aliases_moved: list[AliasMove]
    production_before: list[str]
    production_after: list[str]
    data_before: list[str]
    data_after: list[str]
    data_added: list[str]
    data_removed: list[str]


def model_diff(d: DiffRecord) -> ModelDiff:
    def deployments(items: Any) -> list[DiffDeployment]:
        return [DiffDeployment(deployment_id=x.id, environment=x.environment,
                               version=x.version, at=x.at, by=x.by) for x in items]

    def owners(items: Any) -> list[DiffOwner]:
        return [DiffOwner(kind=x.kind, key=x.key, role=x.role, at=x.at, by=x.by)
                for x in items]

    return ModelDiff(
        model=d.model, start=d.start, end=d.end,
        versions_added=[DiffVersion(version=v.version, at=v.at, run_id=v.run_id,
                                    trained_by=v.trained_by) for v in d.versions_added],
        deployments_started=deployments(d.deployments_started),
        deployments_retired=deployments(d.deployments_retired),
        owners_added=owners(d.owners_added), owners_removed=owners(d.owners_removed),
        aliases_moved=[AliasMove(alias=a.alias, from_version=a.from_version,
                                 to_version=a.to_version, at=a.at, by=a.by)
                       for a in d.aliases_moved],
        production_before=list(d.production_before), production_after=list(d.production_after),
        data_before=list(d.data_before), data_after=list(d.data_after),
        data_added=list(d.data_added), data_removed=list(d.data_removed))
