"""A local Neo4j Community server that kb provisions, starts and stops by itself.

``resolve(config)`` is what commands call: it returns ``KB_NEO4J_URI`` as it is when set,
else the server under ``config.home``, starting it if need be. The server runs on Java 17+
from jars that Maven fetches once (or, when testcontainers and a Docker engine are there,
in the official image), listens for Bolt on 127.0.0.1 only, and keeps running after the
command that started it until ``stop`` (``kb down``).

    server     resolve / start / stop / status
    process    the JVM: neo4j.conf, start, readiness, liveness, stop
    provision  Maven fetch and compile, cached per version
    java       finding Java and Maven, version checks
    container  the Docker route
    files      paths, password, state files, locks, the live data folder's pointer
    backup     kb backup / kb restore: offline snapshot, staged load, atomic switch
    manifest   a backup file's manifest, names and rotation (pure)
    admin      neo4j-admin dump and load, and counting a store with Bolt off
"""

from __future__ import annotations

from .connection import Connection
from .files import cache_dir
from .server import resolve, start, status, stop

__all__ = ["Connection", "cache_dir", "resolve", "start", "status", "stop"]
