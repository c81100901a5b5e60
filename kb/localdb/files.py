"""Where the local server keeps its things under ``config.home``, and the small files there.

    <home>/password             generated once, mode 0600 (the folder is 0700)
    <home>/neo4j.pid            pid of the running server, for people and tools
    <home>/neo4j.json           state: kind, pid, port, uri, started_at, version, memory
    <home>/neo4j.lock           held while a start or stop is under way
    <home>/neo4j/               the Neo4j home: data/, logs/, neo4j.conf, kb-neo4j.log
    <home>/neo4j/data.current   names the live data folder once a restore switched it
    <home>/backups/             kb backup's files (see backup)
    <home>/backup.lock          held by a backup or restore from start to end
    <home>/cache/neo4j-<ver>/   Maven's classpath and the compiled launcher (see provision)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.config import Config, Secret

log = logging.getLogger(__name__)


def cache_dir(config: Config) -> Path:
    """The folder for downloads and builds that do not depend on one database.

    Tests point many throw-away homes at one cache by making ``<home>/cache`` a symlink.
    """
    return config.home / "cache"


@dataclass(frozen=True)
class Layout:
    home: Path

    @classmethod
    def of(cls, config: Config) -> Layout:
        return cls(config.home.expanduser())

    @property
    def db_home(self) -> Path:
        return self.home / "neo4j"

    @property
    def data_dir(self) -> Path:
        """The live data folder: the one ``data.current`` names, else ``neo4j/data``."""
        name = read_data_pointer(self)
        return self.db_home / (name or DEFAULT_DATA)

    @property
    def data_pointer(self) -> Path:
        return self.db_home / "data.current"

    @property
    def backups(self) -> Path:
        return self.home / "backups"

    @property
    def backup_lock(self) -> Path:
        return self.home / "backup.lock"

    @property
    def conf(self) -> Path:
        return self.db_home / "neo4j.conf"

    @property
    def log(self) -> Path:
        return self.db_home / "kb-neo4j.log"

    @property
    def password(self) -> Path:
        return self.home / "password"

    @property
    def pid(self) -> Path:
        return self.home / "neo4j.pid"

    @property
    def state(self) -> Path:
        return self.home / "neo4j.json"

    @property
    def lock(self) -> Path:
        return self.home / "neo4j.lock"


DEFAULT_DATA = "data"
_DATA_NAME = re.compile(r"^data(?:-[0-9A-Za-z]+)*$")


def read_data_pointer(layout: Layout) -> str | None:
    """The data folder's name in ``data.current``; None when there is no usable pointer."""
    try:
        name = layout.data_pointer.read_text().strip()
    except OSError:
        return None
    if not _DATA_NAME.match(name):
        log.warning("ignoring %s: %r is not a data folder name", layout.data_pointer, name)
        return None
    return name


def write_data_pointer(layout: Layout, name: str) -> None:
    """Point the server at ``<db_home>/<name>``, all at once: a crash leaves either name."""
    if not _DATA_NAME.match(name):
        raise ValueError(f"not a data folder name: {name!r}")
    write_atomically(layout.data_pointer, name + "\n")


def write_atomically(path: Path, text: str) -> None:
    """``text`` in ``path`` via a synced temp file and a rename, then the folder synced."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    sync_dir(path.parent)


def sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_home(layout: Layout) -> None:
    if not layout.home.exists():
        layout.home.mkdir(parents=True, mode=0o700)
    layout.db_home.mkdir(exist_ok=True)


def password(layout: Layout) -> Secret:
    """The local server's password, created on first use and kept."""
    ensure_home(layout)
    path = layout.password
    if not path.exists():
        os.chmod(layout.home, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24) + "\n")
        log.info("generated a password for the local Neo4j in %s", path)
    return Secret(path.read_text().strip())


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so two kb processes never start one server twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_state(layout: Layout) -> dict[str, Any] | None:
    try:
        data = json.loads(layout.state.read_text())
    except FileNotFoundError:
        data = None
    except (OSError, ValueError):
        log.warning("ignoring unreadable %s", layout.state)
        data = None
    if isinstance(data, dict):
        return data
    try:  # a pid file without its state still names a process that may need stopping
        return {"kind": "java", "pid": int(layout.pid.read_text().strip())}
    except (OSError, ValueError):
        return None


def write_state(layout: Layout, state: dict[str, Any]) -> None:
    tmp = layout.state.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(layout.state)
    if state.get("pid"):
        layout.pid.write_text(f"{state['pid']}\n")


def clear_state(layout: Layout) -> None:
    for path in (layout.state, layout.pid):
        path.unlink(missing_ok=True)


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log, or a note that there is none."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
