"""The entity types: one per label, relationship fields resolved through dataloaders.

Each type is built from a node's properties (``build``); every relationship field asks the
request's loaders, so a page of N entities costs one read per field, never N.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from kb.domain import KEY_PROPERTY, Label, to_global_id
from kb.graph.nodes import LIST_CAP, Linked
from kb.graph.ownership import ownerships_held

from .common import AFTER_ID, FIRST_ITEMS, KeyValue, Node, after_ref, key_values, list_size
from .context import Info

EntityKind = strawberry.enum(Label, name="EntityKind",
                             description="The kinds of entity kb holds.")


@strawberry.enum
class RunStatus(Enum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


@strawberry.enum
class DeploymentStatus(Enum):
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def build(label: Label, props: dict[str, Any]) -> Any:
    """The GraphQL object for a node of ``label`` from its properties."""
    cls = TYPES[label]
    key = props[KEY_PROPERTY[label]]
    values: dict[str, Any] = {"id": strawberry.ID(to_global_id(label, key)), "props": props}
    for f in dataclasses.fields(cls):
        if f.init and f.name not in values:
            value = props.get(_camel(f.name))
            if f.name == "status" and value is not None:
                value = _STATUS.get(label, str)(value)
            values[f.name] = value
    return cls(**values)


def built(item: Linked | None) -> Any:
    return None if item is None else build(item.label, item.props)


async def _many(info: Info, relation: str, key: str, first: int | None = None,
                after: str | None = None) -> list[Linked]:
    size = list_size(first)
    items = await info.context.loaders.related(relation, after_ref(after)).load(key)
    return items[:size]


async def _one(info: Info, relation: str, key: str) -> Any:
    items = await info.context.loaders.related(relation).load(key)
    return built(items[0]) if items else None


async def _list(info: Info, relation: str, key: str, first: int | None,
                after: str | None = None) -> list[Any]:
    return [built(i) for i in await _many(info, relation, key, first, after)]


FIRST = FIRST_ITEMS
AFTER = AFTER_ID
#: The default page of lists that returned all (up to the cap) before taking ``first``.
CAP = LIST_CAP
After = Annotated[strawberry.ID | None, AFTER]
AsOf = Annotated[datetime | None, strawberry.argument(
    description="Those that held at this instant (default: now); `includeHistory` is then "
                "ignored.")]
HeldAt = Annotated[datetime | None, strawberry.argument(
    description="What was held at this instant (default: now).")]


@strawberry.type(description="Who owns what: closed ownerships keep `until` as history.")
class Ownership:
    owner: Owner
    asset: Asset
    role: str | None
    since: datetime | None
    until: datetime | None

    @strawberry.field
    def active(self) -> bool:
        return self.until is None


def _ownership(owner: Any, asset: Any, rel: dict[str, Any]) -> Ownership:
    return Ownership(owner=owner, asset=asset, role=rel.get("role"), since=rel.get("since"),
                     until=rel.get("until"))


#: Per request, one loader per (label, instant) of the ownerships that held then, so a
#: page of N entities asking ``owners(asOf:)`` costs one read.
_HELD: WeakKeyDictionary[Any, dict[tuple[Label, datetime], DataLoader[str, list[Linked]]]] = (
    WeakKeyDictionary())


async def _held(info: Info, label: Label, key: str, as_of: datetime, first: int | None,
                after: str | None) -> list[Linked]:
    """``owners``/``owns`` as of an instant, through the request's loaders."""
    size = list_size(first)
    loaders = info.context.loaders
    mine = _HELD.setdefault(loaders, {})
    loader = mine.get((label, as_of))
    if loader is None:
        async def load(keys: list[str]) -> list[list[Linked]]:
            found = await loaders.read(ownerships_held, label, list(keys), as_of)
            return [found.get(k, []) for k in keys]

        loader = mine[(label, as_of)] = DataLoader(load_fn=load, max_batch_size=1000)
    items = await loader.load(key)
    if after is not None:
        ref = after_ref(after)
        at = [i for i, item in enumerate(items)
              if (item.label, item.props.get(KEY_PROPERTY[item.label])) == ref]
        items = items[at[0] + 1:] if at else []
    return items[:size]


