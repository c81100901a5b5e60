"""kb CLI: the writes — people, teams, datasets, runs, models, deployments, ownership, notes.

Every command mirrors an SDK call and writes through ``kb.ingest.Client``, stamped with
the actor from ``KB_USER`` or else git's user or the OS login. Bad input exits with code 2
and one line naming the field; nothing is written.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from kb.errors import InvalidInput

from .app import JSON_OPTION, QUIET_OPTION, app, console, emit, get_config, open_graph, warn
from .ask import ENTITY_HELP

person_app = typer.Typer(help="People: who they are, which team, when they left.",
                         no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets and their versions.", no_args_is_help=True)
run_app = typer.Typer(help="Runs: training and data pipeline runs.", no_args_is_help=True)
model_app = typer.Typer(help="Models and their versions.", no_args_is_help=True)
app.add_typer(person_app, name="person")
app.add_typer(team_app, name="team")
app.add_typer(dataset_app, name="dataset")
app.add_typer(run_app, name="run")
app.add_typer(model_app, name="model")


@contextlib.contextmanager
def client() -> Iterator[Any]:
    """A write client on the configured graph, closed afterwards."""
    from kb.ingest import Client
    from kb.ingest.capture import current_person

    config = get_config()
    graph = open_graph(config)
    actor = current_person(config.actor)
    try:
        yield Client(graph, actor=actor, default_person=actor, source="cli")
    finally:
        graph.close()


def warn_undescribed(graph: Any, handles: list[str | None]) -> None:
    """A warning per person the write named who has neither name nor email: created in
    passing, or a typo for someone who is described."""
    from kb.graph.search import undescribed

    for handle in undescribed(graph, [h for h in handles if h]):
        warn(f"person {handle!r} is new and has no name or email: "
             f"`kb person add {handle} --name ... --email ...`")


def _person_of(owner: Any) -> str | None:
    text = str(owner)
    return text.removeprefix("person:") if text.startswith("person:") else None


def _done(data: dict[str, Any], as_json: bool, message: str) -> None:
    emit(data, as_json, lambda _: console.print(message, highlight=False))


def _split(text: str, field: str) -> tuple[str, str]:
    name, sep, version = text.rpartition("@")
    if not sep or not name.strip() or not version.strip():
        raise InvalidInput(field, "expected NAME@VERSION", text)
    return name, version


# -- people and teams ---------------------------------------------------------------------
@person_app.command("add")
def person_add(
    handle: str = typer.Argument(..., help="Short handle, e.g. alice."),
    name: str = typer.Option(None, "--name", help="Full name."),
    email: str = typer.Option(None, "--email"),
    team: Annotated[list[str] | None, typer.Option("--team", help="A team (repeatable).")
                    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a person (again: only what changed is written)."""
    with client() as c:
        c.person(handle, name=name, email=email, team=team or None)
    _done({"person": handle, "teams": team or []}, as_json, f"recorded person:{handle}")


