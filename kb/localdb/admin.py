"""Offline work on a Neo4j store: ``neo4j-admin`` dump and load, and counting a store.

Both run as JVMs of their own on the local server's classpath: Neo4j's ``AdminTool`` for
dump and load, and the launcher's ``count`` mode (``KbNeo4j count``), which opens a store
with Bolt off and writes what it holds to a JSON file. Community dumps only a stopped
database; a load goes to a data folder no server uses.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

from kb.config import Config
from kb.errors import LocalDbError

from .files import tail
from .java import find_java
from .manifest import BackupRefused, Counts
from .process import JVM_OPENS, conf_text
from .provision import MAIN_CLASS, Build, ensure_built

log = logging.getLogger(__name__)

ADMIN_CLASS = "org.neo4j.cli.AdminTool"
ADMIN_TIMEOUT_S = 3600
ADMIN_HEAP = "512m"


def build(config: Config) -> tuple[str, Build]:
    java = find_java()
    return java, ensure_built(config, java)


def dump(config: Config, work: Path, data_dir: Path, to_dir: Path) -> Path:
    """``neo4j-admin database dump`` of the store in ``data_dir`` (no server may use it)
    into ``to_dir``; ``work`` holds the Neo4j home the tool runs in."""
    java, built = build(config)
    staging_conf(config, work, data_dir)
    to_dir.mkdir(parents=True, exist_ok=True)
    _admin(java, built, work, work / "conf", work / "admin-dump.log", [
        "database", "dump", config.neo4j_database,
        f"--to-path={to_dir}", "--overwrite-destination=true",
    ])
    out = to_dir / f"{config.neo4j_database}.dump"
    if not out.is_file():
        raise LocalDbError(f"neo4j-admin reported a dump but wrote no {out}")
    return out


def staging_conf(config: Config, work: Path, data_dir: Path) -> Path:
    """A Neo4j home under ``work`` whose conf points its data at ``data_dir``; its conf."""
    conf_dir = work / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)
    conf = conf_dir / "neo4j.conf"
    # No listener: the store is read by this kb alone, beside a server that keeps its port.
    conf.write_text(conf_text(config, data_dir).replace(
        "server.bolt.enabled=true", "server.bolt.enabled=false",
    ).replace(
        f"server.memory.pagecache.size={config.neo4j_pagecache}",
        "server.memory.pagecache.size=64m",
    ))
    return conf


def load(config: Config, dump_file: Path, work: Path, data_dir: Path) -> None:
    """``neo4j-admin database load`` of ``dump_file`` into ``data_dir``, a folder no server
    uses; the dump must be named ``<database>.dump``."""
    java, built = build(config)
    staging_conf(config, work, data_dir)
    _admin(java, built, work, work / "conf", work / "admin-load.log", [
        "database", "load", config.neo4j_database,
        f"--from-path={dump_file.parent}", "--overwrite-destination=true",
    ])


def count(config: Config, work: Path, data_dir: Path) -> Counts:
    """What the store in ``data_dir`` holds, read by an embedded Neo4j with Bolt off."""
    java, built = build(config)
    conf = staging_conf(config, work, data_dir)
    out = work / "counts.json"
    out.unlink(missing_ok=True)
    log_path = work / "count.log"
    command = [
        java, f"-Xmx{ADMIN_HEAP}", "-XX:+UseG1GC", "-Dfile.encoding=UTF-8", *JVM_OPENS,
        "-cp", built.classpath, MAIN_CLASS, "count",
        str(work), str(conf), config.neo4j_database, str(out),
    ]
    _run(command, work, log_path, "counting the backup's store")
    try:
        data = json.loads(out.read_text())
    except (OSError, ValueError) as exc:
        raise LocalDbError(f"counting the backup's store wrote no counts ({exc})") from exc
    try:
        return Counts.from_json(data)
    except BackupRefused as exc:
        raise LocalDbError(f"counting the backup's store: {exc.message}") from exc


def _admin(java: str, built: Build, home: Path, conf_dir: Path, log_path: Path,
           args: list[str]) -> None:
    command = [java, f"-Xmx{ADMIN_HEAP}", "-Dfile.encoding=UTF-8", *JVM_OPENS,
               "-cp", built.jars, ADMIN_CLASS, *args]
    env = {"NEO4J_HOME": str(home), "NEO4J_CONF": str(conf_dir)}
    _run(command, home, log_path, f"neo4j-admin {' '.join(args[:2])}", env)


def _run(command: list[str], cwd: Path, log_path: Path, what: str,
         env: dict[str, str] | None = None) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        try:
            done = subprocess.run(
                command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, timeout=ADMIN_TIMEOUT_S, check=False,
                env=os.environ | (env or {}),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LocalDbError(f"{what} failed ({exc}); its log is {log_path}") from exc
    if done.returncode != 0:
        raise LocalDbError(
            f"{what} failed (exit {done.returncode}). Its log {log_path} ends with:\n"
            f"{tail(log_path, 15)}"
        )
