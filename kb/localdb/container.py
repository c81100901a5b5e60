"""The Docker route: the official ``neo4j:<major.minor>-community`` image via testcontainers.

Used only when the ``testcontainers`` package imports and a Docker engine answers a ping
within two seconds; otherwise kb runs Neo4j on the local JVM (see process and provision).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from kb.config import Config, Secret
from kb.errors import LocalDbError

from .files import Layout

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 2
STOP_TIMEOUT_S = 60


def image(config: Config) -> str:
    major_minor = ".".join(config.neo4j_version.split(".")[:2])
    return f"neo4j:{major_minor}-community"


def _client(timeout: int = PING_TIMEOUT_S) -> Any:
    import docker  # type: ignore[import-not-found]

    return docker.from_env(timeout=timeout)


def available() -> bool:
    """Whether testcontainers is installed and a Docker engine answers quickly."""
    try:
        import testcontainers  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    try:
        client = _client()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception as exc:
        log.debug("no Docker engine answered: %s", exc)
        return False


def start(config: Config, layout: Layout, password: Secret) -> dict[str, Any]:
    """Start the container detached from this process; returns the state to remember."""
    try:
        from testcontainers.core.config import (  # type: ignore[import-not-found]
            testcontainers_config,
        )
        from testcontainers.neo4j import Neo4jContainer  # type: ignore[import-not-found]
    except ImportError as exc:
        raise LocalDbError(
            f"testcontainers lacks its Neo4j module ({exc}); "
            "`pip install 'testcontainers[neo4j]'` or uninstall testcontainers to use Java"
        ) from exc
    # The reaper would remove the container when this process exits; `kb down` stops it.
    with contextlib.suppress(AttributeError):
        testcontainers_config.ryuk_disabled = True
    data = layout.home / "neo4j-docker" / "data"
    data.mkdir(parents=True, exist_ok=True)
    container = (
        Neo4jContainer(image(config), password=str(password))
        .with_bind_ports(7687, ("127.0.0.1", config.neo4j_port))
        .with_volume_mapping(str(data), "/data", "rw")
        .with_env("NEO4J_server_memory_heap_initial__size", config.neo4j_heap)
        .with_env("NEO4J_server_memory_heap_max__size", config.neo4j_heap)
        .with_env("NEO4J_server_memory_pagecache_size", config.neo4j_pagecache)
        .with_env("NEO4J_initial_dbms_default__database", config.neo4j_database)
    )
    try:
        container.start()
    except Exception as exc:
        raise LocalDbError(
            f"the Neo4j container ({image(config)}) did not start: {exc}. Check `docker ps -a` "
            "and its logs, set KB_NEO4J_PORT to a free port if it is taken, "
            "or uninstall testcontainers to run Neo4j on Java instead"
        ) from exc
    return {"kind": "docker", "container_id": container.get_wrapped_container().id}


def running(state: dict[str, Any]) -> bool:
    try:
        client = _client()
        try:
            return client.containers.get(state["container_id"]).status == "running"
        finally:
            client.close()
    except Exception:
        return False


def stop(state: dict[str, Any]) -> bool:
    try:
        client = _client(timeout=STOP_TIMEOUT_S + 10)
    except Exception as exc:
        raise LocalDbError(f"no Docker engine to stop the Neo4j container with ({exc})") from exc
    try:
        try:
            box = client.containers.get(state["container_id"])
        except Exception:
            return False
        was_running = box.status == "running"
        box.stop(timeout=STOP_TIMEOUT_S)
        box.remove()
        return was_running
    finally:
        client.close()