@person_app.command("leave")
def person_leave(
    handle: str = typer.Argument(...),
    at: Annotated[datetime | None, typer.Option("--at", help="When they left (default: now).")
                  ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Mark a person as gone: their work stays, flagged as nobody's any more."""
    from kb.domain import Label, Ref
    from kb.errors import NotFound
    from kb.graph import exists

    left = at or datetime.now(UTC)
    with client() as c:
        if not exists(c.graph, Ref(Label.PERSON, handle)):
            raise NotFound("person", handle)
        c.person(handle, active=False, left_at=left)
    _done({"person": handle, "left_at": left}, as_json, f"person:{handle} has left")


@team_app.command("add")
def team_add(
    name: str = typer.Argument(...),
    description: str = typer.Option(None, "--description"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a team."""
    with client() as c:
        c.team(name, description=description)
    _done({"team": name}, as_json, f"recorded team:{name}")


# -- data ---------------------------------------------------------------------------------
@dataset_app.command("add")
def dataset_add(
    ref: str = typer.Argument(..., metavar="NAME@VERSION"),
    uri: str = typer.Option(None, "--uri", help="Where the bytes live."),
    digest: str = typer.Option(None, "--digest", help="Content digest, e.g. sha256:..."),
    rows: int = typer.Option(None, "--rows"),
    derived_from: Annotated[list[str] | None, typer.Option(
        "--derived-from", metavar="NAME@VERSION", help="A source version (repeatable).")
    ] = None,
    digest_of: Annotated[Path | None, typer.Option(
        "--digest-of", help="Compute --digest from a file or folder.")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a dataset version, where it lives, its digest and what it was derived from."""
    from kb.ingest import content_digest

    name, version = _split(ref, "dataset")
    if digest_of is not None:
        if digest is not None:
            raise InvalidInput("--digest-of", "give --digest or --digest-of, not both")
        digest = content_digest(digest_of)
    sources = [_split(s, f"--derived-from.{i}") for i, s in enumerate(derived_from or [])]
    with client() as c:
        c.dataset_version(name, version, uri=uri, digest=digest, rows=rows,
                          derived_from=sources)
    _done({"dataset": name, "version": version, "digest": digest,
           "derived_from": [f"{n}@{v}" for n, v in sources]}, as_json,
          f"recorded dataset:{name}@{version}" + (f" ({digest})" if digest else ""))


# -- runs and models ----------------------------------------------------------------------
def _load_runs(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput("file", f"cannot be read: {exc.strerror}", str(path)) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput("file", f"is not JSON: {exc.msg} at line {exc.lineno}",
                           str(path)) from None
    runs = data if isinstance(data, list) else [data]
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise InvalidInput(f"runs[{i}]", "must be a JSON object", run)
    return runs


def _inputs(items: Any, where: str) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInput(where, "must be a list of {dataset, version, role} or "
                           "'name@version'", items)
    return items


@run_app.command("log")
def run_log(
    file: Annotated[Path, typer.Argument(help="A JSON object or list of runs.")],
    as_json: bool = JSON_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Record finished runs from FILE, all in one transaction (all or nothing).

    Each run has the fields id, name, experiment, person, status, started_at, ended_at,
    params, metrics, command, seed, tracker_url, error, parent, kind, inputs
    ([{"dataset", "version", "role"}] or ["name@version"]), outputs, code
    ({repo, commit, branch, dirty}), environment, accept (the other sources, such as
    ["openlineage"], whose writes to this run id merge into it; any other is refused),
    and optional "models": [{"model": "churn", "version"?: ..., "aliases"?: [...]}].
    """
    runs = _load_runs(file)
    with client() as c:
        b = c.builder()
        for i, spec in enumerate(runs):
            spec = dict(spec)
            where = f"runs[{i}]"
            models = spec.pop("models", None) or []
            if not isinstance(models, list):
                raise InvalidInput(f"{where}.models", "must be a list", models)
            spec["inputs"] = _inputs(spec.get("inputs"), f"{where}.inputs")
            spec["outputs"] = _inputs(spec.get("outputs"), f"{where}.outputs")
            spec.setdefault("person", c.default_person)
            b.run_with_models(models=models, where=where, **spec)
        ids = [r.id for r in b.batch().runs]
        result = c.write(b)
        warn_undescribed(c.graph, [r.get("person") for r in runs
                                   if isinstance(r.get("person"), str)])
    versions = [{"model": m, "version": v, "run": r} for m, v, r in result.model_versions]
    _done({"runs": ids, "model_versions": versions}, as_json,
          f"recorded {len(ids)} run(s)" + "".join(
              f"; {v['model']}@{v['version']} from run:{v['run']}" for v in versions))


@model_app.command("register")
def model_register(
    model: str = typer.Argument(...),
    version: str = typer.Option(None, "--version", help="Default: the next number."),
    run: str = typer.Option(None, "--run", help="The run that produced it."),
    alias: Annotated[list[str] | None, typer.Option(
        "--alias", help="An alias such as champion (repeatable; moves from any other version).")
    ] = None,
    uri: str = typer.Option(None, "--uri", help="Where the artifact lives."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a version of MODEL, numbered 1, 2, 3... unless --version is given."""
    with client() as c:
        rec = c.register_model(model, version=version, run_id=run, aliases=alias or [],
                               uri=uri)
    _done({"model": rec.model, "version": rec.version, "run": rec.run_id}, as_json,
          f"registered model:{rec.model}@{rec.version}")


# -- production ---------------------------------------------------------------------------
@app.command("deploy")
def deploy_cmd(
    ref: str = typer.Argument(..., metavar="MODEL@VERSION"),
    env: str = typer.Option(..., "--env", "--environment", help="e.g. staging, production."),
    by: str = typer.Option(None, "--by", help="Who deployed (default: you)."),
    endpoint: str = typer.Option(None, "--endpoint", help="Where it answers."),
    as_json: bool = JSON_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Record a deployment; the version it replaces in that environment is retired.

    A first deployment to an environment, or one by a person nobody described, is written
    with a warning on stderr (a typo such as ``prd`` would otherwise start an environment
    of its own)."""
    from kb.graph.production import environments

    model, version = _split(ref.removeprefix("model:"), "model")
    with client() as c:
        known = environments(c.graph)
        rec = c.deploy(model, version, environment=env, by=by or c.default_person,
                       endpoint=endpoint)
        if rec.environment not in known:
            warn(f"new environment {rec.environment!r}; existing: "
                 f"{', '.join(known) or 'none yet'}")
        warn_undescribed(c.graph, [by])
    _done({"id": rec.id, "model": rec.model, "version": rec.version,
           "environment": rec.environment, "deployed_by": rec.deployed_by}, as_json,
          f"deployed {rec.model}@{rec.version} to {rec.environment} (deployment:{rec.id})")


@app.command("retire")
def retire_cmd(
    deployment: str = typer.Argument(..., metavar="DEPLOYMENT_ID"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Retire a deployment; it stays in the history."""
    with client() as c:
        c.retire(deployment.removeprefix("deployment:"))
    _done({"retired": deployment}, as_json, f"retired deployment:{deployment}")


# -- collaboration ------------------------------------------------------------------------
@app.command("own", epilog=ENTITY_HELP)
def own_cmd(
    asset: str = typer.Argument(..., help="A model, dataset, experiment or deployment."),
    owner: str = typer.Option(..., "--owner", help="A person's handle or team:NAME."),
    role: str = typer.Option("owner", "--role"),
    as_json: bool = JSON_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Give ASSET an owner (a bare name is the model, else dataset, experiment, deployment)."""
    with client() as c:
        rec = c.own(asset, owner=owner, role=role)
        warn_undescribed(c.graph, [_person_of(rec.owner)])
    _done({"asset": str(rec.asset), "owner": str(rec.owner), "role": rec.role}, as_json,
          f"{rec.owner} owns {rec.asset} ({rec.role})")


@app.command("transfer", epilog=ENTITY_HELP)
def transfer_cmd(
    asset: str = typer.Argument(...),
    from_: str = typer.Option(..., "--from", help="The current owner."),
    to: str = typer.Option(..., "--to", help="The new owner."),
    role: str = typer.Option("owner", "--role"),
    as_json: bool = JSON_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Hand ASSET over: the old ownership is closed (kept as history), the new one opened."""
    with client() as c:
        rec = c.transfer(asset, to=to, from_=from_, role=role)
        warn_undescribed(c.graph, [_person_of(rec.owner)])
    _done({"asset": str(rec.asset), "from": str(rec.transfer_from), "to": str(rec.owner),
           "role": rec.role}, as_json, f"{rec.asset} passed from {rec.transfer_from} to "
          f"{rec.owner} ({rec.role})")


@app.command("note", epilog=ENTITY_HELP)
def note_cmd(
    entity: str = typer.Argument(..., help="What the note is about; a bare name is a model."),
    text: str = typer.Argument(..., help="Markdown."),
    by: str = typer.Option(None, "--by", help="Author (default: you)."),
    as_json: bool = JSON_OPTION,
    quiet: bool = QUIET_OPTION,
) -> None:
    """Attach a note (caveat, incident, decision) to any entity."""
    with client() as c:
        rec = c.note(entity, text, by=by)
        warn_undescribed(c.graph, [by])
    _done({"id": rec.id, "about": str(rec.about), "by": rec.author}, as_json,
          f"noted on {rec.about} (note:{rec.id})")
