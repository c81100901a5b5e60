"""OpenLineage run events into the graph, the way Airflow, Spark and dbt send them.

Validation: every event is checked against ``schemas/openlineage-run-event.json`` (the
spec's RunEvent, relaxed so that older 1.x events and unknown custom facets pass) and its
times are parsed; the first problem becomes an ``InvalidInput`` naming the field. A list of
events is validated whole before anything is written, and written in one transaction.

Mapping (documented in the README too):

* job ``(namespace, name)`` -> Experiment ``"<namespace>/<name>"``, or just ``name`` when
  the namespace is ``default``; run ``runId`` -> Run with that id, kind ``pipeline``,
  and no name of its own: OpenLineage names the job, not the run, and the job's name
  on each of its runs would only repeat the experiment in search (and cost a full-text
  index update per run).
* dataset ``(namespace, name)`` -> Dataset named by the same rule; its version is the
  ``version`` facet's ``datasetVersion`` when the producer gives one, else
  ``UNVERSIONED`` -- the producer did not tell versions apart, so neither can kb, and one
  stable version keeps runs that write and runs that read the dataset connected.
  Inputs are ``USED`` (role ``other``), outputs ``PRODUCED``.
* ``schema`` facet -> the version's schema; ``dataSource.uri`` -> its uri;
  ``documentation`` -> the dataset's or experiment's description.
* ``ownership`` facets (job or dataset) -> owners: ``user:alice`` -> person ``alice``,
  ``team:vision`` -> team ``vision``; other owner kinds are skipped.
* ``errorMessage`` -> the run's error (cut to ``limits.SHORT_TEXT`` characters) and a
  Note about the run (the message and up to ``MAX_STACK`` characters of the stack
  trace); control characters in them are kept as ``\\uXXXX`` escapes, so that a
  coloured log line does not cost the event.
* ``executionParameters`` (and Spark's ``spark_properties``) -> the run's params.
* job ``sourceCodeLocation`` (``repoUrl`` or ``url``, ``version``, ``branch``) -> commit.
* ``parent`` -> the run is a child of the parent run; ``nominalTime`` -> start/end when
  no START/terminal event gave them.
* producer URI and the time of the event that set the status are kept on the Run.

Names (job and dataset namespaces and names, dataset versions, run ids) follow
``kb.domain.text``: NFC-normalised, and an event whose name holds an invisible, control or
bidirectional character, or is too long, is refused naming the event's field. Every other
value meets the same record validation as the SDK's, checked on each event before
anything is written. An event whose nominal end precedes its nominal start is refused.

Sources: a run is created by one source (``kb.graph.run_sources``). Events whose
``runId`` names a run that another source created (an SDK run) are refused with a
``Conflict`` naming ``run.id`` and both sources, unless that run's creator accepted
``openlineage``; then the events merge into it as into a run of their own.

Merging: producers retry (duplicates) and send out of order, so every run keeps a merge
state in which each fact is a max or min over the events seen -- status from the latest
status event (ties: START < RUNNING < COMPLETE < ABORT < FAIL), start from the earliest
START/RUNNING, end from the latest COMPLETE/ABORT/FAIL, each param from its latest event.
Folding is commutative and idempotent, so the end state depends only on the set of events.
Events from different clocks can put the latest end before the earliest start: the run is
then taken to start when it ended (a run cannot end before it starts, and the order the
events arrive in must not matter).
Read-merge-write is serialised per run inside this process; run one API process per
lineage endpoint, or accept that two processes racing on one run may drop a param.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from kb.domain import Batch, RunSource, RunStatus, limits
from kb.domain.text import TooLong, clean_name, escape_text
from kb.errors import InvalidInput
from kb.graph import Graph
from kb.graph.openlineage_state import C, checked_merge_write, merge_write
from kb.graph.tokens import Token

from .builder import BatchBuilder
from .client import Client
from .times import parse_time

log = logging.getLogger(__name__)

SCHEMA_FILE = "openlineage-run-event.json"
DEFAULT_NAMESPACE = "default"
UNVERSIONED = "unversioned"
RUN_KIND = "pipeline"
_STATUS = {
    "START": (0, RunStatus.RUNNING),
    "RUNNING": (1, RunStatus.RUNNING),
    "COMPLETE": (2, RunStatus.COMPLETED),
    "ABORT": (3, RunStatus.ABORTED),
    "FAIL": (4, RunStatus.FAILED),
}
_TERMINAL = ("COMPLETE", "ABORT", "FAIL")
_STRIPES = [threading.Lock() for _ in range(64)]
MAX_STACK = 20_000


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("kb.ingest").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    """The reference validator: slow, but its ``best_match`` names the field at fault."""
    return Draft202012Validator(_schema())


@lru_cache(maxsize=1)
def _is_valid() -> Callable[[Any], bool]:
    """A compiled check (``jsonschema_rs``, far faster) for the common, valid case.

    It checks the same draft with formats as annotations, exactly as the reference
    validator does; a refusal is always explained by the reference validator.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - the reference validator alone still works
        validator = _validator()
        return lambda raw: validator.is_valid(raw)
    return jsonschema_rs.Draft202012Validator(_schema(), validate_formats=False).is_valid


