"""kb CLI: ask commands."""

from __future__ import annotations

from .app import app  # noqa: F401
