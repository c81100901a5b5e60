"""Running ``kb`` in-process as a user at an 80-column terminal would, for CLI tests."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result
from typer.testing import CliRunner

from kb.cli import app
from kb.cli.app import console

runner = CliRunner()


def at_80_columns(monkeypatch: pytest.MonkeyPatch, user: str = "dora"
                  ) -> Callable[..., Result]:
    """``kb ARGS`` as ``user`` with the console 80 columns wide; returns the result."""
    monkeypatch.setenv("KB_USER", user)
    monkeypatch.setattr(console, "width", 80)
    return lambda *args: runner.invoke(app, list(args))


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_json(result: Result) -> object:
    return json.loads(ok(result))
