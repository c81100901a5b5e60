"""kb.localdb without a database: resolution rules, files, and each failure's message."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import Config, Secret
from kb.errors import LocalDbError
from kb.localdb import (
    Connection,
    cache_dir,
    container,
    files,
    java,
    process,
    provision,
    resolve,
    server,
    start,
    status,
    stop,
)


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "available", lambda: False)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(home=tmp_path / "kb", neo4j_port=_free_port())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- resolution -----------------------------------------------------------------------


def test_configured_uri_is_used_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lookups(name: str) -> None:
        raise AssertionError(f"looked up {name}")

    monkeypatch.setattr(java.shutil, "which", no_lookups)
    config = Config(
        home=tmp_path / "kb", neo4j_uri="neo4j+s://db.example:7687",
        neo4j_user="kb", neo4j_password=Secret("s3cret"), neo4j_database="graph",
    )
    expected = Connection("neo4j+s://db.example:7687", "kb", Secret("s3cret"), "graph", False)
    assert resolve(config) == expected
    assert start(config) == expected
    assert not config.home.exists()


def test_configured_uri_without_password_gives_empty_secret(tmp_path: Path) -> None:
    conn = resolve(Config(home=tmp_path, neo4j_uri="bolt://h:1"))
    assert conn.password == "" and isinstance(conn.password, Secret)


def test_nothing_running_and_no_start_names_kb_up(config: Config) -> None:
    with pytest.raises(LocalDbError, match="run `kb up`"):
        resolve(config, start=False)
    assert not config.home.exists()


def test_status_and_stop_when_nothing_ever_ran(config: Config) -> None:
    info = status(config)
    assert info["running"] is False
    assert info["pid"] is None and info["uptime_s"] is None
    assert info["uri"] == f"bolt://127.0.0.1:{config.neo4j_port}"
    assert info["data_dir"] == str(config.home / "neo4j" / "data")
    assert json.dumps(info)  # plain data
    assert stop(config) is False


@pytest.mark.parametrize("pid", [_dead_pid(), None], ids=["dead-pid", "this-process"])
def test_stale_state_is_not_running(config: Config, pid: int | None) -> None:
    layout = files.Layout.of(config)
    files.ensure_home(layout)
    # a dead pid, or this Python process: alive, but no Neo4j
    files.write_state(layout, {"kind": "java", "pid": pid or os.getpid(),
                               "port": config.neo4j_port, "uri": "bolt://127.0.0.1:1"})
    assert status(config)["running"] is False
    with pytest.raises(LocalDbError, match="kb up"):
        resolve(config, start=False)


def test_connection_hides_password() -> None:
    conn = Connection("bolt://x:1", "neo4j", Secret("hunter2"), "neo4j", True)
    assert "hunter2" not in repr(conn)


# --- files ------------------------------------------------------------------------------


def test_password_is_generated_once_and_private(config: Config) -> None:
    layout = files.Layout.of(config)
    first = files.password(layout)
    assert len(first) >= 20
    assert files.password(layout) == first
    assert stat.S_IMODE(layout.password.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.home.stat().st_mode) == 0o700


def test_pid_file_alone_still_names_the_process(config: Config) -> None:
    layout = files.Layout.of(config)
    files.ensure_home(layout)
    layout.pid.write_text("4242\n")
    assert files.read_state(layout) == {"kind": "java", "pid": 4242}
    layout.state.write_text("{not json")
    assert files.read_state(layout) == {"kind": "java", "pid": 4242}


def test_cache_dir_is_under_home(config: Config) -> None:
    assert cache_dir(config) == config.home / "cache"
    assert provision.build_dir(config) == config.home / "cache" / "neo4j-5.26.30"


def test_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert files.tail(log, 3) == "line 97\nline 98\nline 99"
    assert "no log" in files.tail(tmp_path / "missing.log")


# --- java and maven -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "22-ea" 2024-03-19', 22),
        ('java version "1.8.0_292"', 8),
        ('java version "11.0.2" 2019-01-15 LTS', 11),
        ("no version here", None),
    ],
)
def test_parse_java_version(output: str, major: int | None) -> None:
    assert java.parse_java_version(output) == major


def test_missing_java_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java.shutil, "which", lambda name: None)
    with pytest.raises(LocalDbError) as err:
        java.find_java()
    assert "install Java 17+" in err.value.message
    assert "openjdk-17-jre-headless" in err.value.message
    assert "KB_NEO4J_URI" in err.value.message


def test_old_java_names_the_fix(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(tmp_path / "bin", "java", "echo 'java version \"1.8.0_292\"' >&2")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(LocalDbError, match=r"Java 8 found .*needs Java 17\+"):
        java.find_java()
    with pytest.raises(LocalDbError, match="Java 8"):
        start(config)  # checked before anything is fetched or started


def test_missing_maven_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java.shutil, "which", lambda name: None)
    with pytest.raises(LocalDbError, match=r"Install Maven .*apt-get install maven.*KB_NEO4J_URI"):
        java.find_maven()


def test_failed_maven_fetch_shows_its_output(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(tmp_path / "bin", "mvn",
            "echo '[ERROR] Failed to collect dependencies: Could not transfer artifact'; exit 1")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(LocalDbError) as err:
        provision.ensure_built(config, "java")
    message = err.value.message
    assert "Maven could not fetch Neo4j (exit 1" in message
    assert "[ERROR] Failed to collect dependencies" in message
    assert "Maven Central" in message
    assert (provision.build_dir(config) / "pom.xml").read_text() == provision.pom("5.26.30")


def test_cached_classpath_skips_maven(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = tmp_path / "mvn-ran"
    _script(tmp_path / "bin", "mvn", f"touch {mark}; exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    jar = tmp_path / "a.jar"
    jar.write_bytes(b"")
    folder = provision.build_dir(config)
    folder.mkdir(parents=True)
    (folder / "classpath.txt").write_text(str(jar))
    assert provision._jars(folder, provision.pom("5.26.30")) == str(jar)
    assert not mark.exists()
    jar.unlink()  # a jar gone from ~/.m2: fetch again
    with pytest.raises(LocalDbError, match="Maven could not fetch"):
        provision._jars(folder, provision.pom("5.26.30"))
    assert mark.exists()


def test_version_must_look_like_one() -> None:
    assert "<version>5.26.30</version>" in provision.pom("5.26.30")
    with pytest.raises(LocalDbError, match="KB_NEO4J_VERSION"):
        provision.pom("5.26</version><x>")


def test_launcher_source_is_packaged() -> None:
    source = provision.launcher_source().decode()
    assert "class KbNeo4j" in source
    assert process.READY in source


# --- the process ----------------------------------------------------------------------------


def test_port_in_use_names_the_fix(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "find_java", lambda: sys.executable)

    def no_build(*args: object) -> None:
        raise AssertionError("built although the port is taken")

    monkeypatch.setattr(server, "ensure_built", no_build)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", config.neo4j_port))
        sock.listen()
        assert not process.port_free(config.neo4j_port)
        with pytest.raises(LocalDbError) as err:
            start(config)
    assert f"port {config.neo4j_port}" in err.value.message
    assert "set KB_NEO4J_PORT to a free port or stop what listens there" in err.value.message
    assert process.port_free(config.neo4j_port)


def test_conf_and_command_follow_config(config: Config) -> None:
    config = Config(home=config.home, neo4j_port=7999, neo4j_heap="1g",
                    neo4j_pagecache="128m", neo4j_database="kb")
    conf = process.conf_text(config)
    assert "server.bolt.listen_address=127.0.0.1:7999" in conf
    assert "server.memory.pagecache.size=128m" in conf
    assert "initial.dbms.default_database=kb" in conf
    assert "dbms.security.auth_enabled=true" in conf
    layout = files.Layout.of(config)
    build = provision.Build(folder=Path("/c"), classes=Path("/c/classes"), jars="/a.jar")
    cmd = process.jvm_command("java", build, layout, config)
    assert cmd[:3] == ["java", "-Xms1g", "-Xmx1g"]
    assert "-XX:+UseG1GC" in cmd
    assert cmd[-4:] == ["KbNeo4j", str(layout.db_home), str(layout.conf), str(layout.password)]


def _spawn(tmp_path: Path, script: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "kb-neo4j.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["sh", "-c", script], stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def test_server_that_dies_shows_its_log(tmp_path: Path) -> None:
    proc, log = _spawn(tmp_path, "echo starting; echo 'java.net.BindException: Address "
                                 "already in use'; exit 3")
    with pytest.raises(LocalDbError) as err:
        process.wait_ready(proc, log, timeout=30)
    message = err.value.message
    assert "exited with code 3" in message
    assert "starting" in message and str(log) in message
    assert "set KB_NEO4J_PORT" in message


def test_start_timeout_shows_log_and_stops_the_server(tmp_path: Path) -> None:
    proc, log = _spawn(tmp_path, "echo still warming up; exec sleep 60")
    with pytest.raises(LocalDbError) as err:
        process.wait_ready(proc, log, timeout=1)
    assert "did not become ready within 1 s" in err.value.message
    assert "KB_NEO4J_START_TIMEOUT" in err.value.message
    assert "still warming up" in err.value.message
    assert proc.poll() is not None


def test_ready_waits_for_bolt_to_answer(tmp_path: Path) -> None:
    proc, log = _spawn(tmp_path, f"echo {process.READY}; exec sleep 60")
    calls = []

    def connect() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("not yet")

    try:
        process.wait_ready(proc, log, timeout=30, connect=connect)
        assert len(calls) == 3
    finally:
        proc.kill()
        proc.wait()


def test_alive_only_for_kb_neo4j(tmp_path: Path) -> None:
    assert not process.alive(_dead_pid())
    assert not process.alive(0)
    other = subprocess.Popen(["sleep", "60"])
    try:
        assert not process.alive(other.pid)  # a live process, but not ours
    finally:
        other.kill()
        other.wait()


def test_docker_route_needs_testcontainers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the autouse fixture replaced available()
    monkeypatch.setitem(sys.modules, "testcontainers", None)
    assert container.available() is False
    assert container.image(Config(neo4j_version="5.26.30")) == "neo4j:5.26-community"
