"""The ``kb`` command line: thin wiring over kb.ingest, kb.graph, kb.api and docs_gen."""

from __future__ import annotations

import sys

from kb.errors import InvalidInput, KbError

# Each module registers its commands on ``app``; they import their work lazily.
from . import ask, db, demo, docs, importers, serve, tokens, write  # noqa: F401
from .app import app, error_line


def main() -> None:
    try:
        app()
    except KbError as exc:
        error_line(exc.message)
        sys.exit(2 if isinstance(exc, InvalidInput) else 1)


__all__ = ["app", "main"]
