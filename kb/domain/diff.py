"""What changed about a model between two instants: ``kb diff``'s answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class VersionAdded:
    """A version registered in the span, with the run that produced it and its trainer."""

    version: str
    at: datetime | None
    run_id: str | None
    trained_by: str | None


@dataclass(frozen=True)
class DeploymentChange:
    """A deployment started or retired in the span; ``by`` deployed or retired it."""

    id: str
    environment: str
    version: str
    at: datetime | None
    by: str | None


@dataclass(frozen=True)
class OwnerChange:
    """An ownership begun or ended in the span; ``by`` is who recorded it."""

    kind: str
    key: str
    role: str | None
    at: datetime | None
    by: str | None


@dataclass(frozen=True)
class AliasMove:
    """An alias given to ``to_version`` (None: taken away) from ``from_version`` (None:
    new), at ``at`` by ``by``."""

    alias: str
    from_version: str | None
    to_version: str | None
    at: datetime | None
    by: str | None


@dataclass(frozen=True)
class ModelDiff:
    """The model at ``start`` against ``end``; ``production_*`` are the versions live in
    production then, ``data_*`` the dataset versions (``name@version``) upstream of them."""

    model: str
    start: datetime
    end: datetime
    versions_added: tuple[VersionAdded, ...]
    deployments_started: tuple[DeploymentChange, ...]
    deployments_retired: tuple[DeploymentChange, ...]
    owners_added: tuple[OwnerChange, ...]
    owners_removed: tuple[OwnerChange, ...]
    aliases_moved: tuple[AliasMove, ...]
    production_before: tuple[str, ...]
    production_after: tuple[str, ...]
    data_before: tuple[str, ...]
    data_after: tuple[str, ...]
    data_added: tuple[str, ...]
    data_removed: tuple[str, ...]