async def _owners(info: Info, relation: str, asset: Any, include_history: bool,
                  first: int, after: str | None, as_of: datetime | None = None
                  ) -> list[Ownership]:
    if as_of is not None:
        items = await _held(info, Label(relation.partition('.')[0]), asset.key, as_of, first, after)
        return [_ownership(built(i), asset, i.rel) for i in items]
    name = relation if include_history else relation.replace(".owners", ".currentOwners")
    items = await _many(info, name, asset.key, first, after)
    return [_ownership(built(i), asset, i.rel) for i in items]


async def _owns(info: Info, relation: str, owner: Any, first: int, after: str | None,
                as_of: datetime | None = None) -> list[Ownership]:
    if as_of is not None:
        items = await _held(info, Label(relation.partition('.')[0]), owner.key, as_of, first, after)
    else:
        items = await _many(info, relation, owner.key, first, after)
    return [_ownership(owner, built(i), i.rel) for i in items]


OWNERS = "Owners, newest first; `after` takes the id of an owner."


@strawberry.type
class Person(Node):
    props: strawberry.Private[dict]
    handle: str
    name: str | None
    email: str | None
    left_at: datetime | None

    @property
    def key(self) -> str:
        return self.handle

    @strawberry.field(description="False once the person has left: their active flag, or, "
                      "where none was recorded, whether leftAt is set.")
    def active(self) -> bool:
        active = self.props.get("active")
        return (self.left_at is None) if active is None else bool(active)

    @strawberry.field(description="Teams, by name.")
    async def teams(self, info: Info, first: Annotated[int, FIRST] = CAP,
                    after: After = None) -> list[Team]:
        return await _list(info, "Person.teams", self.handle, first, after)

    @strawberry.field(description="Runs this person trained, newest first.")
    async def runs(self, info: Info, first: Annotated[int, FIRST] = 20,
                   after: After = None) -> list[Run]:
        return await _list(info, "Person.runs", self.handle, first, after)

    @strawberry.field(description="Deployments this person made, newest first.")
    async def deployments(self, info: Info, first: Annotated[int, FIRST] = 20,
                          after: After = None) -> list[Deployment]:
        return await _list(info, "Person.deployments", self.handle, first, after)

    @strawberry.field(description="What this person owns now, newest first; `after` takes "
                      "the id of an asset.")
    async def owns(self, info: Info, first: Annotated[int, FIRST] = CAP,
                   after: After = None, as_of: HeldAt = None) -> list[Ownership]:
        return await _owns(info, "Person.owns", self, first, after, as_of)


@strawberry.type
class Team(Node):
    props: strawberry.Private[dict]
    name: str
    description: str | None

    @property
    def key(self) -> str:
        return self.name

    @strawberry.field(description="Members, by handle.")
    async def members(self, info: Info, first: Annotated[int, FIRST] = CAP,
                      after: After = None) -> list[Person]:
        return await _list(info, "Team.members", self.name, first, after)

    @strawberry.field(description="What this team owns now, newest first; `after` takes "
                      "the id of an asset.")
    async def owns(self, info: Info, first: Annotated[int, FIRST] = CAP,
                   after: After = None, as_of: HeldAt = None) -> list[Ownership]:
        return await _owns(info, "Team.owns", self, first, after, as_of)


@strawberry.type
class Note(Node):
    props: strawberry.Private[dict]
    body: str | None
    created_at: datetime | None

    @property
    def key(self) -> str:
        return self.props["id"]

    @strawberry.field(name="noteId")
    def note_id(self) -> str:
        return self.props["id"]

    @strawberry.field
    async def author(self, info: Info) -> Person | None:
        return await _one(info, "Note.author", self.key)

    @strawberry.field
    async def about(self, info: Info) -> Node | None:
        return await _one(info, "Note.about", self.key)


