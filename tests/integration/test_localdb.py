"""The local Neo4j's life cycle, on a second real server in a home of its own."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import GraphDatabase
from typer.testing import CliRunner

from kb.cli import app
from kb.config import Config
from kb.errors import LocalDbError
from kb.localdb import Connection, resolve, start, status, stop


@pytest.fixture(scope="module")
def second(own_server: Config) -> Iterator[Config]:
    """The server apart from the session's that test_backup and test_crash_safety use too:
    started once for all of them (each start costs seconds), left stopped here."""
    try:
        yield own_server
    finally:
        stop(own_server)


def run(conn: Connection, cypher: str, **params: object) -> list[dict]:
    with GraphDatabase.driver(conn.uri, auth=(conn.user, str(conn.password))) as driver:
        records, _, _ = driver.execute_query(cypher, params, database_=conn.database)
        return [r.data() for r in records]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def gone(pid: int) -> bool:
    """No such process, or only a zombie that its parent has yet to reap."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_data_survives_stop_and_start(second: Config) -> None:
    conn = start(second)
    assert conn.managed
    assert conn.uri == f"bolt://127.0.0.1:{second.neo4j_port}"
    run(conn, "CREATE (:LocalDbProbe {name: $name})", name="kept")
    first_pid = status(second)["pid"]

    assert stop(second) is True
    assert gone(first_pid)
    assert not port_open(second.neo4j_port)
    assert status(second)["running"] is False
    assert stop(second) is False
    with pytest.raises(LocalDbError, match="kb up"):
        resolve(second, start=False)

    conn = start(second)
    assert run(conn, "MATCH (p:LocalDbProbe) RETURN p.name AS name") == [{"name": "kept"}]

    info = status(second)
    assert info["running"] is True
    assert info["kind"] == "java"
    assert info["pid"] != first_pid
    assert info["uri"] == conn.uri
    assert info["home"] == str(second.home)
    assert Path(info["data_dir"]).is_dir()
    assert info["version"] == second.neo4j_version
    assert (info["heap"], info["pagecache"]) == ("512m", "64m")
    assert "KB-NEO4J-READY" in Path(info["log"]).read_text()
    assert info["uptime_s"] >= 0

    assert stat.S_IMODE((second.home / "password").stat().st_mode) == 0o600
    assert stat.S_IMODE(second.home.stat().st_mode) == 0o700

    again = start(second)
    assert again == conn
    assert status(second)["pid"] == info["pid"]
    assert resolve(second, start=False) == conn


def test_cli_up_status_down(second: Config, tmp_path: Path) -> None:
    # A later `kb up` must reuse the cached build: this mvn only leaves a mark.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    mark = tmp_path / "mvn-ran"
    (fake_bin / "mvn").write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    (fake_bin / "mvn").chmod(0o755)
    env = {
        "KB_HOME": str(second.home),
        "KB_NEO4J_PORT": str(second.neo4j_port),
        "KB_NEO4J_HEAP": second.neo4j_heap,
        "KB_NEO4J_PAGECACHE": second.neo4j_pagecache,
        "KB_NEO4J_START_TIMEOUT": str(second.neo4j_start_timeout),
        "KB_NEO4J_URI": None,
        "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}",
    }
    runner = CliRunner()

    def kb(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    up = kb("up")
    assert up["running"] is True and up["managed"] is True
    assert kb("status")["pid"] == up["pid"]
    assert kb("down") == {"stopped": True, "home": str(second.home)}
    assert kb("status")["running"] is False
    assert kb("down")["stopped"] is False

    # Started from a process that then exits: the server must outlive it.
    exe = Path(sys.executable).parent / "kb"
    proc_env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    done = subprocess.run(
        [str(exe), "up", "--json"], env=proc_env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    up = json.loads(done.stdout)
    assert up["running"] is True
    assert not mark.exists(), "kb up fetched Neo4j again instead of using the cache"
    assert status(second)["pid"] == up["pid"]
    assert port_open(second.neo4j_port)

    assert kb("up")["pid"] == up["pid"]
    assert kb("down")["stopped"] is True
    assert gone(up["pid"])
