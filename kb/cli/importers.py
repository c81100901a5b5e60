"""kb CLI: importers -- ``kb import openlineage FILE.jsonl``, ``kb import mlflow`` and
``kb import kb FILE`` (a file of ``kb export``).

Both validate before they write, write through ``kb.ingest`` in batches, and can be run
again: a second import of the same source changes nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from kb.errors import InvalidInput

from .app import (
    JSON_OPTION,
    app,
    console,
    emit,
    err_console,
    get_config,
    open_graph,
    progress_bar,
)

import_app = typer.Typer(help="Import what other tools recorded (OpenLineage events, MLflow), "
                         "or a kb export.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("openlineage")
def import_openlineage(
    file: Annotated[Path, typer.Argument(help="A JSON Lines file of OpenLineage run events.",
                                         exists=True, dir_okay=False, readable=True)],
    as_json: bool = JSON_OPTION,
) -> None:
    """Replay a file of OpenLineage run events (one JSON event per line)."""
    from kb.ingest.capture import current_person
    from kb.ingest.openlineage import ingest_file

    config = get_config()
    graph = open_graph(config)
    try:
        with progress_bar() as bar:
            task = bar.add_task("events", total=None)
            result = ingest_file(graph, file, actor=current_person(config.actor),
                                 progress=lambda n, task=task: bar.advance(task, n))
    finally:
        graph.close()
    emit({"events": result.events, "runs": result.runs}, as_json, lambda d: console.print(
        f"Imported {d['events']} events into {d['runs']} runs from {file}.", highlight=False))


@import_app.command("mlflow")
def import_mlflow(
    tracking_uri: Annotated[str, typer.Option(
        "--tracking-uri", help="MLflow tracking URI: a server (http://...), sqlite:///... "
        "or a file store (file:///.../mlruns).")],
    experiment: Annotated[list[str] | None, typer.Option(
        "--experiment", help="Import only this experiment (repeatable).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only runs started or ended, and model versions created or updated, "
        "at or after this date.")] = None,
    registry_uri: Annotated[str | None, typer.Option(
        "--registry-uri", help="Model registry URI, when it is not the tracking URI.")] = None,
    ui_url: Annotated[str | None, typer.Option(
        "--ui-url", envvar="KB_MLFLOW_UI_URL", help="The MLflow UI's http(s) address, for "
        "links to runs when the tracking URI is a file or database store.")] = None,
    user_map: Annotated[list[str] | None, typer.Option(
        "--user-map", help="MLflow user to kb person: a file of 'mlflow_user = kb_handle' "
        "lines, or one 'mlflow_user=kb_handle' pair (repeatable).")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", help="Keep importing: after the first pass, every --interval seconds "
        "bring in only what is new or changed (Ctrl-C stops after the current pass).")
    ] = False,
    once: Annotated[bool, typer.Option(
        "--once", help="One pass from the cursor --follow keeps (the whole store the "
        "first time), then stop.")] = False,
    interval: Annotated[float, typer.Option(
        "--interval", min=0.1, help="Seconds between the passes of --follow.")] = 30.0,
    from_scratch: Annotated[bool, typer.Option(
        "--from-scratch", help="With --follow or --once: forget the cursor and read the "
        "whole store again.")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Import experiments, runs, dataset inputs and registered models from MLflow.

    The store is only read, never upgraded or changed; a database of another MLflow
    schema version is refused. With --follow (or --once) a cursor kept in the graph
    makes each pass read and write only what changed since the last, and a restart
    continues from it.
    """
    from kb.ingest.capture import current_person
    from kb.ingest.mlflow_import import MISSING_EXTRA
    from kb.ingest.mlflow_import import import_mlflow as run_import
    from kb.ingest.mlflow_users import load_user_map

    users = load_user_map(user_map or ())
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise InvalidInput("mlflow", MISSING_EXTRA) from None
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        # kb only reads (a copy of) the store; MLflow 3 refuses file stores unless told.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from kb.ingest.times import parse_time

    if (follow or once) and since is not None:
        raise InvalidInput("--since", "does not go with --follow or --once, whose cursor "
                           "says where to start")
    if from_scratch and not (follow or once):
        raise InvalidInput("--from-scratch", "goes with --follow or --once")
    when = None if since is None else parse_time(since, "--since")
    config = get_config()
    if follow or once:
        _follow_mlflow(tracking_uri, registry_uri=registry_uri, experiments=experiment or (),
                       ui_url=ui_url, users=users, once=once and not follow,
                       interval=interval, from_scratch=from_scratch, as_json=as_json,
                       actor=current_person(config.actor))
        return
    graph = open_graph(config)
    try:
        with progress_bar() as bar:
            task = bar.add_task("runs", total=None)

            def progress(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            result = run_import(graph, tracking_uri, actor=current_person(config.actor),
                                experiments=experiment or (), since=when,
                                registry_uri=registry_uri, ui_url=ui_url, users=users,
                                progress=progress)
    finally:
        graph.close()
    data = {"experiments": result.experiments, "runs": result.runs,
            "model_versions": result.model_versions, "skipped": result.skipped}

    def render(d: dict) -> None:
        console.print(f"Imported {d['experiments']} experiments, {d['runs']} runs and "
                      f"{d['model_versions']} model versions from {tracking_uri}.",
                      highlight=False)
        for line in d["skipped"]:
            console.print(f"  not linked to a run: {line}", highlight=False)

    emit(data, as_json, render)


def _follow_mlflow(tracking_uri: str, *, registry_uri: str | None, experiments: list[str],
                   ui_url: str | None, users: dict[str, str], once: bool, interval: float,
                   from_scratch: bool, as_json: bool, actor: str) -> None:
    """Passes from the cursor until Ctrl-C (or one, with ``once``), a line each."""
    import signal
    import threading
    from datetime import UTC, datetime

    from kb.ingest.mlflow_follow import PassResult, follow_pass, forget_cursor

    stop = threading.Event()

    def interrupted(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print("stopping after this pass (Ctrl-C again to stop now)",
                          highlight=False)

    graph = open_graph(get_config())
    previous = signal.signal(signal.SIGINT, interrupted) if not once else None
    try:
        if from_scratch:
            forget_cursor(graph, tracking_uri, registry_uri, experiments)
        while True:
            # On stderr: stdout has one line per pass, for people or (--json) tools.
            with progress_bar(err_console) as bar:
                task = bar.add_task("runs", total=None)
                result: PassResult = follow_pass(
                    graph, tracking_uri, actor=actor, experiments=experiments,
                    registry_uri=registry_uri, ui_url=ui_url, users=users,
                    progress=lambda n, task=task: bar.advance(task, n))
            at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            data = {"at": at, "first": result.first, "experiments": result.experiments,
                    "new_runs": result.new_runs, "changed_runs": result.changed_runs,
                    "waiting": result.waiting, "model_versions": result.model_versions,
                    "alias_moves": result.alias_moves, "runs_read": result.runs_read,
                    "versions_read": result.versions_read, "skipped": result.skipped}
            if as_json:
                typer.echo(json.dumps(data, sort_keys=True))
            else:
                console.print(f"{at} {'first pass: ' if result.first else ''}"
                              f"{result.line()}", highlight=False)
            if once or stop.wait(interval):
                return
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        graph.close()


@import_app.command("kb")
def import_kb(
    file: Annotated[Path, typer.Argument(help="A file of `kb export` (.jsonl or .jsonl.gz).",
                                         exists=True, dir_okay=False, readable=True)],
    as_json: bool = JSON_OPTION,
) -> None:
    """Load a `kb export` file into this graph, empty or not.

    Every line is checked first and a bad one refuses the whole file, naming the line and
    the field; then it is written in transactions of a few thousand lines. The file's
    values win; entities that were here before and changed get a change record with path
    `import`. Importing the same file again changes nothing.
    """
    from kb.graph.portable import import_file
    from kb.ingest.capture import current_person

    config = get_config()
    graph = open_graph(config)
    try:
        with progress_bar(err_console) as bar:
            tasks: dict[str, object] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

            result = import_file(graph, file, actor=current_person(config.actor),
                                 progress=progress)
    finally:
        graph.close()
    data = {"lines": result.lines, "created": result.created, "updated": result.updated,
            "changes_added": result.changes_added, "links": result.links_written}

    def render(d: dict) -> None:
        lines = ", ".join(f"{n:,} {name}" for name, n in d["lines"].items())
        console.print(f"Imported {file}: {lines} lines; {d['created']:,} entities created, "
                      f"{d['updated']:,} changed, {d['changes_added']:,} change records "
                      "added.", highlight=False)

    emit(data, as_json, render)
