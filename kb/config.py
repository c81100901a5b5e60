"""Configuration, read once from the environment and passed down.

Nothing below kb.cli and kb.api reads ``os.environ``: they receive a ``Config``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kb.errors import InvalidInput


class Secret(str):
    """A string that never shows itself in a repr or a log line."""

    def __repr__(self) -> str:
        return "'**********'"


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(name, "must be an integer", raw) from None


def _positive(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _int(environ, name, default)
    if value < 1:
        raise InvalidInput(name, "must be at least 1", value)
    return value


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(name, "must be a number of seconds", raw) from None
    if not value > 0:
        raise InvalidInput(name, "must be above 0", raw)
    return value


def _hosts(environ: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return None
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    for host in hosts:
        if "*" in host[1:] or (host.startswith("*") and host != "*"
                               and not host.startswith("*.")):
            raise InvalidInput(name, f"host pattern {host!r} must be a name, '*' or like "
                               "'*.example.com'", raw)
    return hosts


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise InvalidInput(name, "must be true or false", raw)


@dataclass(frozen=True)
class Config:
    """Everything kb can be told; see the configuration table in README.md."""

    home: Path = field(default_factory=lambda: Path.home() / ".kb")
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: Secret | None = None
    neo4j_database: str = "neo4j"
    neo4j_port: int = 7687
    # A smaller heap lets G1's young pauses stall bulk writes; the page cache holds a
    # graph of a hundred thousand runs.
    neo4j_heap: str = "1g"
    neo4j_pagecache: str = "256m"
    neo4j_java_opts: tuple[str, ...] = ()
    neo4j_start_timeout: int = 120
    neo4j_version: str = "5.26.30"
    actor: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    anonymous_reads: bool | None = None
    graphiql: bool = True
    introspection: bool = True
    site_dir: Path = field(default_factory=lambda: Path("site"))
    lineage_max_bytes: int = 5 * 1024 * 1024
    # None: the loopback names when serving on loopback, any host otherwise (see app.py).
    api_allowed_hosts: tuple[str, ...] | None = None
    api_request_seconds: float = 15.0
    api_max_body_bytes: int = 1024 * 1024
    api_max_response_bytes: int = 10 * 1024 * 1024
    # kb.api.execution's completion of plain-record lists; off: graphql-core's own, alone.
    api_fast_lists: bool = True
    # Questions read on the API's event loop (kb.graph.async_driver); off: worker threads.
    api_async_reads: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        home = Path(env.get("KB_HOME") or Path.home() / ".kb").expanduser()
        password = env.get("KB_NEO4J_PASSWORD")
        anon = env.get("KB_ANONYMOUS_READS")
        return cls(
            home=home,
            neo4j_uri=env.get("KB_NEO4J_URI") or None,
            neo4j_user=env.get("KB_NEO4J_USER") or "neo4j",
            neo4j_password=Secret(password) if password else None,
            neo4j_database=env.get("KB_NEO4J_DATABASE") or "neo4j",
            neo4j_port=_int(env, "KB_NEO4J_PORT", 7687),
            neo4j_heap=env.get("KB_NEO4J_HEAP") or "1g",
            neo4j_pagecache=env.get("KB_NEO4J_PAGECACHE") or "256m",
            neo4j_java_opts=tuple(shlex.split(env.get("KB_NEO4J_JAVA_OPTS") or "")),
            neo4j_start_timeout=_int(env, "KB_NEO4J_START_TIMEOUT", 120),
            neo4j_version=env.get("KB_NEO4J_VERSION") or "5.26.30",
            actor=env.get("KB_USER") or None,
            api_host=env.get("KB_API_HOST") or "127.0.0.1",
            api_port=_int(env, "KB_API_PORT", 8000),
            anonymous_reads=None if anon is None or anon == "" else _bool(
                env, "KB_ANONYMOUS_READS", False
            ),
            graphiql=_bool(env, "KB_GRAPHIQL", True),
            introspection=_bool(env, "KB_INTROSPECTION", True),
            site_dir=Path(env.get("KB_SITE_DIR") or "site"),
            lineage_max_bytes=_int(env, "KB_LINEAGE_MAX_BYTES", 5 * 1024 * 1024),
            api_allowed_hosts=_hosts(env, "KB_API_ALLOWED_HOSTS"),
            api_request_seconds=_float(env, "KB_API_REQUEST_SECONDS", 15.0),
            api_max_body_bytes=_positive(env, "KB_API_MAX_BODY_BYTES", 1024 * 1024),
            api_max_response_bytes=_positive(env, "KB_API_MAX_RESPONSE_BYTES",
                                             10 * 1024 * 1024),
            api_fast_lists=_bool(env, "KB_API_FAST_LISTS", True),
            api_async_reads=_bool(env, "KB_API_ASYNC_READS", True),
        )
