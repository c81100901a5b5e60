"""kb CLI: ``kb export FILE`` -- the whole graph in kb's portable format.

The format is ``docs/EXPORT-FORMAT.md``; ``kb import kb FILE`` (``importers.py``) takes it
back into any Neo4j. Two exports of one graph are byte-identical, gzipped ones too.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

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

#: Bytes buffered between the exporter and the file.
BUFFER = 1 << 20
#: Lines between two updates of the progress bar.
TICK = 2000


@contextlib.contextmanager
def _target(file: str) -> Iterator[IO[bytes]]:
    """Where the lines go: stdout for ``-``; else a temporary file beside ``file``,
    renamed to it once complete (gzip with a fixed header for ``.gz``)."""
    if file == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(file)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial",
                                dir=path.parent.resolve())
    try:
        with os.fdopen(fd, "wb", buffering=BUFFER) as raw:
            if path.name.endswith(".gz"):
                # No name and no time in the header: the same graph, the same bytes. Level
                # 6 (zlib's default) packs nearly as tight as 9 in about half the CPU.
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                   compresslevel=6) as packed:
                    yield packed  # type: ignore[misc]
            else:
                yield raw
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def export_graph(graph: Any, out: IO[bytes], *, with_tokens: bool,
                 progress: Any = None) -> dict[str, int]:
    """Write every line of the export to ``out``; the count of each section."""
    from kb.domain.portable import dumps
    from kb.graph.portable import export_lines

    counts: dict[str, int] = {}
    for done, line in enumerate(export_lines(graph, with_tokens=with_tokens), start=1):
        out.write(dumps(line).encode() + b"\n")
        if line.get("type") == "end":
            counts = line["counts"]
        elif progress is not None and done % TICK == 0:
            progress(done)
    return counts


@app.command("export")
def export(
    file: Annotated[str, typer.Argument(
        help="Where to write: FILE.jsonl, FILE.jsonl.gz (gzip), or - for stdout.")],
    with_tokens: Annotated[bool, typer.Option(
        "--with-tokens", help="Include API tokens (their hashes only, never a secret).")]
    = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write the whole graph (entities, links, change records) to a portable file.

    Sorted and stable: two exports of one graph are byte for byte the same.
    `kb import kb FILE` takes it back into this or any other Neo4j.
    """
    from kb.errors import InvalidInput
    from kb.graph.portable import section_totals

    if file != "-" and not Path(file).resolve().parent.is_dir():
        raise InvalidInput("FILE", "its folder does not exist", file)
    if file != "-" and Path(file).is_dir():
        raise InvalidInput("FILE", "is a folder; name the file to write", file)
    graph = open_graph(get_config())
    try:
        total = sum(section_totals(graph, with_tokens=with_tokens).values()) + 2
        with progress_bar(err_console) as bar, _target(file) as out:
            task = bar.add_task("exporting", total=total)
            counts = export_graph(graph, out, with_tokens=with_tokens,
                                  progress=lambda n: bar.update(task, completed=n))
    finally:
        graph.close()
    data = {"file": file, "lines": counts}

    def render(d: dict) -> None:
        parts = ", ".join(f"{n:,} {name}{'s' if n != 1 else ''}"
                          for name, n in d["lines"].items())
        where = "stdout" if file == "-" else file
        (err_console if file == "-" else console).print(f"Exported {parts} to {where}.")

    if file == "-" and as_json:
        err_console.print_json(data=data)
        return
    emit(data, as_json, render)
