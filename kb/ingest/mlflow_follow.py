"""Mirror an MLflow store live: ``kb import mlflow --once`` / ``--follow``.

Each pass reads, through MLflow's public client, only what may have changed since the last
one, and writes only what did:

* runs started since the latest start seen (``attributes.start_time >=`` it, less a minute
  for clocks that disagree; runs already written and unchanged are not written again);
* runs the cursor holds open, read again by id (``attributes.run_id IN (...)``) until
  they finish: a run still RUNNING, or merged into a kb run that is still running. So a
  status that changes, and the metrics logged meanwhile, come in at the next pass;
* registered models whose ``last_updated_timestamp`` or aliases changed, and of those only
  the versions that are new, updated, or gained an alias (the alias moves to them in kb).

The cursor is JSON text on ``(:KbMeta {id: 'mlflow:<store>'})`` (``kb.graph.import_cursors``),
saved after the pass's writes commit: a pass cut short is read again, idempotently, by the
next, so a restart continues without reading everything again and without losing what
changed meanwhile. The first pass, without a cursor, reads the whole store.

Read-only as the plain import: every pass reads a fresh copy of a local store
(``kb.ingest.mlflow_readonly``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kb.domain import RunSource
from kb.graph import Graph, import_cursors
from kb.graph.openlineage_state import run_states

from .client import Client
from .mlflow_import import (
    PAGE,
    Target,
    _experiments,
    _pages,
    _time,
    add_run,
    default_tracking_uri,
    mlflow_client,
    run_key,
    targets,
    ui_base,
)
from .mlflow_readonly import read_only_uris

#: Runs started this long before the latest start seen are read again: another machine's
#: clock may be behind, and its runs would otherwise fall behind the cursor.
SKEW_MS = 60_000
#: A run this young and still RUNNING waits a pass, so that a script that marks it as its
#: kb run (kb.run(mlflow_run_id=...)) has written that run before the importer looks.
SETTLE_MS = 30_000
_IDS_PER_READ = 100
_RUN_ID = re.compile(r"[0-9A-Za-z_\-]+")
STATE_VERSION = 1
_OPEN = ("RUNNING", "SCHEDULED")


@dataclass
class PassResult:
    """What one pass read and wrote."""

    first: bool = False
    experiments: int = 0
    runs_read: int = 0
    new_runs: int = 0
    changed_runs: int = 0
    waiting: int = 0
    models_read: int = 0
    versions_read: int = 0
    model_versions: int = 0
    alias_moves: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.experiments + self.new_runs + self.changed_runs + self.model_versions

    def line(self) -> str:
        """One short line: what came in."""
        parts = [f"{n} {what}" for n, what in (
            (self.experiments, "new experiments"), (self.new_runs, "new runs"),
            (self.changed_runs, "runs changed"), (self.model_versions, "model versions"),
            (self.alias_moves, "alias moves"), (self.waiting, "runs waiting")) if n]
        return ", ".join(parts) if parts else "nothing new"


def cursor_id(tracking_uri: str, registry_uri: str | None, experiments: Iterable[str]
              ) -> tuple[str, str]:
    """The cursor's id (a digest: a database URI may carry a password) and the text it
    shows of what it follows."""
    names = sorted(set(experiments))
    shown = _shown(tracking_uri)
    if registry_uri and registry_uri != tracking_uri:
        shown += f" registry {_shown(registry_uri)}"
    if names:
        shown += " experiments " + ",".join(names)
    whole = "\x1f".join([tracking_uri, registry_uri or tracking_uri, *names])
    return f"mlflow:{hashlib.sha256(whole.encode()).hexdigest()[:24]}", shown


def _shown(uri: str) -> str:
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return uri


def _fresh() -> dict[str, Any]:
    return {"version": STATE_VERSION, "started": None, "recent": {}, "open": {},
            "experiments": [], "models": {}, "marked": {}}


def follow_pass(graph: Graph, tracking_uri: str, *, actor: str,
                experiments: Iterable[str] = (), registry_uri: str | None = None,
                ui_url: str | None = None, users: Mapping[str, str] | None = None,
                batch_size: int = PAGE, now: datetime | None = None,
                progress: Callable[[int], None] | None = None) -> PassResult:
    """One pass from the cursor (the whole store the first time); saves the cursor."""
    names = list(experiments)
    base = ui_base(tracking_uri, ui_url)
    key, shown = cursor_id(tracking_uri, registry_uri, names)
    state = import_cursors.load(graph, key)
    result = PassResult(first=state is None)
    if state is None or state.get("version") != STATE_VERSION:
        state = _fresh()
    with (read_only_uris(tracking_uri, registry_uri) as (tracking, registry),
          default_tracking_uri(tracking)):
        client = mlflow_client(tracking, registry)
        writer = Client(graph, actor=actor, source=RunSource.MLFLOW)
        now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        Pass(graph, client, writer, state, result, base, users, batch_size, now_ms,
             progress, lambda: import_cursors.save(graph, key, state, source=shown)
             ).run(names)
    import_cursors.save(graph, key, state, source=shown)
    return result


def forget_cursor(graph: Graph, tracking_uri: str, registry_uri: str | None = None,
                  experiments: Iterable[str] = ()) -> None:
    """Drop the cursor of this store: the next pass reads it whole again."""
    import_cursors.drop(graph, cursor_id(tracking_uri, registry_uri, experiments)[0])


def _fingerprint(target: Target) -> str:
    text = json.dumps([target.kb_id, target.fields, target.kb_status], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Pass:
    """One pass's reads and writes; ``state`` is updated in place."""

    def __init__(self, graph: Graph, client: Any, writer: Client, state: dict[str, Any],
                 result: PassResult, base: str | None, users: Mapping[str, str] | None,
                 batch_size: int, now_ms: int,
                 progress: Callable[[int], None] | None,
                 checkpoint: Callable[[], None]) -> None:
        self.graph, self.client, self.writer = graph, client, writer
        self.state, self.result, self.base, self.users = state, result, base, users
        self.batch_size, self.now_ms, self.progress = batch_size, now_ms, progress
        #: Saves the cursor as it stands: after each batch of runs, so that a long first
        #: pass cut short resumes from its last batch rather than from the start.
        self.checkpoint = checkpoint
        #: MLflow run id -> kb run id, for the model versions of this pass.
        self.placed: dict[str, str] = {}

    def run(self, experiment_names: list[str]) -> None:
        exps = _experiments(self.client, experiment_names)
        names = {e.experiment_id: e.name for e in exps}
        known = set(self.state["experiments"])
        b = self.writer.builder()
        for exp in exps:
            if exp.experiment_id not in known:
                b.experiment(exp.name, description=(exp.tags or {}).get("mlflow.note.content"))
                self.result.experiments += 1
        self.writer.write(b)
        self.state["experiments"] = sorted(names)
        if names:
            self._runs(names)
        self._models()

    # -- runs ----------------------------------------------------------------------------
    def _read_runs(self, experiment_ids: list[str]) -> Iterator[Any]:
        seen: set[str] = set()
        started = self.state["started"]
        text = "" if started is None else f"attributes.start_time >= {started - SKEW_MS}"
        for run in _pages(lambda token: self.client.search_runs(
                experiment_ids, filter_string=text, max_results=PAGE, page_token=token,
                order_by=["attributes.start_time ASC"])):
            seen.add(run.info.run_id)
            yield run
        still = sorted(r for r in self.state["open"] if r not in seen and _RUN_ID.fullmatch(r))
        for i in range(0, len(still), _IDS_PER_READ):
            ids = ", ".join(f"'{r}'" for r in still[i:i + _IDS_PER_READ])
            yield from _pages(lambda token, ids=ids: self.client.search_runs(
                experiment_ids, filter_string=f"attributes.run_id IN ({ids})",
                max_results=PAGE, page_token=token))
        # An open run no longer found was deleted in MLflow (or its experiment left the
        # filter): nothing more will come of it.
        for run_id in still:
            if run_id not in self._reread:
                self.state["open"].pop(run_id, None)

    def _runs(self, names: dict[str, str]) -> None:
        self._reread: set[str] = set()
        reads = self._read_runs(sorted(names))
        chunk: list[Any] = []
        for run in reads:
            self._reread.add(run.info.run_id)
            chunk.append(run)
            if len(chunk) >= self.batch_size:
                self._write_runs(chunk, names)
                chunk = []
        if chunk:
            self._write_runs(chunk, names)

    def _prune(self) -> None:
        """Forget the runs the next pass's start filter will not read again."""
        horizon = (self.state["started"] or 0) - SKEW_MS
        self.state["recent"] = {r: v for r, v in self.state["recent"].items()
                                if v[0] >= horizon}

    def _write_runs(self, chunk: list[Any], names: dict[str, str]) -> None:
        result, state = self.result, self.state
        result.runs_read += len(chunk)
        b = self.writer.builder()
        for target in targets(self.graph, chunk, names, self.base, self.users):
            info = target.run.info
            run_id, start = info.run_id, info.start_time or 0
            state["started"] = max(state["started"] or 0, start)
            young = info.status in _OPEN and start > self.now_ms - SETTLE_MS
            if target.fields is None or (young and not target.marked):
                # Not writable yet (its kb run is missing or refuses the importer), or
                # too young to tell whether a script marks it: looked at next pass.
                state["open"][run_id] = ""
                result.waiting += 1
                if target.why and target.why not in result.skipped:
                    result.skipped.append(target.why)
                continue
            self.placed[run_id] = target.kb_id
            if target.marked:
                state["marked"][run_id] = target.kb_id
            mark = _fingerprint(target)
            before = state["open"].get(run_id) or (state["recent"].get(run_id) or [0, None])[1]
            if before != mark:
                add_run(b, target)
                if state["open"].get(run_id) or run_id in state["recent"]:
                    result.changed_runs += 1
                else:
                    result.new_runs += 1
            # A marked run stays open while either side runs: MLflow may still log to
            # it, and the kb run's own end may still replace what was merged.
            running = (info.status in _OPEN or target.fields.get("status") == "RUNNING"
                       or target.kb_status == "RUNNING")
            if running:
                state["open"][run_id] = mark
            else:
                state["open"].pop(run_id, None)
            state["recent"][run_id] = [start, mark]
        self.writer.write(b)
        # Runs are read oldest start first, so everything before the cursor is written.
        self._prune()
        self.checkpoint()
        if self.progress is not None:
            self.progress(len(chunk))

    # -- registered models ---------------------------------------------------------------
    def _models(self) -> None:
        result, models = self.result, self.state["models"]
        present: set[str] = set()
        b = self.writer.builder()
        for model in _pages(lambda token: self.client.search_registered_models(
                max_results=PAGE, page_token=token)):
            result.models_read += 1
            present.add(model.name)
            aliases = {a: str(v) for a, v in (model.aliases or {}).items()}
            before = models.get(model.name)
            if (before is not None and before["updated"] == model.last_updated_timestamp
                    and before["aliases"] == aliases and not before["pending"]
                    and before.get("description") == (model.description or None)):
                continue
            models[model.name] = self._versions(b, model, aliases, before)
        for name in set(models) - present:
            del models[name]  # deleted in MLflow; kb keeps what it had
        self.writer.write(b)

    def _versions(self, b: Any, model: Any, aliases: dict[str, str],
                  before: dict[str, Any] | None) -> dict[str, Any]:
        result = self.result
        seen = dict((before or {}).get("versions", {}))
        old_aliases = (before or {}).get("aliases", {})
        pending = set((before or {}).get("pending", []))
        if before is None or before.get("description") != (model.description or None):
            b.model(model.name, description=model.description or None)
        versions = list(_pages(lambda token: self.client.search_model_versions(
            f"name='{model.name}'", max_results=PAGE, page_token=token)))
        result.versions_read += len(versions)
        held: dict[str, list[str]] = {}
        for alias, version in sorted(aliases.items()):
            held.setdefault(version, []).append(alias)
        wanted = [v for v in versions
                  if seen.get(str(v.version)) != v.last_updated_timestamp
                  or str(v.version) in pending
                  or any(old_aliases.get(a) != str(v.version)
                         for a in held.get(str(v.version), ()))]
        runs = self._run_ids([v.run_id for v in wanted if v.run_id])
        still: list[str] = []
        for v in wanted:
            number = str(v.version)
            run_id = runs.get(v.run_id) if v.run_id else None
            if v.run_id and run_id is None:
                result.skipped.append(f"{v.name} v{number}: run {v.run_id} is not in kb")
                still.append(number)
            b.model_version(v.name, version=number, run_id=run_id,
                            aliases=held.get(number, []), uri=v.source or None,
                            description=v.description or None,
                            created_at=_time(v.creation_timestamp))
            result.model_versions += 1
            seen[number] = v.last_updated_timestamp
        result.alias_moves += sum(1 for a, v in aliases.items() if old_aliases.get(a) != v)
        return {"updated": model.last_updated_timestamp, "aliases": aliases,
                "description": model.description or None, "versions": seen,
                "pending": sorted(still)}

    def _run_ids(self, mlflow_ids: list[str]) -> dict[str, str]:
        """MLflow run id -> the kb run its versions are linked to, for runs kb has."""
        found = {r: self.placed[r] for r in mlflow_ids if r in self.placed}
        marked = self.state["marked"]
        rest = {r: marked.get(r, run_key(r)) for r in mlflow_ids if r not in found}
        known = set(run_states(self.graph, list(rest.values()))) if rest else set()
        found.update({r: kb_id for r, kb_id in rest.items() if kb_id in known})
        return found
