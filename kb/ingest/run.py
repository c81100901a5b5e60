"""``kb.run(...)``: a training run recorded as it happens.

The run is written as RUNNING when the block starts (so it is visible at once), and
completed with its metrics, outputs and model versions when the block ends. If the block
raises, the run is recorded as FAILED with the error, no model version is registered, and
the error propagates unchanged.

A run id is the SDK's: another source (an OpenLineage producer, say) that sends events
for the same id is refused, unless the run was opened to it with ``accept``.

``mlflow_run_id`` says the block is also that MLflow run: the kb run is named
``mlflow:<run_id>`` and accepts the MLflow importer, which then merges MLflow's params,
metrics, inputs and model versions into it instead of adding a run (and a trainer) of its
own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from kb.domain import RunStatus
from kb.domain.text import escape_text
from kb.errors import InvalidInput, KbError

from . import capture
from .builder import DatasetRef
from .client import Client


def _run_id(given: str | None, mlflow_run_id: str | None) -> str:
    """The run's id: as given, ``mlflow:<run id>`` for a marked MLflow run, else new."""
    if mlflow_run_id is None:
        return given or uuid.uuid4().hex
    mlflow_run_id = str(mlflow_run_id).strip()
    if not mlflow_run_id:
        raise InvalidInput("mlflow_run_id", "must be the MLflow run's id, like "
                           "mlflow.active_run().info.run_id", mlflow_run_id)
    # The MLflow importer's own name for that run, so both writers meet on one key.
    marked = f"mlflow:{mlflow_run_id}"
    if given is not None and given != marked:
        raise InvalidInput("id", f"give either id or mlflow_run_id (the run is then "
                           f"{marked!r}); to keep an id of your own, set the MLflow tag "
                           "kb.run_id to it instead", given)
    return marked


class ModelVersionHandle:
    """A model version registered by a run; its number exists once the run completes."""

    def __init__(self, model: str, version: str | None, fields: dict[str, Any]) -> None:
        self.model = model
        self._version = version
        self.fields = fields

    @property
    def version(self) -> str:
        if self._version is None:
            raise KbError(f"model {self.model!r}: the version number is assigned when the "
                          "run block ends successfully; read it after the `with` block")
        return self._version

    def __repr__(self) -> str:
        return f"ModelVersionHandle({self.model!r}, version={self._version!r})"


class ActiveRun:
    def __init__(self, client: Client, *, experiment: str | None, person: str | None,
                 params: Mapping[str, Any] | None, inputs: Iterable[DatasetRef],
                 seed: int | None, name: str | None, id: str | None, capture_env: bool,
                 tracker_url: str | None, parent: str | None,
                 accept: Iterable[str] = (), mlflow_run_id: str | None = None) -> None:
        self.client = client
        self.id = _run_id(id, mlflow_run_id)
        self.experiment = experiment
        self.person = capture.current_person(person or client.default_person)
        self.params: dict[str, Any] = dict(params or {})
        self.metrics: dict[str, float] = {}
        self.inputs: list[DatasetRef] = list(inputs)
        self.outputs: list[DatasetRef] = []
        self.models: list[ModelVersionHandle] = []
        self.seed = seed
        self.name = name
        self.tracker_url = tracker_url
        self.parent = parent
        self.accept = tuple(accept)
        if mlflow_run_id is not None and "mlflow" not in self.accept:
            self.accept += ("mlflow",)
        self.started_at = datetime.now(UTC)
        self.command = capture.command_line()
        self.code = capture.code_version() if capture_env else None
        self.environment = capture.environment() if capture_env else None
        self.status = RunStatus.RUNNING

    # -- what the training script calls --------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        self.params.update(params)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Latest value per metric wins; curves belong in the team's tracker."""
        self.metrics.update(metrics)

    def log_input(self, dataset: str, version: str, role: str = "other") -> None:
        self.inputs.append((dataset, version, role))

    def log_output(self, dataset: str, version: str) -> None:
        self.outputs.append((dataset, version))

    def register_model(self, model: str, *, version: str | int | None = None,
                       **fields: Any) -> ModelVersionHandle:
        """A new version of ``model``, numbered when the run completes (or as given)."""
        handle = ModelVersionHandle(model, None if version is None else str(version), fields)
        # Validate now, so a bad name fails inside the block rather than at the end.
        self.client.builder().model_version(model, version=version, run_id=self.id, **fields)
        self.models.append(handle)
        return handle

    # -- writing -------------------------------------------------------------------------
    def _record(self, error: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "experiment": self.experiment,
            "person": self.person, "status": self.status.value,
            "started_at": self.started_at,
            "ended_at": None if self.status is RunStatus.RUNNING else datetime.now(UTC),
            "params": self.params, "metrics": self.metrics, "command": self.command,
            "seed": self.seed, "tracker_url": self.tracker_url, "parent": self.parent,
            "error": error, "code": self.code, "environment": self.environment,
            "inputs": self.inputs, "outputs": self.outputs, "accept": self.accept,
        }

    def __enter__(self) -> ActiveRun:
        b = self.client.builder()
        b.run(**self._record())
        self.client.write(b)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        b = self.client.builder()
        if exc is None:
            self.status = RunStatus.COMPLETED
            b.run_with_models(models=[{**handle.fields, "model": handle.model,
                                       "version": handle._version} for handle in self.models],
                              **self._record())
        else:
            self.status = (RunStatus.ABORTED if isinstance(exc, KeyboardInterrupt)
                           else RunStatus.FAILED)
            # The error's text is whatever the exception says: escaped, so that recording
            # the failure cannot fail in its turn and hide the caller's error.
            b.run(**self._record(error=escape_text(f"{exc_type.__name__}: {exc}", 2000)))
        result = self.client.write(b)
        assigned = iter(result.model_versions)
        for handle in self.models if exc is None else []:
            _, version, _ = next(assigned)
            handle._version = version

