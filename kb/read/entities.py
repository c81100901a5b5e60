"""The entities as Python reads them: one frozen record per kind, named as the GraphQL type.

Each record holds the scalar fields of its GraphQL type, in snake_case (``startedAt`` is
``started_at``, ``runId`` is ``run_id``), built from the properties ``kb.graph`` decodes,
so the API, the CLI and Python give the same values. Fields that are other entities in
GraphQL (a run's ``person``) are not here: ``kb.show`` names them in ``links``. Every
record also carries ``id`` (the GraphQL global id), ``ref`` (``model:churn``, what
``kb.show`` and the CLI accept) and ``links`` (filled by ``kb.show`` only, else None).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb.domain import KEY_PROPERTY, Label, Ref, to_global_id


@dataclass(frozen=True)
class Links:
    """One group of an entity's neighbours (``"USED->"``, ``"<-TRAINED"``): how many there
    are, and the first of them as refs (``kb.show`` lists at most 50 a group)."""

    count: int
    refs: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Person:
    """A person: ``handle`` is the key; ``active`` is False once they have left."""

    handle: str
    name: str | None = None
    email: str | None = None
    left_at: datetime | None = None
    active: bool = True
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Team:
    """A team, by ``name``."""

    name: str
    description: str | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """A dataset (its versions are ``DatasetVersion``s)."""

    name: str
    description: str | None = None
    domain: str | None = None
    license: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class DatasetVersion:
    """Exact bytes of a dataset: ``key`` is ``dataset@version``; ``digest`` pins them."""

    key: str
    version: str | None = None
    uri: str | None = None
    digest: str | None = None
    rows: int | None = None
    description: str | None = None
    created_at: datetime | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """An experiment, by ``name``; its runs are ``kb.runs(experiment=...)``."""

    name: str
    description: str | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Run:
    """A run: ``status`` is RUNNING, COMPLETED, FAILED or ABORTED; ``params`` and
    ``metrics`` keep their JSON types."""

    run_id: str
    name: str | None = None
    kind: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    command: str | None = None
    seed: int | None = None
    tracker_url: str | None = None
    error: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    metrics: Mapping[str, Any] = field(default_factory=dict, hash=False)
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class CodeVersion:
    """A commit of a repository; ``dirty`` when the tree had uncommitted changes."""

    key: str
    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Environment:
    """A software environment, by the ``digest`` of what was installed."""

    digest: str
    python: str | None = None
    platform: str | None = None
    accelerator: str | None = None
    packages: tuple[str, ...] | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Model:
    """A model (its versions are ``ModelVersion``s)."""

    name: str
    description: str | None = None
    task: str | None = None
    intended_use: str | None = None
    limitations: str | None = None
    license: str | None = None
    base_model: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class ModelVersion:
    """A version of ``model_name``: ``key`` is ``model@version``; ``aliases`` it holds now."""

    key: str
    version: str | None = None
    uri: str | None = None
    framework: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    model_name: str | None = None
    aliases: tuple[str, ...] = ()
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """A model version served in an ``environment``; ``status`` ACTIVE or RETIRED."""

    deployment_id: str
    environment: str | None = None
    endpoint: str | None = None
    status: str | None = None
    deployed_at: datetime | None = None
    retired_at: datetime | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class Note:
    """A note about an entity; ``body`` is Markdown."""

    note_id: str
    body: str | None = None
    created_at: datetime | None = None
    id: str
    ref: str
    links: Mapping[str, Links] | None = field(default=None, hash=False)


ENTITY: dict[Label, type[Any]] = {
    Label.PERSON: Person, Label.TEAM: Team, Label.DATASET: Dataset,
    Label.DATASET_VERSION: DatasetVersion, Label.EXPERIMENT: Experiment, Label.RUN: Run,
    Label.CODE_VERSION: CodeVersion, Label.ENVIRONMENT: Environment, Label.MODEL: Model,
    Label.MODEL_VERSION: ModelVersion, Label.DEPLOYMENT: Deployment, Label.NOTE: Note,
}

# Fields whose graph property is not their camelCase name.
_PROPERTY = {"run_id": "id", "deployment_id": "id", "note_id": "id", "model_name": "model"}
_OWN = {"id", "ref", "links"}


def camel(name: str) -> str:
    """``started_at`` → ``startedAt``: the graph's (and GraphQL's) name of a field."""
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _value(name: str, props: Mapping[str, Any]) -> Any:
    value = props.get(_PROPERTY.get(name, camel(name)))
    if name in ("params", "metrics"):
        return dict(value) if isinstance(value, Mapping) else {}
    if name == "aliases":
        return tuple(value or ())
    if name == "packages" and value is not None:
        return tuple(value)
    return value


def entity(label: Label, props: Mapping[str, Any],
           links: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
    """The record of a node of ``label`` from its decoded properties (and, from ``show``,
    its link groups)."""
    cls = ENTITY[label]
    key = props[KEY_PROPERTY[label]]
    values: dict[str, Any] = {
        "id": to_global_id(label, key), "ref": str(Ref(label, key)),
        "links": None if links is None else {
            name: Links(group["count"], tuple(group["refs"])) for name, group in links.items()},
    }
    for f in dataclasses.fields(cls):
        if f.name not in _OWN:
            values[f.name] = _value(f.name, props)
    if label is Label.PERSON:
        active = props.get("active")
        values["active"] = (props.get("leftAt") is None) if active is None else bool(active)
    return cls(**values)
