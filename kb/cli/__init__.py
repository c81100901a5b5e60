"""The ``kb`` command line: thin wiring over kb.ingest, kb.graph, kb.api and docs_gen."""

from __future__ import annotations

# Each module registers its commands on ``app``; they import their work lazily. Their
# errors all leave through ``app.KbGroup``.
from . import ask, db, demo, diff, docs, drill, impact, importers, serve, show, tokens, write  # noqa: F401
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
