"""kb CLI: importers -- ``kb import openlineage FILE.jsonl``, ``kb import mlflow`` and
``kb import kb FILE`` (a file of ``kb export``).

Both validate before they write, write through ``kb.ingest`` in batches, and can be run
again: a second import of the same source changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kb.errors import InvalidInput

from .app import JSON_OPTION, app, console, emit, get_config, open_graph

import_app = typer.Typer(help="Import what other tools recorded (OpenLineage events, MLflow), "
                         "or a kb export.",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


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
        with _progress() as bar:
            task = bar.add_task("events", total=None)
            result = ingest_file(graph, file, actor=current_person(config.actor),
                                 progress=lambda n: bar.advance(task, n))
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
    as_json: bool = JSON_OPTION,
) -> None:
    """Import experiments, runs, dataset inputs and registered models from MLflow.

    The store is only read, never upgraded or changed; a database of another MLflow
    schema version is refused.
    """
    from kb.ingest.capture import current_person
    from kb.ingest.mlflow_import import MISSING_EXTRA
    from kb.ingest.mlflow_import import import_mlflow as run_import

    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise InvalidInput("mlflow", MISSING_EXTRA) from None
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        # kb only reads (a copy of) the store; MLflow 3 refuses file stores unless told.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from kb.ingest.times import parse_time

    when = None if since is None else parse_time(since, "--since")
    config = get_config()
    graph = open_graph(config)
    try:
        with _progress() as bar:
            task = bar.add_task("runs", total=None)

            def progress(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            result = run_import(graph, tracking_uri, actor=current_person(config.actor),
                                experiments=experiment or (), since=when,
                                registry_uri=registry_uri, ui_url=ui_url,
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

    from .portable import progress_bar

    config = get_config()
    graph = open_graph(config)
    try:
        with progress_bar() as bar:
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