async def _notes(info: Info, label: Label, key: str, first: int, after: str | None
                 ) -> list[Note]:
    return await _list(info, f"{label.value}.notes", key, first, after)


@strawberry.type
class Dataset(Node):
    props: strawberry.Private[dict]
    name: str
    description: str | None
    domain: str | None
    license: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def key(self) -> str:
        return self.name

    @strawberry.field
    def datasheet(self) -> list[KeyValue]:
        return key_values(self.props.get("datasheet"))

    @strawberry.field(description="Versions, newest first.")
    async def versions(self, info: Info, first: Annotated[int, FIRST] = 20,
                       after: After = None) -> list[DatasetVersion]:
        return await _list(info, "Dataset.versions", self.name, first, after)

    @strawberry.field(description=OWNERS)
    async def owners(self, info: Info, include_history: bool = False,
                     first: Annotated[int, FIRST] = CAP, after: After = None,
                     as_of: AsOf = None) -> list[Ownership]:
        return await _owners(info, "Dataset.owners", self, include_history, first, after,
                             as_of)

    @strawberry.field(description="Notes about it, newest first.")
    async def notes(self, info: Info, first: Annotated[int, FIRST] = 20,
                    after: After = None) -> list[Note]:
        return await _notes(info, Label.DATASET, self.name, first, after)


@strawberry.type
class DatasetVersion(Node):
    props: strawberry.Private[dict]
    key: str
    version: str | None
    uri: str | None
    digest: str | None
    rows: int | None
    description: str | None
    created_at: datetime | None

    @strawberry.field(name="datasetName")
    def dataset_name(self) -> str | None:
        return self.props.get("dataset")

    @strawberry.field
    def schema_fields(self) -> JSON | None:
        schema = self.props.get("schema")
        return schema.get("fields") if isinstance(schema, dict) else None

    @strawberry.field
    async def dataset(self, info: Info) -> Dataset | None:
        return await _one(info, "DatasetVersion.dataset", self.key)

    @strawberry.field(description="The run that produced it (a derivation or a pipeline).")
    async def produced_by(self, info: Info) -> Run | None:
        return await _one(info, "DatasetVersion.producedBy", self.key)

    @strawberry.field(description="Runs that read it, newest first.")
    async def used_by(self, info: Info, first: Annotated[int, FIRST] = 20,
                      after: After = None) -> list[Run]:
        return await _list(info, "DatasetVersion.usedBy", self.key, first, after)

    @strawberry.field(description="Notes about it, newest first.")
    async def notes(self, info: Info, first: Annotated[int, FIRST] = 20,
                    after: After = None) -> list[Note]:
        return await _notes(info, Label.DATASET_VERSION, self.key, first, after)


@strawberry.type
class Experiment(Node):
    props: strawberry.Private[dict]
    name: str
    description: str | None

    @property
    def key(self) -> str:
        return self.name

    @strawberry.field(description="Runs in it, newest first.")
    async def runs(self, info: Info, first: Annotated[int, FIRST] = 20,
                   after: After = None) -> list[Run]:
        return await _list(info, "Experiment.runs", self.name, first, after)

    @strawberry.field(description=OWNERS)
    async def owners(self, info: Info, include_history: bool = False,
                     first: Annotated[int, FIRST] = CAP, after: After = None,
                     as_of: AsOf = None) -> list[Ownership]:
        return await _owners(info, "Experiment.owners", self, include_history, first, after,
                             as_of)


@strawberry.type
class CodeVersion(Node):
    props: strawberry.Private[dict]
    key: str
    repo: str | None
    commit: str | None
    branch: str | None
    dirty: bool | None


@strawberry.type
class Environment(Node):
    props: strawberry.Private[dict]
    digest: str
    python: str | None
    platform: str | None
    accelerator: str | None
    packages: list[str] | None

    @property
    def key(self) -> str:
        return self.digest


