"""Import an MLflow tracking store (file store, SQLite or a tracking server) through MLflow's
own client, so every backend MLflow can read works here too.

What becomes what:

* experiment -> Experiment of the same name;
* run -> Run ``mlflow:<run_id>`` (kind ``training``): its user -> Person (the part of an
  e-mail address before ``@``), params, the latest value of each metric, status
  (FINISHED -> COMPLETED, FAILED, KILLED -> ABORTED, else RUNNING), start and end times,
  tag ``mlflow.source.git.commit`` with ``mlflow.source.git.repoURL`` and
  ``mlflow.source.git.branch`` -> commit (none without a repository URL),
  ``mlflow.source.name`` -> command, and a link to the run in the MLflow UI when its address
  is known (the tracking URI is a server, or ``ui_url`` is given), else none;
* dataset inputs -> DatasetVersion ``<name>@<digest>`` with the digest and source kept,
  role from the ``mlflow.data.context`` tag (training/train -> train,
  validation/eval/evaluation -> validation, testing/test -> test, else other), linked ``USED``;
* registered model versions -> ModelVersion with MLflow's version number, source URI and
  the registered model's aliases that point at it, ``PRODUCED`` by their source run when that
  run is in kb.

A run a training script marked as one of kb's own (``kb.run(mlflow_run_id=...)``, which
names the kb run ``mlflow:<run_id>``, or the MLflow tag ``kb.run_id`` naming the kb run)
is merged into that run instead: MLflow's params, metrics, dataset inputs and link are
added, its status and end are taken while the kb run has none of its own, and its
registered versions are ``PRODUCED`` by it; its person and experiment stay kb's (one
run, one trainer). ``users`` (``--user-map``) names the kb person of an MLflow user.

The store is only read: MLflow opens a copy of a local store, and a SQL store of another
MLflow schema is refused (see ``kb.ingest.mlflow_readonly``).

Ids are MLflow's own, so importing again writes the same facts and changes nothing.
``since`` keeps runs started or ended at or after it, and model versions created or
updated at or after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from queue import Empty, Queue
from typing import Any

from kb.domain import RunSource
from kb.errors import InvalidInput, NotFound
from kb.graph import Graph
from kb.graph.openlineage_state import run_states
from kb.graph.run_sources import run_owners

from .builder import BatchBuilder
from .client import Client
from .collector import collector_paused
from .mlflow_readonly import read_only_uris
from .mlflow_users import mapped

log = logging.getLogger(__name__)

RUN_PREFIX = "mlflow:"
#: The MLflow tag a training script sets to the id of its ``kb.run``.
MARK_TAG = "kb.run_id"
MISSING_EXTRA = "is not installed; run: pip install '.[mlflow]'"
PAGE = 1000
_TRACKING_ENV = "MLFLOW_TRACKING_URI"
_STATUS = {"FINISHED": "COMPLETED", "FAILED": "FAILED", "KILLED": "ABORTED"}
_ROLE = {"training": "train", "train": "train", "validation": "validation",
         "eval": "validation", "evaluation": "validation", "testing": "test", "test": "test"}
_HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-+]*")


def run_key(mlflow_run_id: str) -> str:
    return f"{RUN_PREFIX}{mlflow_run_id}"


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def person_handle(user: str | None) -> str | None:
    """``alice@corp.com`` -> ``alice``; names that cannot be a login name are dropped."""
    if not user:
        return None
    handle = user.strip().split("@", 1)[0]
    return handle if _HANDLE.fullmatch(handle) else None


def person_of(user: str | None, users: Mapping[str, str] | None) -> str | None:
    """The kb person of an MLflow user: as ``users`` maps it, else ``person_handle``."""
    return mapped(users or {}, user) or person_handle(user)


def dataset_uri(source: str | None) -> str | None:
    """MLflow stores a dataset's source as JSON (``{"url": ...}``, ``{"uri": ...}``...)."""
    if not source:
        return None
    try:
        parsed = json.loads(source)
    except ValueError:
        return source
    if isinstance(parsed, dict):
        for key in ("url", "uri", "path", "table_name", "location"):
            if isinstance(parsed.get(key), str):
                return parsed[key]
    return source


def _version_text(value: str) -> str:
    return value.strip().replace("@", "%40")


def _is_http(uri: str) -> bool:
    return uri.lower().startswith(("http://", "https://"))