def stamp(value: datetime) -> str:
    """A UTC time as fixed-width text, so that string order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def qualified(namespace: str, name: str) -> str:
    """The kb name of a job or dataset: ``namespace/name``, or ``name`` in ``default``."""
    namespace, name = namespace.strip(), name.strip()
    return name if namespace == DEFAULT_NAMESPACE else f"{namespace}/{name}"


def _version(value: str) -> str:
    return value.strip().replace("@", "%40") or UNVERSIONED


def _name(value: str, field: str) -> str:
    """``value`` as a kb name (``kb.domain.text.clean_name``); ``InvalidInput`` names
    the event's ``field``."""
    try:
        return clean_name(value)
    except TooLong as exc:
        raise InvalidInput(field, str(exc)) from None
    except ValueError as exc:
        raise InvalidInput(field, str(exc), value) from None


def _qualified_name(item: dict[str, Any], field: str) -> str:
    """The kb name of a job or dataset ``item``, its namespace and name checked apart."""
    _name(item["namespace"], f"{field}.namespace")
    _name(item["name"], f"{field}.name")
    return _name(qualified(item["namespace"], item["name"]), f"{field}.name")


def _check_names(raw: dict[str, Any], prefix: str) -> None:
    """Refuse the event when a dataset's name or version is not a kb name."""
    for side in ("inputs", "outputs"):
        for i, item in enumerate(raw.get(side) or []):
            where = f"{prefix}.{side}[{i}]"
            _qualified_name(item, where)
            version = ((item.get("facets") or {}).get("version") or {}).get("datasetVersion")
            if version:
                _name(_version(version), f"{where}.facets.version.datasetVersion")
    parent = (raw["run"].get("facets") or {}).get("parent")
    if parent:
        _name(parent["run"]["runId"], f"{prefix}.run.facets.parent.run.runId")


@dataclass(frozen=True)
class Facts:
    """The records one event makes besides its run, and the dataset versions it names."""

    records: Batch
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Event:
    """One validated run event, with its times parsed."""

    raw: dict[str, Any]
    event_type: str
    event_time: datetime
    run_id: str
    experiment: str
    producer: str
    nominal_start: datetime | None = None
    nominal_end: datetime | None = None
    #: What the event says besides its run, validated by ``parse_event``.
    facts: Facts | None = field(default=None, compare=False, repr=False)

    @property
    def run_facets(self) -> dict[str, Any]:
        return self.raw["run"].get("facets") or {}

    @property
    def job_facets(self) -> dict[str, Any]:
        return self.raw["job"].get("facets") or {}