@strawberry.type(description="A dataset version a run read, and in which role.")
class RunInput:
    role: str | None
    dataset_version: DatasetVersion


@strawberry.type(description="What it takes to run it again.")
class Recipe:
    command: str | None
    seed: int | None
    repo: str | None
    commit: str | None
    branch: str | None
    dirty: bool | None
    environment_digest: str | None
    params: list[KeyValue]
    inputs: list[str]


@strawberry.type
class Run(Node):
    props: strawberry.Private[dict]
    name: str | None
    kind: str | None
    status: RunStatus | None
    started_at: datetime | None
    ended_at: datetime | None
    command: str | None
    seed: int | None
    tracker_url: str | None
    error: str | None

    @property
    def key(self) -> str:
        return self.props["id"]

    @strawberry.field(name="runId")
    def run_id(self) -> str:
        return self.props["id"]

    @strawberry.field
    def params(self) -> list[KeyValue]:
        return key_values(self.props.get("params"))

    @strawberry.field
    def metrics(self) -> list[KeyValue]:
        return key_values(self.props.get("metrics"))

    @strawberry.field(description="Who trained it.")
    async def person(self, info: Info) -> Person | None:
        return await _one(info, "Run.person", self.key)

    @strawberry.field
    async def experiment(self, info: Info) -> Experiment | None:
        return await _one(info, "Run.experiment", self.key)

    @strawberry.field(description="Dataset versions it read, by key; `after` takes the id "
                      "of a dataset version.")
    async def inputs(self, info: Info, first: Annotated[int, FIRST] = CAP,
                     after: After = None) -> list[RunInput]:
        items = await _many(info, "Run.inputs", self.key, first, after)
        return [RunInput(role=i.rel.get("role"), dataset_version=built(i)) for i in items]

    @strawberry.field(description="Dataset versions it wrote, by key.")
    async def outputs(self, info: Info, first: Annotated[int, FIRST] = CAP,
                      after: After = None) -> list[DatasetVersion]:
        return await _list(info, "Run.outputs", self.key, first, after)

    @strawberry.field(description="Model versions it produced, by key.")
    async def model_versions(self, info: Info, first: Annotated[int, FIRST] = CAP,
                             after: After = None) -> list[ModelVersion]:
        return await _list(info, "Run.modelVersions", self.key, first, after)

    @strawberry.field
    async def code(self, info: Info) -> CodeVersion | None:
        return await _one(info, "Run.code", self.key)

    @strawberry.field
    async def environment(self, info: Info) -> Environment | None:
        return await _one(info, "Run.environment", self.key)

    @strawberry.field
    async def parent(self, info: Info) -> Run | None:
        return await _one(info, "Run.parent", self.key)

    @strawberry.field
    async def recipe(self, info: Info) -> Recipe:
        code = await _one(info, "Run.code", self.key)
        env = await _one(info, "Run.environment", self.key)
        inputs = await _many(info, "Run.inputs", self.key)
        return Recipe(
            command=self.command, seed=self.seed,
            repo=code.repo if code else None, commit=code.commit if code else None,
            branch=code.branch if code else None, dirty=code.dirty if code else None,
            environment_digest=env.digest if env else None,
            params=key_values(self.props.get("params")), inputs=[i.key for i in inputs])


@strawberry.type
class Model(Node):
    props: strawberry.Private[dict]
    name: str
    description: str | None
    task: str | None
    intended_use: str | None
    limitations: str | None
    license: str | None
    base_model: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def key(self) -> str:
        return self.name

    @strawberry.field(description="Versions, newest first; `alias` keeps those with the alias.")
    async def versions(self, info: Info, first: Annotated[int, FIRST] = 20,
                       alias: str | None = None, after: After = None) -> list[ModelVersion]:
        size = list_size(first)
        items = await _many(info, "Model.versions", self.name, None, after)
        if alias is not None:
            items = [i for i in items if alias in (i.props.get("aliases") or [])]
        return [built(i) for i in items[:size]]

    @strawberry.field(description=OWNERS)
    async def owners(self, info: Info, include_history: bool = False,
                     first: Annotated[int, FIRST] = CAP, after: After = None,
                     as_of: AsOf = None) -> list[Ownership]:
        return await _owners(info, "Model.owners", self, include_history, first, after,
                             as_of)

    @strawberry.field(description="Notes about it, newest first.")
    async def notes(self, info: Info, first: Annotated[int, FIRST] = 20,
                    after: After = None) -> list[Note]:
        return await _notes(info, Label.MODEL, self.name, first, after)


