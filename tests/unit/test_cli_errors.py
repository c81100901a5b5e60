"""Every ``kb`` command reports a known error as one line and an exit code, never a
traceback, whichever module registered it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.cli import app

runner = CliRunner()


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("args", [
    ("who-trained", "churn"),
    ("person", "add", "alice"),
    ("token", "list"),
    ("docs", "sync"),
    ("import", "openlineage", "events.jsonl"),
])
def test_an_unreachable_database_is_one_line_and_exit_1(
        args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events.jsonl").write_text("")
    uri = f"bolt://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("KB_NEO4J_URI", uri)
    monkeypatch.setenv("KB_NEO4J_PASSWORD", "secret")
    monkeypatch.setenv("KB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KB_USER", "dora")
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot reach Neo4j at {uri}")
    assert "KB_NEO4J_URI" in lines[0]
    assert "Traceback" not in result.output


def test_bad_input_outside_a_graph_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    result = runner.invoke(app, ["run", "log", str(tmp_path / "missing.json")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: file:")
