"""The typed records every writer hands to the graph, validated by pydantic.

Records describe facts, not nodes: a ``RunRecord`` names its experiment, person and
input dataset versions by key, and the write path creates whatever they reference.
``validate`` turns pydantic's errors into one ``InvalidInput`` naming the field.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from kb.errors import InvalidInput

from .keys import Ref, versioned_key
from .labels import DeploymentStatus, InputRole, Label, RunStatus

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if not value.isprintable() and _CONTROL.search(value):  # printable has no controls
        raise ValueError("must not contain control characters")
    return value


def _clean_version(value: str) -> str:
    value = _clean_name(value)
    if "@" in value:
        raise ValueError("must not contain '@'")
    return value


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Name = Annotated[str, Field(max_length=300), AfterValidator(_clean_name)]
Version = Annotated[str, Field(max_length=120), AfterValidator(_clean_version)]
Timestamp = Annotated[datetime, AfterValidator(_aware)]
Scalar = str | bool | int | float | None

DATASHEET_SECTIONS = (
    "motivation",
    "composition",
    "collection",
    "preprocessing",
    "uses",
    "distribution",
    "maintenance",
)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PersonRecord(Record):
    handle: Name
    name: str | None = None
    email: str | None = None
    active: bool | None = None
    left_at: Timestamp | None = None
    teams: tuple[Name, ...] = ()

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-+]*", v):
            raise ValueError("must be letters, digits and . _ - + (like a login name)")
        return v

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", v):
            raise ValueError("is not an email address")
        return v


class TeamRecord(Record):
    name: Name
    description: str | None = None


class DatasetRecord(Record):
    name: Name
    description: str | None = None
    domain: str | None = None
    license: str | None = None
    datasheet: dict[str, str] = Field(default_factory=dict)

    @field_validator("datasheet")
    @classmethod
    def _sections(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(DATASHEET_SECTIONS))
        if unknown:
            raise ValueError(f"unknown section {unknown[0]!r}; use {', '.join(DATASHEET_SECTIONS)}")
        return v


class DatasetVersionKey(Record):
    dataset: Name
    version: Version

    @property
    def key(self) -> str:
        return versioned_key(self.dataset, self.version)


class SchemaField(Record):
    name: Name
    type: str | None = None
    description: str | None = None


class DatasetVersionRecord(DatasetVersionKey):
    uri: str | None = None
    digest: str | None = None
    rows: int | None = Field(default=None, ge=0)
    schema_fields: tuple[SchemaField, ...] | None = None
    description: str | None = None
    created_at: Timestamp | None = None
    derived_from: tuple[DatasetVersionKey, ...] = ()


class ExperimentRecord(Record):
    name: Name
    description: str | None = None


class CodeVersionRecord(Record):
    repo: Name
    commit: Version
    branch: str | None = None
    dirty: bool | None = None

    @property
    def key(self) -> str:
        return versioned_key(self.repo, self.commit)


class EnvironmentRecord(Record):
    digest: Name
    python: str | None = None
    platform: str | None = None
    accelerator: str | None = None
    packages: tuple[str, ...] = ()


class RunInput(DatasetVersionKey):
    # None: not given. A new USED link then takes plan.LINK_DEFAULTS (other); a run
    # logged again that names the input without a role keeps the role it has.
    role: InputRole | None = None


class ModelVersionRecord(Record):
    model: Name
    version: Version | None = None
    uri: str | None = None
    framework: str | None = None
    aliases: tuple[Name, ...] = ()
    description: str | None = None
    created_at: Timestamp | None = None
    run_id: Name | None = None

    @property
    def key(self) -> str:
        if self.version is None:
            raise InvalidInput("version", "is assigned when the version is written")
        return versioned_key(self.model, self.version)


class RunRecord(Record):
    id: Name
    name: str | None = None
    # None: not given. A new run is then a COMPLETED training run (plan.DEFAULTS); a run
    # logged again keeps the kind and status it has, as it keeps unstated params.
    kind: str | None = None
    experiment: Name | None = None
    person: Name | None = None
    status: RunStatus | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    # None: not given, so a re-logged run keeps what it had (``{}`` says "none at all").
    params: dict[str, Scalar] | None = None
    metrics: dict[str, float] | None = None
    command: str | None = None
    seed: int | None = None
    tracker_url: str | None = None
    error: str | None = None
    parent: Name | None = None
    inputs: tuple[RunInput, ...] = ()
    dataset_outputs: tuple[DatasetVersionKey, ...] = ()
    code: CodeVersionRecord | None = None
    environment: EnvironmentRecord | None = None
    producer: str | None = None
    event_time: Timestamp | None = None
    merge_state: str | None = None

    @field_validator("params", "metrics")
    @classmethod
    def _keys(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in v or ():
            if not key.strip() or (not key.isprintable() and _CONTROL.search(key)):
                raise ValueError(f"key {key!r} must be non-empty text")
        return v

    @field_validator("params", "metrics")
    @classmethod
    def _finite(cls, v: dict[str, Any] | None, info: ValidationInfo
                ) -> dict[str, Any] | None:
        # Their JSON encoding (plan.encode_map) has no NaN or infinity to write.
        for key, value in (v or {}).items():
            if isinstance(value, float) and not math.isfinite(value):
                what = ("metric", "a finite number") if info.field_name == "metrics" else (
                    "param", "a finite number or text")
                raise ValueError(f"{what[0]} {key!r} must be {what[1]}, not {value}")
        return v


class ModelRecord(Record):
    name: Name
    description: str | None = None
    task: str | None = None
    intended_use: str | None = None
    limitations: str | None = None
    license: str | None = None
    base_model: str | None = None


class DeploymentRecord(Record):
    id: Name
    model: Name
    version: Version
    environment: Name
    status: DeploymentStatus = DeploymentStatus.ACTIVE
    endpoint: str | None = None
    deployed_by: Name | None = None
    deployed_at: Timestamp | None = None
    retired_at: Timestamp | None = None

    @field_validator("environment")
    @classmethod
    def _env(cls, v: str) -> str:
        return v.lower()


class OwnershipRecord(Record):
    asset: Ref
    owner: Ref
    role: str = "owner"
    since: Timestamp | None = None
    transfer_from: Ref | None = None

    @field_validator("owner", "transfer_from")
    @classmethod
    def _owner(cls, v: Ref | None) -> Ref | None:
        if v is not None and v.label not in (Label.PERSON, Label.TEAM):
            raise ValueError("must be a person or a team")
        return v


class NoteRecord(Record):
    id: Name
    about: Ref
    author: Name | None = None
    body: str = Field(min_length=1, max_length=100_000)
    created_at: Timestamp | None = None


class Batch(Record):
    """Everything one transaction writes: applied whole or not at all."""

    teams: tuple[TeamRecord, ...] = ()
    people: tuple[PersonRecord, ...] = ()
    datasets: tuple[DatasetRecord, ...] = ()
    dataset_versions: tuple[DatasetVersionRecord, ...] = ()
    experiments: tuple[ExperimentRecord, ...] = ()
    models: tuple[ModelRecord, ...] = ()
    runs: tuple[RunRecord, ...] = ()
    model_versions: tuple[ModelVersionRecord, ...] = ()
    deployments: tuple[DeploymentRecord, ...] = ()
    retirements: tuple[Name, ...] = ()
    ownerships: tuple[OwnershipRecord, ...] = ()
    notes: tuple[NoteRecord, ...] = ()

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in type(self).model_fields)


R = TypeVar("R", bound=BaseModel)


def validate(model: type[R], data: Any, *, prefix: str = "") -> R:
    """Build ``model`` from ``data``; the first problem becomes an ``InvalidInput``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        field = f"{prefix}.{path}" if prefix and path else (prefix or path or model.__name__)
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidInput(field, message, first.get("input")) from None
