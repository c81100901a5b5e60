"""Collect validated records into one ``Batch``; the single write path's front door.

Every writer (SDK, CLI, GraphQL mutations, importers) builds records here, so validation,
id generation and reference resolution are written once. Each method validates its input
at once and raises ``InvalidInput`` naming the field; nothing reaches the graph until the
whole batch is written in one transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kb.domain import (
    Batch,
    DatasetRecord,
    DatasetVersionRecord,
    DeploymentRecord,
    ExperimentRecord,
    Label,
    ModelRecord,
    ModelVersionRecord,
    NoteRecord,
    OwnershipRecord,
    PersonRecord,
    Ref,
    RunRecord,
    RunSource,
    TeamRecord,
    parse_ref,
    validate,
)
from kb.domain.text import clean_name
from kb.errors import InvalidInput, NotFound
from kb.graph import Graph
from kb.graph.lookup import asset_labels

DatasetRef = tuple[str, str] | Mapping[str, Any] | str


def dataset_key(value: DatasetRef, field: str) -> dict[str, Any]:
    """Accept ``("customers", "2024-05")``, ``"customers@2024-05"`` or a mapping."""
    kind = type(value)
    if kind is tuple or kind is list:  # the common case, without ABC checks
        if len(value) == 2:
            return {"dataset": value[0], "version": value[1]}
        if len(value) == 3:
            return {"dataset": value[0], "version": value[1], "role": value[2]}
    elif kind is dict:
        return dict(value)
    if isinstance(value, str):
        name, sep, version = value.rpartition("@")
        if not sep:
            raise InvalidInput(field, "must name a dataset version as NAME@VERSION", value)
        return {"dataset": name, "version": version}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and len(value) in (2, 3):
        out = {"dataset": value[0], "version": value[1]}
        if len(value) == 3:
            out["role"] = value[2]
        return out
    raise InvalidInput(field, "must be (name, version), 'name@version' or a mapping", value)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _renamed(exc: InvalidInput, prefix: str, strip: str) -> InvalidInput:
    """Re-home a builder's field name (``run.params.lr.str``) under ``prefix``."""
    parts = exc.field.removeprefix(strip).split(".")
    if parts[0] in ("params", "metrics") and len(parts) > 2:
        parts = parts[:2]  # pydantic adds the union member it tried; the key is enough
    return InvalidInput(f"{prefix}.{'.'.join(parts)}", exc.problem, exc.value)


