"""kb backup / kb restore: snapshots of the local Neo4j in one file, and putting one back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.text import Text

from .app import JSON_OPTION, app, console, emit, err_console, get_config, table


class _Steps:
    """A progress bar on stderr that advances one step per message; ``paused`` hides it
    while a question is asked."""

    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def __call__(self, message: str) -> None:
        self.bar.update(self.task, description=message, advance=1)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.bar.stop()
        try:
            yield
        finally:
            self.bar.start()


@contextmanager
def _steps(total: int) -> Iterator[_Steps]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        yield _Steps(bar, bar.add_task("starting", total=total))


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _render_backup(info: dict[str, Any]) -> None:
    counts = info["manifest"]["counts"]
    console.print(f"Backed up to {info['file']} ({_size(info['size'])}): "
                  f"{counts['node_total']} nodes, {counts['relationship_total']} relationships.")
    console.print(f"The server was down {info['downtime_s']:.1f} s (writers waited and "
                  f"retried); {info['seconds']:.1f} s in all.")
    for path in info["removed"]:
        console.print(f"Removed the older backup {path}.")


def _render_list(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("No backups.")
        return
    table("Backups", ["created (UTC)", "file", "size", "nodes", "relationships"],
          [(r["created_at"], r["file"], _size(r["size"]), r["nodes"], r["relationships"])
           for r in rows])


@app.command("backup")
def backup_(
    file: Annotated[Path | None, typer.Argument(
        help="Where to write the backup; default <KB_HOME>/backups/kb-backup-<time>.tar.",
    )] = None,
    keep: int | None = typer.Option(
        None, "--keep", min=1,
        help="Then delete all but the newest N of kb's backups in that folder."),
    list_: bool = typer.Option(
        False, "--list", help="List the backups in <KB_HOME>/backups (or in folder FILE)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Snapshot the local Neo4j into one file; the server pauses for seconds, writes retry."""
    from kb.localdb.backup import backup, list_backups
    from kb.localdb.files import Layout

    config = get_config()
    if list_:
        folder = file if file is not None else Layout.of(config).backups
        emit(list_backups(folder), as_json, _render_list)
        return
    with _steps(6) as step:
        info = backup(config, file, keep=keep, progress=step)
    emit(info, as_json, _render_backup)


def _live_counts() -> dict[str, int] | None:
    from kb.errors import KbError
    from kb.graph.stats import stored_counts

    from .app import open_graph

    try:
        graph = open_graph(start=False)
    except KbError:
        return None
    try:
        return stored_counts(graph)
    finally:
        graph.close()


def _ask(prepared: Any, now: dict[str, int] | None) -> bool:
    manifest = prepared.manifest
    then = {**manifest.counts.nodes, **manifest.counts.relationships}
    names = sorted(set(then) | set(now or {}))
    err_console.print(Text(
        f"kb restore replaces the whole local graph with the backup of "
        f"{manifest.created_at.isoformat(timespec='seconds')} ({prepared.source}).",
        style="bold"))
    if now is None:
        err_console.print("The local Neo4j is not running; its data is replaced all the same.")
    else:
        err_console.print(f"  {'':<24} {'now':>10} {'in the backup':>14}")
        for name in names:
            err_console.print(f"  {name:<24} {now.get(name, 0):>10} {then.get(name, 0):>14}")
    return click.confirm("Replace it?", default=False, err=True)


def _render_restore(info: dict[str, Any] | None) -> None:
    if info is None:
        console.print("Nothing was changed.")
        return
    counts = info["manifest"]["counts"]
    console.print(f"Restored {info['file']}: {counts['node_total']} nodes, "
                  f"{counts['relationship_total']} relationships, as of "
                  f"{info['manifest']['created_at']}.")
    console.print(f"The server was down {info['downtime_s']:.1f} s; "
                  f"{info['seconds']:.1f} s in all.")


@app.command("restore")
def restore_(
    file: Annotated[Path, typer.Argument(help="A file `kb backup` wrote.")],
    yes: bool = typer.Option(False, "--yes", "-y", help="Replace the graph without asking."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace the local graph with a backup, all at once; a bad file changes nothing."""
    from kb.localdb.backup import restore

    config = get_config()
    now = None if yes else _live_counts()
    with _steps(6) as step:

        def confirm(prepared: Any) -> bool:
            with step.paused():
                return _ask(prepared, now)

        info = restore(config, file, confirm=None if yes else confirm, progress=step)
    emit(info, as_json, _render_restore)
    if info is None:
        raise typer.Exit(1)
