"""The module-level SDK behind ``import kb``: one default ``Client`` per process.

It connects on first use from the environment (``KB_NEO4J_URI``... or the local Neo4j
that ``kb up`` started), or from what ``kb.connect(...)`` was given.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kb.config import Config
from kb.domain import DeploymentRecord, ModelVersionRecord, NoteRecord, OwnershipRecord
from kb.graph import Graph

from . import capture
from .builder import BatchBuilder, DatasetRef
from .client import Client
from .run import ActiveRun

_lock = threading.Lock()
_client: Client | None = None


def connect(config: Config | None = None, *, uri: str | None = None, user: str = "neo4j",
            password: str | None = None, database: str = "neo4j",
            actor: str | None = None) -> Client:
    """Bind the SDK to a graph; without arguments, to what the environment names."""
    global _client
    config = config or Config.from_env()
    if uri is not None:
        graph = Graph.connect(uri, user, password or "", database=database)
    else:
        from kb.localdb import resolve

        conn = resolve(config, start=True)
        graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    graph.ensure_schema()
    person = actor or config.actor
    client = Client(graph, actor=capture.current_person(person), default_person=person)
    with _lock:
        old, _client = _client, client
    if old is not None:
        old.graph.close()
    return client


def client() -> Client:
    with _lock:
        current = _client
    return current if current is not None else connect()


def close() -> None:
    global _client
    with _lock:
        old, _client = _client, None
    if old is not None:
        old.graph.close()


atexit.register(close)


def person(handle: str, *, name: str | None = None, email: str | None = None,
           team: str | Iterable[str] | None = None, active: bool | None = None,
           left_at: Any = None) -> None:
    client().person(handle, name=name, email=email, team=team, active=active, left_at=left_at)


def team(name: str, *, description: str | None = None) -> None:
    client().team(name, description=description)


def dataset(name: str, **fields: Any) -> None:
    client().dataset(name, **fields)


def dataset_version(dataset: str, version: str, *, uri: str | None = None,
                    digest: str | None = None, derived_from: Iterable[DatasetRef] = (),
                    **fields: Any) -> None:
    client().dataset_version(dataset, version, uri=uri, digest=digest,
                             derived_from=derived_from, **fields)


def experiment(name: str, *, description: str | None = None) -> None:
    client().experiment(name, description=description)


def model(name: str, **fields: Any) -> None:
    client().model(name, **fields)


def run(*, experiment: str | None = None, person: str | None = None,
        params: Mapping[str, Any] | None = None, inputs: Iterable[DatasetRef] = (),
        seed: int | None = None, name: str | None = None, id: str | None = None,
        capture_env: bool = True, tracker_url: str | None = None,
        parent: str | None = None, accept: Iterable[str] = (),
        mlflow_run_id: str | None = None) -> ActiveRun:
    """Record a run as it happens: ``with kb.run(...) as run: ...``.

    ``accept`` names the other sources (``"openlineage"``, ``"cli"``, ``"api"``,
    ``"mlflow"``) whose writes to this run id merge into it; any other is refused.
    ``mlflow_run_id`` (``mlflow.active_run().info.run_id``) marks the block as that MLflow
    run: ``kb import mlflow`` then merges MLflow's params, metrics, inputs and model
    versions into this run, keeping its person as the one trainer.
    """
    return ActiveRun(client(), experiment=experiment, person=person, params=params,
                     inputs=inputs, seed=seed, name=name, id=id, capture_env=capture_env,
                     tracker_url=tracker_url, parent=parent, accept=accept,
                     mlflow_run_id=mlflow_run_id)


def log_run(**fields: Any) -> tuple[str, list[ModelVersionRecord]]:
    """Record a finished run (for example from another tracker) in one call."""
    return client().log_run(**fields)


def register_model(model: str, **fields: Any) -> ModelVersionRecord:
    return client().register_model(model, **fields)


def deploy(model: str, version: str | int, *, environment: str, by: str | None = None,
           endpoint: str | None = None, id: str | None = None) -> DeploymentRecord:
    return client().deploy(model, version, environment=environment, by=by,
                           endpoint=endpoint, id=id)


def retire(deployment_id: str) -> None:
    client().retire(deployment_id)


def own(asset: str, *, owner: str, role: str = "owner") -> OwnershipRecord:
    return client().own(asset, owner=owner, role=role)


def transfer(asset: str, *, to: str, from_: str, role: str = "owner") -> OwnershipRecord:
    return client().transfer(asset, to=to, from_=from_, role=role)


def note(about: str, body: str, *, by: str | None = None) -> NoteRecord:
    return client().note(about, body, by=by)


@contextmanager
def batch() -> Iterator[BatchBuilder]:
    """Many writes, one transaction: ``with kb.batch() as b: b.person(...); b.run(...)``."""
    with client().batch() as builder:
        yield builder