@strawberry.type
class ModelVersion(Node):
    props: strawberry.Private[dict]
    key: str
    version: str | None
    uri: str | None
    framework: str | None
    description: str | None
    created_at: datetime | None

    @strawberry.field(name="modelName")
    def model_name(self) -> str | None:
        return self.props.get("model")

    @strawberry.field
    def aliases(self) -> list[str]:
        return list(self.props.get("aliases") or [])

    @strawberry.field
    async def model(self, info: Info) -> Model | None:
        return await _one(info, "ModelVersion.model", self.key)

    @strawberry.field(description="The run that produced this version.")
    async def run(self, info: Info) -> Run | None:
        return await _one(info, "ModelVersion.runs", self.key)

    @strawberry.field
    async def deployments(self, info: Info, first: Annotated[int, FIRST] = 20,
                          status: DeploymentStatus | None = None, after: After = None
                          ) -> list[Deployment]:
        size = list_size(first)
        items = await _many(info, "ModelVersion.deployments", self.key, None, after)
        if status is not None:
            items = [i for i in items if i.props.get("status") == status.value]
        return [built(i) for i in items[:size]]

    @strawberry.field(description="Notes about it, newest first.")
    async def notes(self, info: Info, first: Annotated[int, FIRST] = 20,
                    after: After = None) -> list[Note]:
        return await _notes(info, Label.MODEL_VERSION, self.key, first, after)


@strawberry.type
class Deployment(Node):
    props: strawberry.Private[dict]
    environment: str | None
    endpoint: str | None
    status: DeploymentStatus | None
    deployed_at: datetime | None
    retired_at: datetime | None

    @property
    def key(self) -> str:
        return self.props["id"]

    @strawberry.field(name="deploymentId")
    def deployment_id(self) -> str:
        return self.props["id"]

    @strawberry.field
    async def model_version(self, info: Info) -> ModelVersion | None:
        return await _one(info, "Deployment.modelVersion", self.key)

    @strawberry.field
    async def deployed_by(self, info: Info) -> Person | None:
        return await _one(info, "Deployment.deployedBy", self.key)

    @strawberry.field(description=OWNERS)
    async def owners(self, info: Info, include_history: bool = False,
                     first: Annotated[int, FIRST] = CAP, after: After = None,
                     as_of: AsOf = None) -> list[Ownership]:
        return await _owners(info, "Deployment.owners", self, include_history, first, after,
                             as_of)


Owner = Annotated[Person | Team, strawberry.union("Owner")]
Asset = Annotated[Model | Dataset | Experiment | Deployment, strawberry.union("Asset")]

TYPES: dict[Label, type] = {
    Label.PERSON: Person, Label.TEAM: Team, Label.DATASET: Dataset,
    Label.DATASET_VERSION: DatasetVersion, Label.EXPERIMENT: Experiment, Label.RUN: Run,
    Label.CODE_VERSION: CodeVersion, Label.ENVIRONMENT: Environment, Label.MODEL: Model,
    Label.MODEL_VERSION: ModelVersion, Label.DEPLOYMENT: Deployment, Label.NOTE: Note,
}
_STATUS: dict[Label, Any] = {Label.RUN: RunStatus, Label.DEPLOYMENT: DeploymentStatus}
ENTITY_TYPES: tuple[type, ...] = tuple(TYPES.values())