def parse_event(raw: Any, prefix: str = "event") -> Event:
    """Validate one decoded event; raises ``InvalidInput`` naming the first bad field."""
    if not isinstance(raw, dict):
        raise InvalidInput(prefix, "must be a JSON object (an OpenLineage run event)",
                           type(raw).__name__)
    error = None if _is_valid()(raw) else best_match(_validator().iter_errors(raw))
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        raise InvalidInput(f"{prefix}.{path}" if path else prefix, error.message)
    event_type = raw.get("eventType") or "OTHER"
    event_time = parse_time(raw["eventTime"], f"{prefix}.eventTime")
    nominal = (raw["run"].get("facets") or {}).get("nominalTime") or {}
    start = end = None
    if nominal:
        start = parse_time(nominal["nominalStartTime"],
                           f"{prefix}.run.facets.nominalTime.nominalStartTime")
        if nominal.get("nominalEndTime"):
            end = parse_time(nominal["nominalEndTime"],
                             f"{prefix}.run.facets.nominalTime.nominalEndTime")
            if end < start:
                raise InvalidInput(f"{prefix}.run.facets.nominalTime.nominalEndTime",
                                   "must not be before nominalStartTime "
                                   f"({nominal['nominalStartTime']})", nominal["nominalEndTime"])
    if not raw["run"]["runId"].strip():
        # A blank id would become a fresh random run on every delivery.
        raise InvalidInput(f"{prefix}.run.runId", "must not be blank", raw["run"]["runId"])
    run_id = _name(raw["run"]["runId"], f"{prefix}.run.runId")
    experiment = _qualified_name(raw["job"], f"{prefix}.job")
    _check_names(raw, prefix)
    event = Event(raw=raw, event_type=event_type, event_time=event_time, run_id=run_id,
                  experiment=experiment, producer=raw["producer"], nominal_start=start,
                  nominal_end=end)
    try:
        # Every record the event makes, validated now (a description too large refuses
        # the event before any write) and kept for the write; the run alone is built
        # again there, merged with the run's other events.
        facts = event_facts(event)
        BatchBuilder(None, source=RunSource.OPENLINEAGE).run(
            inputs=facts.inputs, outputs=facts.outputs,
            **run_fields(event.run_id, fold({}, event)))
    except InvalidInput as exc:
        raise InvalidInput(f"{prefix}: {exc.field}", exc.problem, exc.value) from None
    return replace(event, facts=facts)


def parse_events(raws: Sequence[Any], prefix: str = "events") -> list[Event]:
    return [parse_event(raw, f"{prefix}[{i}]") for i, raw in enumerate(raws)]


# -- merge state: every entry is a max or a min, so folding commutes ----------------------
def _max(state: dict[str, Any], key: str, value: list[Any]) -> None:
    current = state.get(key)
    if current is None or value > current:
        state[key] = value


def _min(state: dict[str, Any], key: str, value: list[Any]) -> None:
    current = state.get(key)
    if current is None or value < current:
        state[key] = value


