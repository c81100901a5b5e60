"""The ``kb`` command line: thin wiring over kb.ingest, kb.graph, kb.api and docs_gen."""

from __future__ import annotations

# Each module registers its commands on ``app``; they import their work lazily. Their
# errors all leave through ``app.KbGroup``.
from . import (  # noqa: F401
    ask,
    backup,
    db,
    demo,
    diff,
    docs,
    drill,
    erase,
    history,
    impact,
    importers,
    portable,
    serve,
    show,
    tokens,
    write,
)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
