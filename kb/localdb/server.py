"""resolve / start / stop / status: the local Neo4j as the rest of kb sees it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from kb.config import Config, Secret
from kb.errors import LocalDbError

from . import container, process
from .connection import Connection
from .files import (
    Layout,
    clear_state,
    ensure_home,
    locked,
    password,
    read_data_pointer,
    read_state,
    write_state,
)
from .java import find_java
from .provision import ensure_built

log = logging.getLogger(__name__)

LOCAL_USER = "neo4j"


def resolve(config: Config, *, start: bool = True) -> Connection:
    """The Neo4j to talk to: ``KB_NEO4J_URI`` if set, else the local one (started if asked)."""
    if config.neo4j_uri:
        return _external(config)
    layout = Layout.of(config)
    conn = _running(config, layout)
    if conn is not None:
        return conn
    if start:
        return _start_local(config)
    raise LocalDbError("no local Neo4j is running; run `kb up`")


def start(config: Config) -> Connection:
    """Start the local Neo4j unless it already runs; with ``KB_NEO4J_URI`` set, start nothing."""
    if config.neo4j_uri:
        return _external(config)
    return _start_local(config)


def stop(config: Config) -> bool:
    """Shut the local Neo4j down cleanly; True if one was running."""
    layout = Layout.of(config)
    if not layout.home.exists():
        return False
    with locked(layout.lock):
        return stop_locked(layout)


def stop_locked(layout: Layout) -> bool:
    """``stop`` for a caller that holds ``layout.lock``."""
    state = read_state(layout)
    if state is None:
        return False
    if state.get("kind") == "docker":
        stopped = container.stop(state)
    else:
        stopped = process.terminate(int(state.get("pid") or 0))
    clear_state(layout)
    if stopped:
        log.info("stopped the local Neo4j under %s", layout.home)
    return stopped


def status(config: Config) -> dict[str, Any]:
    """Plain data about the local server, running or not."""
    layout = Layout.of(config)
    conn = _running(config, layout)
    state = (read_state(layout) or {}) if conn is not None else {}
    port = state.get("port", config.neo4j_port)
    started_at = state.get("started_at")
    uptime = None
    if conn is not None and started_at:
        began = datetime.fromisoformat(started_at)
        uptime = round((datetime.now(UTC) - began).total_seconds())
    return {
        "running": conn is not None,
        "kind": state.get("kind"),
        "pid": state.get("pid"),
        "port": port,
        "uri": state.get("uri") or _uri(port),
        "user": LOCAL_USER,
        "database": state.get("database", config.neo4j_database),
        "home": str(layout.home),
        "data_dir": str(layout.data_dir),
        "password_file": str(layout.password),
        "version": state.get("version", config.neo4j_version),
        "heap": state.get("heap", config.neo4j_heap),
        "pagecache": state.get("pagecache", config.neo4j_pagecache),
        "log": str(layout.log),
        "started_at": started_at,
        "uptime_s": uptime,
        "external_uri": config.neo4j_uri,
    }


def _uri(port: int) -> str:
    return f"bolt://127.0.0.1:{port}"


def _external(config: Config) -> Connection:
    return Connection(
        uri=config.neo4j_uri or "",
        user=config.neo4j_user,
        password=config.neo4j_password or Secret(""),
        database=config.neo4j_database,
        managed=False,
    )


def _alive(state: dict[str, Any]) -> bool:
    if state.get("kind") == "docker":
        return container.running(state)
    return process.alive(int(state.get("pid") or 0))


def _running(config: Config, layout: Layout) -> Connection | None:
    state = read_state(layout)
    if state is None or not state.get("port") or not _alive(state):
        return None
    if not process.port_answers(int(state["port"])):
        return None
    if state["port"] != config.neo4j_port:
        log.info("the local Neo4j runs on port %s, not KB_NEO4J_PORT=%s; `kb down` "
                 "then `kb up` to move it", state["port"], config.neo4j_port)
    return Connection(
        uri=state.get("uri") or _uri(int(state["port"])),
        user=LOCAL_USER,
        password=password(layout),
        database=state.get("database", config.neo4j_database),
        managed=True,
    )


def _start_local(config: Config) -> Connection:
    layout = Layout.of(config)
    ensure_home(layout)
    with locked(layout.lock):
        return start_locked(config, layout)


def start_locked(config: Config, layout: Layout, *, java_only: bool = False) -> Connection:
    """``start`` for a caller that holds ``layout.lock``; ``java_only`` never picks Docker."""
    conn = _running(config, layout)
    if conn is not None:
        return conn
    _clear_stale(layout)
    secret = password(layout)
    uri = _uri(config.neo4j_port)
    state: dict[str, Any] = {
        "port": config.neo4j_port,
        "uri": uri,
        "database": config.neo4j_database,
        "version": config.neo4j_version,
        "heap": config.neo4j_heap,
        "pagecache": config.neo4j_pagecache,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if not java_only and container.available():
        process.check_port_free(config.neo4j_port)
        state.update(container.start(config, layout, secret))
        write_state(layout, state)
    else:
        _start_java(config, layout, secret, state)
    log.info("local Neo4j %s is up at %s", config.neo4j_version, uri)
    return Connection(uri, LOCAL_USER, secret, config.neo4j_database, managed=True)


def _clear_stale(layout: Layout) -> None:
    """Forget a server that is gone, stopping one that lives on without answering."""
    state = read_state(layout)
    if state is None:
        return
    if state.get("kind") == "docker":
        container.stop(state)
    elif process.alive(int(state.get("pid") or 0)):
        log.warning("Neo4j (pid %s) runs but does not answer; stopping it", state["pid"])
        process.terminate(int(state["pid"]))
    clear_state(layout)


def _start_java(config: Config, layout: Layout, secret: Secret, state: dict[str, Any]) -> None:
    if read_data_pointer(layout) and not layout.data_dir.is_dir():
        # Neo4j would make an empty store there, and the graph would seem wiped.
        raise LocalDbError(
            f"{layout.data_pointer} names the data folder {layout.data_dir}, which is gone; "
            "restore a backup (`kb restore FILE`), or delete that file to start empty"
        )
    java = find_java()
    process.check_port_free(config.neo4j_port)
    build = ensure_built(config, java)
    process.check_port_free(config.neo4j_port)  # Maven may have taken a while
    layout.conf.write_text(process.conf_text(config, layout.data_dir))
    proc = process.spawn(process.jvm_command(java, build, layout, config), layout)
    state.update(kind="java", pid=proc.pid, log=str(layout.log))
    write_state(layout, state)
    try:
        process.wait_ready(
            proc,
            layout.log,
            config.neo4j_start_timeout,
            connect=lambda: _verify(state["uri"], secret),
        )
    except BaseException:
        clear_state(layout)
        raise


def _verify(uri: str, secret: Secret) -> None:
    from neo4j import GraphDatabase

    with GraphDatabase.driver(uri, auth=(LOCAL_USER, str(secret)), connection_timeout=2) as drv:
        drv.verify_connectivity()