class BatchBuilder:
    """Accumulates records; ``batch()`` returns them as one immutable ``Batch``.

    ``source`` is the writer every run of the batch comes from (``kb.graph.run_sources``):
    a run that another source created refuses the batch unless it accepts this one.
    """

    def __init__(self, graph: Graph | None = None, *,
                 source: RunSource | str = RunSource.SDK) -> None:
        self._graph = graph
        self.source = RunSource(source)
        self._lists: dict[str, list[Any]] = {name: [] for name in Batch.model_fields}
        #: Deployment ids made up here; the write swaps each for the active deployment it
        #: repeats, if any, in its own transaction (``kb.graph.deployments.reuse_active``).
        self.made_up: set[str] = set()

    def __len__(self) -> int:
        return sum(len(items) for items in self._lists.values())

    def batch(self) -> Batch:
        return Batch.model_construct(**{k: tuple(v) for k, v in self._lists.items()})

    def extend(self, batch: Batch) -> None:
        """Add the records of ``batch``, validated already."""
        for name, items in self._lists.items():
            items.extend(getattr(batch, name))

    def clear(self) -> None:
        for items in self._lists.values():
            items.clear()
        self.made_up.clear()

    # -- people and teams -------------------------------------------------------------
    def team(self, name: str, *, description: str | None = None) -> TeamRecord:
        rec = validate(TeamRecord, _drop_none({"name": name, "description": description}),
                       prefix="team")
        self._lists["teams"].append(rec)
        return rec

    def person(self, handle: str, *, name: str | None = None, email: str | None = None,
               team: str | Iterable[str] | None = None, active: bool | None = None,
               left_at: datetime | str | None = None) -> PersonRecord:
        teams = [team] if isinstance(team, str) else list(team or [])
        rec = validate(PersonRecord, _drop_none({
            "handle": handle, "name": name, "email": email, "teams": teams, "active": active,
            "left_at": left_at}), prefix="person")
        self._lists["people"].append(rec)
        return rec

    # -- data ---------------------------------------------------------------------------
    def dataset(self, name: str, **fields: Any) -> DatasetRecord:
        rec = validate(DatasetRecord, _drop_none({"name": name, **fields}), prefix="dataset")
        self._lists["datasets"].append(rec)
        return rec

    def dataset_version(self, dataset: str, version: str, *,
                        derived_from: Iterable[DatasetRef] = (),
                        schema: Iterable[Mapping[str, Any] | str] | None = None,
                        **fields: Any) -> DatasetVersionRecord:
        data = _drop_none({"dataset": dataset, "version": version, **fields})
        data["derived_from"] = [dataset_key(d, f"dataset_version.derived_from.{i}")
                                for i, d in enumerate(derived_from)]
        if schema is not None:
            data["schema_fields"] = [{"name": f} if isinstance(f, str) else f for f in schema]
        rec = validate(DatasetVersionRecord, data, prefix="dataset_version")
        self._lists["dataset_versions"].append(rec)
        return rec

    # -- training -----------------------------------------------------------------------
    def experiment(self, name: str, *, description: str | None = None) -> ExperimentRecord:
        rec = validate(ExperimentRecord, _drop_none({"name": name, "description": description}),
                       prefix="experiment")
        self._lists["experiments"].append(rec)
        return rec

    def model(self, name: str, **fields: Any) -> ModelRecord:
        rec = validate(ModelRecord, _drop_none({"name": name, **fields}), prefix="model")
        self._lists["models"].append(rec)
        return rec

    def run(self, *, id: str | None = None, inputs: Iterable[DatasetRef] = (),
            outputs: Iterable[DatasetRef] = (), **fields: Any) -> RunRecord:
        """A run as a fact; ``inputs`` accept ``(name, version[, role])`` tuples.

        ``accept`` lists the other sources that may write this run too (when this
        writer creates it); the run's own source is the builder's, never a field.
        """
        if fields.get("source") is not None:
            raise InvalidInput("run.source", f"is the writer's ({self.source.value}), "
                               "not a field of the run; use accept to let others write it",
                               fields["source"])
        data = _drop_none({"id": id or uuid.uuid4().hex, **fields, "source": self.source})
        data["inputs"] = [dataset_key(d, f"run.inputs.{i}") for i, d in enumerate(inputs)]
        data["dataset_outputs"] = [dataset_key(d, f"run.outputs.{i}")
                                   for i, d in enumerate(outputs)]
        rec = validate(RunRecord, data, prefix="run")
        self._lists["runs"].append(rec)
        return rec

    def run_with_models(self, *, models: Iterable[Any] | None = None, where: str | None = None,
                        **fields: Any) -> tuple[RunRecord, list[ModelVersionRecord]]:
        """A run (``run``'s fields) and the model versions it produced, each given as
        ``{"model": "churn", "version"?: ..., "aliases"?: [...], ...}``.

        With ``where`` (``runs[0]``), a bad field is named under it (``runs[0].params.lr``,
        ``runs[0].models[1].aliases``), as a file of many runs needs.
        """
        try:
            run = self.run(**fields)
        except (InvalidInput, TypeError) as exc:
            if where is None:
                raise
            if isinstance(exc, TypeError):  # a field the run does not have
                raise InvalidInput(where, str(exc)) from None
            raise _renamed(exc, where, "run.") from None
        versions = []
        for j, spec in enumerate(models or []):
            at = f"models[{j}]" if where is None else f"{where}.models[{j}]"
            if not isinstance(spec, Mapping) or "model" not in spec:
                raise InvalidInput(f"{at}.model", "is required", spec)
            spec = dict(spec)
            try:
                versions.append(self.model_version(spec.pop("model"), run_id=run.id, **spec))
            except InvalidInput as exc:
                if where is None:
                    raise
                raise _renamed(exc, at, "model_version.") from None
        return run, versions

    def model_version(self, model: str, *, version: str | int | None = None,
                      run_id: str | None = None, aliases: Iterable[str] = (),
                      **fields: Any) -> ModelVersionRecord:
        rec = validate(ModelVersionRecord, _drop_none({
            "model": model, "version": None if version is None else str(version),
            "run_id": run_id, "aliases": list(aliases), **fields}), prefix="model_version")
        self._lists["model_versions"].append(rec)
        return rec

    # -- production -----------------------------------------------------------------------
    def deploy(self, model: str, version: str | int, *, environment: str,
               by: str | None = None, endpoint: str | None = None, id: str | None = None,
               deployed_at: datetime | str | None = None) -> DeploymentRecord:
        data = _drop_none({"id": id or "pending", "model": model, "version": str(version),
                           "environment": environment, "deployed_by": by,
                           "endpoint": endpoint,
                           "deployed_at": deployed_at or datetime.now(UTC)})
        rec = validate(DeploymentRecord, data, prefix="deploy")
        if id is None:
            rec = rec.model_copy(update={"id": f"dep-{uuid.uuid4().hex[:12]}"})
            self.made_up.add(rec.id)
        self._lists["deployments"].append(rec)
        return rec

    def retire(self, deployment_id: str) -> None:
        if not isinstance(deployment_id, str):
            raise InvalidInput("deployment", "must be a deployment id", deployment_id)
        try:
            self._lists["retirements"].append(clean_name(deployment_id))
        except ValueError as exc:
            raise InvalidInput("deployment", str(exc), deployment_id) from None

    # -- collaboration --------------------------------------------------------------------
    def own(self, asset: str, *, owner: str, role: str = "owner",
            since: datetime | str | None = None, transfer_from: str | None = None
            ) -> OwnershipRecord:
        data = _drop_none({
            "asset": self.resolve_asset(asset),
            "owner": parse_ref(owner, default="person", field="owner"),
            "role": role, "since": since,
            "transfer_from": None if transfer_from is None else parse_ref(
                transfer_from, default="person", field="from"),
        })
        rec = validate(OwnershipRecord, data, prefix="own")
        self._lists["ownerships"].append(rec)
        return rec

    def note(self, about: str, body: str, *, by: str | None = None,
             created_at: datetime | str | None = None) -> NoteRecord:
        target = parse_ref(about, default="model", field="about")
        digest = hashlib.sha256(f"{target}\0{by or ''}\0{body}".encode()).hexdigest()[:16]
        rec = validate(NoteRecord, _drop_none({
            "id": f"note-{digest}", "about": target, "author": by, "body": body,
            "created_at": created_at}), prefix="note")
        self._lists["notes"].append(rec)
        return rec

    def resolve_asset(self, asset: str) -> Ref:
        """``model:churn`` as written; a bare name is the model, dataset, experiment or
        deployment of that name, in that order."""
        if ":" in asset.split("@", 1)[0]:
            ref = parse_ref(asset, field="asset")
            if ref.label not in (Label.MODEL, Label.DATASET, Label.EXPERIMENT,
                                 Label.DEPLOYMENT):
                raise InvalidInput("asset", "only models, datasets, experiments and "
                                   "deployments can be owned", asset)
            return ref
        if self._graph is None:
            return parse_ref(asset, default="model", field="asset")
        # Read before the write's transaction, which is safe: kb never deletes an entity,
        # and the write checks again that the resolved one exists.
        labels = self._graph.read(asset_labels, asset)
        if not labels:
            raise NotFound("asset", asset)
        return Ref(labels[0], asset)
