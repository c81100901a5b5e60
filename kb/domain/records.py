"""The typed records every writer hands to the graph, validated by pydantic.

Records describe facts, not nodes: a ``RunRecord`` names its experiment, person and
input dataset versions by key, and the write path creates whatever they reference.
``validate`` turns pydantic's errors into one ``InvalidInput`` naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sized
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from kb.errors import InvalidInput

from . import limits
from .keys import Ref, split_versioned, versioned_key
from .labels import DeploymentStatus, InputRole, Label, RunSource, RunStatus
from .text import TooLong, clean_name, clean_text


def _clean_version(value: str) -> str:
    value = clean_name(value)
    if "@" in value:
        raise ValueError("must not contain '@'")
    return value


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(limit: int) -> AfterValidator:
    return AfterValidator(lambda value: clean_text(value, limit))


def _items(limit: int) -> BeforeValidator:
    """At most ``limit`` items, checked before any item is validated."""

    def check(value: Any) -> Any:
        if isinstance(value, Sized) and not isinstance(value, str) and len(value) > limit:
            raise TooLong(f"at most {limit:,} items, got {len(value):,}")
        return value

    return BeforeValidator(check)


def _clean_ref(ref: Ref) -> Ref:
    """A reference whose name (and version) obey the rules of names."""
    if ref.version is None:
        return Ref(ref.label, clean_name(ref.key))
    name, version = split_versioned(ref.key)
    return Ref(ref.label, versioned_key(clean_name(name), _clean_version(version)))


#: Names and identifiers: NFC, nothing invisible, at most ``limits.NAME`` characters.
Name = Annotated[str, AfterValidator(clean_name)]
Version = Annotated[str, AfterValidator(_clean_version)]
ShortText = Annotated[str, _text(limits.SHORT_TEXT)]
LongText = Annotated[str, _text(limits.LONG_TEXT)]
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
    name: Name | None = None
    email: ShortText | None = None
    active: bool | None = None
    left_at: Timestamp | None = None
    teams: Annotated[tuple[Name, ...], _items(limits.TEAMS)] = ()

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
    description: LongText | None = None


class DatasetRecord(Record):
    name: Name
    description: LongText | None = None
    domain: ShortText | None = None
    license: ShortText | None = None
    datasheet: dict[str, LongText] = Field(default_factory=dict)

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
    type: ShortText | None = None
    description: ShortText | None = None


class DatasetVersionRecord(DatasetVersionKey):
    uri: ShortText | None = None
    digest: ShortText | None = None
    rows: int | None = Field(default=None, ge=0)
    schema_fields: Annotated[tuple[SchemaField, ...] | None,
                             _items(limits.SCHEMA_FIELDS)] = None
    description: LongText | None = None
    created_at: Timestamp | None = None
    derived_from: Annotated[tuple[DatasetVersionKey, ...], _items(limits.DATASET_LINKS)] = ()


class ExperimentRecord(Record):
    name: Name
    description: LongText | None = None


class CodeVersionRecord(Record):
    repo: Name
    commit: Version
    branch: ShortText | None = None
    dirty: bool | None = None

    @property
    def key(self) -> str:
        return versioned_key(self.repo, self.commit)


class EnvironmentRecord(Record):
    digest: Name
    python: ShortText | None = None
    platform: ShortText | None = None
    accelerator: ShortText | None = None
    packages: Annotated[tuple[ShortText, ...], _items(limits.PACKAGES)] = ()


class RunInput(DatasetVersionKey):
    # None: not given. A new USED link then takes plan.LINK_DEFAULTS (other); a run
    # logged again that names the input without a role keeps the role it has.
    role: InputRole | None = None


class ModelVersionRecord(Record):
    model: Name
    version: Version | None = None
    uri: ShortText | None = None
    framework: ShortText | None = None
    aliases: Annotated[tuple[Name, ...], _items(limits.ALIASES)] = ()
    description: LongText | None = None
    created_at: Timestamp | None = None
    run_id: Name | None = None

    @property
    def key(self) -> str:
        if self.version is None:
            raise InvalidInput("version", "is assigned when the version is written")
        return versioned_key(self.model, self.version)


class RunRecord(Record):
    id: Name
    name: Name | None = None
    # None: not given. A new run is then a COMPLETED training run (plan.DEFAULTS); a run
    # logged again keeps the kind and status it has, as it keeps unstated params.
    kind: Name | None = None
    experiment: Name | None = None
    person: Name | None = None
    status: RunStatus | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    # None: not given, so a re-logged run keeps what it had (``{}`` says "none at all").
    params: Annotated[dict[str, Scalar] | None, _items(limits.MAP_ENTRIES)] = None
    metrics: Annotated[dict[str, float] | None, _items(limits.MAP_ENTRIES)] = None
    command: Annotated[str, _text(limits.COMMAND)] | None = None
    seed: int | None = None
    tracker_url: ShortText | None = None
    error: ShortText | None = None
    parent: Name | None = None
    inputs: Annotated[tuple[RunInput, ...], _items(limits.DATASET_LINKS)] = ()
    dataset_outputs: Annotated[tuple[DatasetVersionKey, ...], _items(limits.DATASET_LINKS)] = ()
    code: CodeVersionRecord | None = None
    environment: EnvironmentRecord | None = None
    producer: ShortText | None = None
    event_time: Timestamp | None = None
    merge_state: Annotated[str, _text(limits.MERGE_STATE)] | None = None
    #: Who writes the run (kb.graph.run_sources): the first writer owns it, and
    #: another source may write it only if the owner listed it in ``accept``.
    source: RunSource = RunSource.SDK
    accept: tuple[RunSource, ...] = ()

    @field_validator("ended_at")
    @classmethod
    def _ends_after_start(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        started = info.data.get("started_at")
        if v is not None and started is not None and v < started:
            raise ValueError(f"must not be before started_at ({started.isoformat()})")
        return v

    @field_validator("params", "metrics")
    @classmethod
    def _entries(cls, v: dict[str, Any] | None, info: ValidationInfo
                 ) -> dict[str, Any] | None:
        if not v:
            return v
        what = "metric" if info.field_name == "metrics" else "param"
        out: dict[str, Any] = {}
        for key, value in v.items():
            try:
                name = clean_name(key, limits.MAP_KEY)
            except TooLong as exc:
                raise TooLong(f"{what} key {key[:40]!r}...: {exc}") from None
            except ValueError as exc:
                raise ValueError(f"{what} key {key!r} must be non-empty text: {exc}") from None
            if isinstance(value, float) and not math.isfinite(value):
                # Their JSON encoding (plan.encode_map) has no NaN or infinity to write.
                kind = "a finite number" if what == "metric" else "a finite number or text"
                raise ValueError(f"{what} {key!r} must be {kind}, not {value}")
            if isinstance(value, str):
                try:
                    value = clean_text(value, limits.PARAM_VALUE)
                except TooLong as exc:
                    raise TooLong(f"{what} {name!r}: {exc}") from None
                except ValueError as exc:
                    raise ValueError(f"{what} {name!r} {exc}") from None
            out[name] = value
        return out


class ModelRecord(Record):
    name: Name
    description: LongText | None = None
    task: ShortText | None = None
    intended_use: LongText | None = None
    limitations: LongText | None = None
    license: ShortText | None = None
    base_model: ShortText | None = None


class DeploymentRecord(Record):
    id: Name
    model: Name
    version: Version
    environment: Name
    status: DeploymentStatus = DeploymentStatus.ACTIVE
    endpoint: ShortText | None = None
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
    role: Name = "owner"
    since: Timestamp | None = None
    transfer_from: Ref | None = None

    @field_validator("asset", "owner", "transfer_from")
    @classmethod
    def _names(cls, v: Ref | None) -> Ref | None:
        return None if v is None else _clean_ref(v)

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
    body: Annotated[str, Field(min_length=1), _text(limits.NOTE_BODY)]
    created_at: Timestamp | None = None

    @field_validator("about")
    @classmethod
    def _about(cls, v: Ref) -> Ref:
        return _clean_ref(v)


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
        # A size error says the size; echoing megabytes of the value would not help.
        too_long = isinstance((first.get("ctx") or {}).get("error"), TooLong)
        raise InvalidInput(field, message, None if too_long else first.get("input")) from None