def ui_base(tracking_uri: str, ui_url: str | None = None) -> str | None:
    """The MLflow UI's address: ``ui_url``, else a tracking server's, else unknown."""
    if ui_url is not None:
        if not _is_http(ui_url) or not ui_url.split("://", 1)[1].strip("/"):
            raise InvalidInput("--ui-url", "must be the MLflow UI's http(s) address, like "
                               "http://mlflow.example.com:5000", ui_url)
        return ui_url.rstrip("/")
    return tracking_uri.rstrip("/") if _is_http(tracking_uri) else None


def role(context: str | None) -> str:
    """kb's input role for an MLflow dataset context."""
    return _ROLE.get((context or "").strip().lower(), "other")


def run_fields(run: Any, experiment: str, base: str | None,
               users: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The keyword arguments of ``BatchBuilder.run`` for one MLflow run."""
    info, data = run.info, run.data
    tags: dict[str, str] = dict(data.tags)
    source = tags.get("mlflow.source.name")
    commit = tags.get("mlflow.source.git.commit")
    repo = tags.get("mlflow.source.git.repoURL")
    inputs = []
    for item in getattr(run.inputs, "dataset_inputs", None) or []:
        ds = item.dataset
        context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), None)
        inputs.append({"dataset": ds.name, "version": _version_text(ds.digest or "unversioned"),
                       "role": role(context)})
    link = f"{base}/#/experiments/{info.experiment_id}/runs/{info.run_id}" if base else None
    fields: dict[str, Any] = {
        "id": run_key(info.run_id),
        "name": info.run_name or tags.get("mlflow.runName"),
        "kind": "training",
        "experiment": experiment,
        "person": person_of(tags.get("mlflow.user") or info.user_id, users),
        "status": _STATUS.get(info.status, "RUNNING"),
        "started_at": _time(info.start_time),
        "ended_at": _time(info.end_time),
        "params": dict(data.params),
        "metrics": {k: float(v) for k, v in data.metrics.items()
                    if v == v and abs(v) != float("inf")},
        "command": source if source and source != "-" else None,
        "tracker_url": link,
        "inputs": [(i["dataset"], i["version"], i["role"]) for i in inputs],
    }
    if commit and repo and repo != "-":
        fields["code"] = {"repo": repo, "commit": _version_text(commit),
                          "branch": tags.get("mlflow.source.git.branch")}
    return fields


def dataset_versions(run: Any) -> Iterator[dict[str, Any]]:
    for item in getattr(run.inputs, "dataset_inputs", None) or []:
        ds = item.dataset
        yield {"dataset": ds.name, "version": _version_text(ds.digest or "unversioned"),
               "digest": ds.digest or None, "uri": dataset_uri(ds.source)}


_FINISHED = ("COMPLETED", "FAILED", "ABORTED")


@dataclass
class Target:
    """Where one MLflow run goes: ``fields`` for ``BatchBuilder.run`` (None: nothing to
    write now, ``why`` says why), into the kb run ``kb_id``."""

    run: Any
    kb_id: str
    fields: dict[str, Any] | None
    marked: bool = False
    #: The kb run's own status when it is marked; None for the importer's runs.
    kb_status: str | None = None
    why: str | None = None


def target_id(run: Any) -> tuple[str, bool]:
    """The kb run an MLflow run goes to, and whether a script marked it as its own."""
    tag = (dict(run.data.tags).get(MARK_TAG) or "").strip()
    return (tag, True) if tag else (run_key(run.info.run_id), False)


def merged_fields(fields: dict[str, Any], kb_id: str, own: dict[str, Any]) -> dict[str, Any]:
    """What an MLflow run adds to the kb run ``kb_id`` it was marked as (``own``: that
    run's current state): its params and metrics beside the kb run's (the kb run's win),
    its inputs and link, and its status and end only while the kb run has not finished.
    No person and no experiment: those are the kb run's."""
    finished = own["status"] in _FINISHED
    return {
        "id": kb_id, "kind": None,
        "params": {**fields["params"], **own["params"]},
        "metrics": {**fields["metrics"], **own["metrics"]},
        "status": own["status"] if finished else fields["status"],
        "ended_at": own["ended_at"] if finished else fields["ended_at"],
        "tracker_url": fields["tracker_url"], "inputs": fields["inputs"],
    }


def targets(graph: Graph, runs: list[Any], names: Mapping[str, str], base: str | None,
            users: Mapping[str, str] | None = None) -> list[Target]:
    """Each run's kb run and what to write there, looked up in one read."""
    ids = [target_id(run) for run in runs]
    owners = run_owners(graph, [kb_id for kb_id, _ in ids])
    found = []
    for run, (kb_id, tagged) in zip(runs, ids, strict=True):
        fields = run_fields(run, names[run.info.experiment_id], base, users)
        own = owners.get(kb_id)
        if own is None and tagged:
            found.append(Target(run, kb_id, None, True, why=(
                f"run {run.info.run_id} is marked as kb run {kb_id!r}, which is not in kb "
                "yet")))
        elif own is None or own["source"] in (None, RunSource.MLFLOW.value):
            found.append(Target(run, kb_id, fields))
        elif RunSource.MLFLOW.value not in own["accepts"]:
            found.append(Target(run, kb_id, None, True, own["status"], why=(
                f"run {run.info.run_id}: kb run {kb_id!r} was created by {own['source']} and "
                "does not accept mlflow (kb.run(..., mlflow_run_id=...) or accept=['mlflow'])")))
        else:
            found.append(Target(run, kb_id, merged_fields(fields, kb_id, own), True,
                                own["status"]))
    return found


def add_run(b: BatchBuilder, target: Target) -> None:
    """Add one target's run (and the dataset versions it used) to ``b``."""
    assert target.fields is not None
    for dv in dataset_versions(target.run):
        b.dataset_version(dv.pop("dataset"), dv.pop("version"), **dv)
    b.run(**target.fields)


@dataclass
class ImportResult:
    experiments: int = 0
    runs: int = 0
    model_versions: int = 0
    skipped: list[str] = field(default_factory=list)


@contextlib.contextmanager
def default_tracking_uri(tracking_uri: str) -> Iterator[None]:
    """Make ``tracking_uri`` MLflow's process-wide default for the duration.

    MLflow's file registry store reads each model version's logged model through a client
    built with the default URI, not the store's (an MLflow TODO); left unset, that default
    is ``sqlite:///mlflow.db``, which MLflow creates in the working directory, and a default
    naming the store being imported would have MLflow open that store itself.
    """
    previous = os.environ.get(_TRACKING_ENV)
    os.environ[_TRACKING_ENV] = tracking_uri
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_TRACKING_ENV, None)
        else:
            os.environ[_TRACKING_ENV] = previous


def mlflow_client(tracking_uri: str, registry_uri: str | None = None) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise InvalidInput("mlflow", MISSING_EXTRA) from exc
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)


def _experiments(client: Any, names: Iterable[str]) -> list[Any]:
    wanted = list(names)
    if not wanted:
        return list(_pages(lambda token: client.search_experiments(
            max_results=PAGE, page_token=token)))
    found = []
    for name in wanted:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise NotFound("MLflow experiment", name)
        found.append(exp)
    return found


def _pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    token = None
    while True:
        with collector_paused():  # see kb.ingest.collector: MLflow pages
            page = fetch(token)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _runs(client: Any, experiment_ids: list[str], since: datetime | None) -> Iterator[Any]:
    filters = [""] if since is None else [f"attributes.start_time >= {_ms(since)}",
                                          f"attributes.end_time >= {_ms(since)}"]
    seen: set[str] = set()
    for text in filters:
        for run in _pages(lambda token, text=text: client.search_runs(
                experiment_ids, filter_string=text, max_results=PAGE, page_token=token,
                order_by=["attributes.start_time ASC"])):
            if run.info.run_id not in seen:
                seen.add(run.info.run_id)
                yield run


_DONE = object()


def _read_ahead(chunks: Iterator[list[Any]], depth: int = 2) -> Iterator[list[Any]]:
    """Yield ``chunks`` as a reader thread fetches them, up to ``depth`` ahead.

    Reading the store (MLflow's client: files, YAML, SQL) and writing the graph (mostly
    waiting on Neo4j) then overlap instead of taking turns. The reader's errors are
    raised here, in the caller's thread.
    """
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                queue.put(chunk)
            queue.put(_DONE)
        except BaseException as exc:  # handed over to the caller
            queue.put(exc)

    thread = threading.Thread(target=read, name="mlflow-reader", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get_nowait()
            thread.join(timeout=0.05)


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_mlflow(graph: Graph, tracking_uri: str, *, actor: str,
                  experiments: Iterable[str] = (), since: datetime | None = None,
                  registry_uri: str | None = None, ui_url: str | None = None,
                  users: Mapping[str, str] | None = None, batch_size: int = PAGE,
                  progress: Callable[[int, int | None], None] | None = None) -> ImportResult:
    """Read the store and write it in batches of ``batch_size`` runs per transaction.

    The store is never written (see ``kb.ingest.mlflow_readonly``). ``ui_url`` is the
    MLflow UI's address, for links to runs when the tracking URI is not a server. The next
    batch is read while the previous one is written. ``progress(done, total)`` is called
    after each batch (total is None until known).
    """
    base = ui_base(tracking_uri, ui_url)
    with (read_only_uris(tracking_uri, registry_uri) as (tracking, registry),
          default_tracking_uri(tracking)):
        return _import(graph, tracking, actor=actor, experiments=experiments, since=since,
                       registry_uri=registry, base=base, users=users,
                       batch_size=batch_size, progress=progress)


def _import(graph: Graph, tracking_uri: str, *, actor: str, experiments: Iterable[str],
            since: datetime | None, registry_uri: str, base: str | None,
            users: Mapping[str, str] | None, batch_size: int,
            progress: Callable[[int, int | None], None] | None) -> ImportResult:
    client = mlflow_client(tracking_uri, registry_uri)
    writer = Client(graph, actor=actor, source=RunSource.MLFLOW)
    result = ImportResult()
    exps = _experiments(client, experiments)
    names = {e.experiment_id: e.name for e in exps}
    b = writer.builder()
    for exp in exps:
        b.experiment(exp.name, description=(exp.tags or {}).get("mlflow.note.content"))
    result.experiments = len(exps)
    imported: dict[str, str] = {}
    for chunk in _read_ahead(_chunked(_runs(client, list(names), since), batch_size)):
        for target in targets(graph, chunk, names, base, users):
            if target.fields is None:
                result.skipped.append(target.why or target.kb_id)
                continue
            add_run(b, target)
            imported[target.run.info.run_id] = target.kb_id
        writer.write(b)
        b.clear()
        result.runs += len(chunk)
        if progress is not None:
            progress(result.runs, None)
    result.model_versions = _models(client, b, graph, imported, since, result)
    writer.write(b)
    if progress is not None:
        progress(result.runs, result.runs)
    return result


def _models(client: Any, b: BatchBuilder, graph: Graph, imported: dict[str, str],
            since: datetime | None, result: ImportResult) -> int:
    """Add every registered model version; link it to its run when kb has that run."""
    versions = []
    aliases: dict[tuple[str, str], list[str]] = {}
    for model in _pages(lambda token: client.search_registered_models(
            max_results=PAGE, page_token=token)):
        b.model(model.name, description=model.description or None)
        # Versions found by search carry no aliases in SQL stores; the model read by name
        # carries them in every store.
        named = client.get_registered_model(model.name)
        for alias, version in sorted((named.aliases or {}).items()):
            aliases.setdefault((model.name, str(version)), []).append(alias)
        versions.extend(_pages(lambda token, name=model.name: client.search_model_versions(
            f"name='{name}'", max_results=PAGE, page_token=token)))
    if since is not None:
        cut = _ms(since)
        versions = [v for v in versions
                    if max(v.creation_timestamp or 0, v.last_updated_timestamp or 0) >= cut]
    run_ids = [run_key(v.run_id) for v in versions if v.run_id and v.run_id not in imported]
    known = set(run_states(graph, run_ids)) if run_ids else set()
    known |= set(imported.values())
    for v in versions:
        run_id = (imported.get(v.run_id) or run_key(v.run_id)) if v.run_id else None
        if run_id is not None and run_id not in known:
            result.skipped.append(f"{v.name} v{v.version}: run {v.run_id} is not in kb")
            run_id = None
        b.model_version(v.name, version=str(v.version), run_id=run_id,
                        aliases=sorted({*aliases.get((v.name, str(v.version)), ()),
                                        *(getattr(v, "aliases", None) or ())}),
                        uri=v.source or None, description=v.description or None,
                        created_at=_time(v.creation_timestamp))
    return len(versions)