def _params(facets: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    spark = facets.get("spark_properties")
    if isinstance(spark, dict) and isinstance(spark.get("properties"), dict):
        out.update({str(k): v for k, v in spark["properties"].items()
                    if isinstance(v, str | int | float | bool)})
    execution = facets.get("executionParameters") or {}
    for item in execution.get("parameters") or []:
        out[item["key"]] = item.get("value")
    return out


def fold(state: dict[str, Any], event: Event) -> dict[str, Any]:
    """Merge one event into a run's merge state (in place) and return it."""
    when = stamp(event.event_time)
    if event.event_type in _STATUS:
        rank, status = _STATUS[event.event_type]
        _max(state, "status", [when, rank, status.value])
    if event.event_type in ("START", "RUNNING"):
        _min(state, "start", [0, when])
    elif event.nominal_start is not None:
        _min(state, "start", [1, stamp(event.nominal_start)])
    if event.event_type in _TERMINAL:
        _max(state, "end", [1, when])
    elif event.nominal_end is not None:
        _max(state, "end", [0, stamp(event.nominal_end)])
    _max(state, "producer", [when, event.producer])
    _max(state, "experiment", [when, event.experiment])
    params = state.setdefault("params", {})
    for key, value in _params(event.run_facets).items():
        candidate = [when, json.dumps(value, sort_keys=True)]
        if key not in params or candidate > params[key]:
            params[key] = candidate
    facets = event.run_facets
    if facets.get("errorMessage"):
        _max(state, "error", [when, facets["errorMessage"]["message"]])
    parent = facets.get("parent")
    if parent:
        _max(state, "parent", [when, parent["run"]["runId"].strip()])
    code = event.job_facets.get("sourceCodeLocation") or {}
    repo = code.get("repoUrl") or code.get("url")
    if repo and code.get("version"):
        _max(state, "code", [when, repo, code["version"], code.get("branch") or ""])
    return state


def _time(text: str | None) -> datetime | None:
    # The states' own canonical format, which fromisoformat reads far faster than strptime.
    return None if text is None else datetime.fromisoformat(text)


def run_fields(run_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The Run as the merge state says it is now."""
    status = state.get("status")
    start, end = state.get("start"), state.get("end")
    started, ended = (start[1] if start else None), (end[1] if end else None)
    if started is not None and ended is not None and ended < started:
        started = ended  # see "Merging" above; the stamps sort as times
    code = state.get("code")
    fields: dict[str, Any] = {
        "id": run_id,
        "kind": RUN_KIND,
        "experiment": state["experiment"][1],
        "status": status[2] if status else RunStatus.RUNNING.value,
        "event_time": _time(status[0]) if status else None,
        "started_at": _time(started),
        "ended_at": _time(ended),
        "producer": state["producer"][1],
        "params": {k: json.loads(v[1]) for k, v in sorted(state.get("params", {}).items())},
        "error": _error(state["error"][1]) if state.get("error") else None,
        "parent": state["parent"][1] if state.get("parent") else None,
        "merge_state": json.dumps(state, sort_keys=True, separators=(",", ":")),
    }
    if code:
        fields["code"] = {"repo": code[1], "commit": _version(code[2]), "branch": code[3] or None}
    return fields


def _error(message: str) -> str:
    return escape_text(message, limits.SHORT_TEXT)


# -- datasets, owners, notes ----------------------------------------------------------------
def dataset_ref(item: dict[str, Any]) -> tuple[str, str]:
    facets = item.get("facets") or {}
    version = (facets.get("version") or {}).get("datasetVersion")
    return qualified(item["namespace"], item["name"]), _version(version or UNVERSIONED)


def _owner_ref(name: str) -> str | None:
    kind, sep, who = name.strip().partition(":")
    if not sep:
        kind, who = "user", kind
    who = who.split("@", 1)[0].strip()
    if not who:
        return None
    if kind.lower() in ("user", "person"):
        return f"person:{who}"
    if kind.lower() in ("team", "group"):
        return f"team:{who}"
    return None


def _own(b: BatchBuilder, asset: str, facet: dict[str, Any] | None, since: datetime) -> None:
    for owner in (facet or {}).get("owners") or []:
        ref = _owner_ref(owner["name"])
        if ref is None:
            log.debug("owner %r is not a user: or team: name; skipped", owner["name"])
            continue
        role = (owner.get("type") or "owner").strip().lower() or "owner"
        try:
            b.own(asset, owner=ref, role=role, since=since)
        except InvalidInput as exc:
            log.info("owner %r of %s skipped: %s", owner["name"], asset, exc.message)


def _add_datasets(b: BatchBuilder, event: Event) -> tuple[list[tuple[str, str]],
                                                          list[tuple[str, str]]]:
    refs: dict[str, list[tuple[str, str]]] = {"inputs": [], "outputs": []}
    for side in ("inputs", "outputs"):
        for item in event.raw.get(side) or []:
            name, version = dataset_ref(item)
            refs[side].append((name, version))
            facets = item.get("facets") or {}
            doc = (facets.get("documentation") or {}).get("description")
            if doc:
                b.dataset(name, description=doc)
            schema = facets.get("schema")
            uri = (facets.get("dataSource") or {}).get("uri")
            if schema is not None or uri:
                fields = None if schema is None else [
                    {k: f[k] for k in ("name", "type", "description") if f.get(k)}
                    for f in schema.get("fields") or []]
                b.dataset_version(name, version, schema=fields, uri=uri or None)
            _own(b, f"dataset:{name}", facets.get("ownership"), event.event_time)
    return refs["inputs"], refs["outputs"]


def _note_body(facet: dict[str, Any]) -> str:
    body = f"**Run failed:** {escape_text(facet['message'], limits.LONG_TEXT)}"
    if facet.get("stackTrace"):
        lang = escape_text((facet.get("programmingLanguage") or "").lower(), 40)
        body += f"\n\n```{lang}\n{escape_text(facet['stackTrace'], MAX_STACK)}\n```"
    return body


# -- the write --------------------------------------------------------------------------
@dataclass
class IngestResult:
    events: int = 0
    runs: int = 0
    run_ids: list[str] = field(default_factory=list)


@contextmanager
def _locked(run_ids: Iterable[str]) -> Iterator[None]:
    stripes = sorted({int(hashlib.blake2b(r.encode(), digest_size=4).hexdigest(), 16)
                      % len(_STRIPES) for r in run_ids})
    for i in stripes:
        _STRIPES[i].acquire()
    try:
        yield
    finally:
        for i in reversed(stripes):
            _STRIPES[i].release()


def build(b: BatchBuilder, events: Sequence[Event], existing: dict[str, str | None]
          ) -> list[str]:
    """Add the records for ``events`` merged into the runs' existing states; returns run ids."""
    states: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.run_id not in states:
            known = existing.get(event.run_id)
            states[event.run_id] = json.loads(known) if known else {}
        fold(states[event.run_id], event)
    inputs: dict[str, dict[tuple[str, str], None]] = {r: {} for r in states}
    outputs: dict[str, dict[tuple[str, str], None]] = {r: {} for r in states}
    for event in events:
        facts = event.facts or event_facts(event)
        b.extend(facts.records)
        inputs[event.run_id].update(dict.fromkeys(facts.inputs))
        outputs[event.run_id].update(dict.fromkeys(facts.outputs))
    for run_id, state in states.items():
        b.run(inputs=list(inputs[run_id]), outputs=list(outputs[run_id]),
              **run_fields(run_id, state))
    return list(states)


def event_facts(event: Event) -> Facts:
    """The datasets, experiment description, owners and failure note of one event."""
    b = BatchBuilder(None, source=RunSource.OPENLINEAGE)
    ins, outs = _add_datasets(b, event)
    doc = (event.job_facets.get("documentation") or {}).get("description")
    if doc:
        b.experiment(event.experiment, description=doc)
    _own(b, f"experiment:{event.experiment}", event.job_facets.get("ownership"),
         event.event_time)
    failure = event.run_facets.get("errorMessage")
    if failure:
        b.note(f"run:{event.run_id}", _note_body(failure), created_at=event.event_time)
    return Facts(b.batch(), tuple(ins), tuple(outs))


def _plain_experiments_first(b: BatchBuilder, events: Sequence[Event]) -> None:
    # Ownership of an experiment is resolved against the graph or this batch; make sure
    # the experiment is in the batch before the owners name it.
    for name in dict.fromkeys(e.experiment for e in events):
        b.experiment(name)


def _batch_for(events: Sequence[Event]) -> Callable[[dict[str, str | None]], Batch]:
    def batch_for(existing: dict[str, str | None]) -> Batch:
        b = BatchBuilder(None, source=RunSource.OPENLINEAGE)
        _plain_experiments_first(b, events)
        build(b, events, existing)
        return b.batch()

    return batch_for


def write_events(client: Client, events: Sequence[Event]) -> IngestResult:
    """Merge validated events into the graph in one transaction."""
    if not events:
        return IngestResult()
    ids = list(dict.fromkeys(e.run_id for e in events))
    with _locked(ids):
        merge_write(client.graph, ids, _batch_for(events), actor=client.actor,
                    now=datetime.now(UTC), source=RunSource.OPENLINEAGE.value)
    return IngestResult(events=len(events), runs=len(ids), run_ids=ids)


def write_events_checked(graph: Graph, events: Sequence[Event], token_hash: str,
                         check: Callable[[Token | None], C]) -> tuple[IngestResult, C]:
    """``write_events`` for a caller known by a token hash, judged by the writing transaction.

    ``check`` turns the token (None when unknown) into the caller, or raises to refuse.
    Returns the result and the caller.
    """
    ids = list(dict.fromkeys(e.run_id for e in events))
    with _locked(ids):
        caller = checked_merge_write(graph, token_hash, sorted(ids), _batch_for(events),
                                     check, now=datetime.now(UTC),
                                     source=RunSource.OPENLINEAGE.value)
    return IngestResult(events=len(events), runs=len(ids), run_ids=ids), caller


def read_jsonl(path: Path) -> list[Event]:
    """Every event of a JSON Lines file, validated before anything is written."""
    events: list[Event] = []
    with path.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path.name}:{number}", f"is not JSON: {exc}") from None
            events.append(parse_event(raw, f"{path.name}:{number}"))
    return events


def ingest_file(graph: Graph, path: Path, *, actor: str, chunk: int = 1000,
                progress: Callable[[int], None] | None = None) -> IngestResult:
    """Replay a JSON Lines file of run events, ``chunk`` events per transaction."""
    events = read_jsonl(path)
    client = Client(graph, actor=actor)
    total = IngestResult()
    for start in range(0, len(events), chunk):
        part = write_events(client, events[start:start + chunk])
        total.events += part.events
        total.run_ids.extend(r for r in part.run_ids if r not in total.run_ids)
        if progress is not None:
            progress(part.events)
    total.runs = len(total.run_ids)
    return total
