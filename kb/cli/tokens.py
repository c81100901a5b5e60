"""kb CLI: tokens commands."""

from __future__ import annotations

from .app import app  # noqa: F401
