"""``kb backup`` and ``kb restore`` for the local Neo4j: one tar file, never a half state.

Backup: under the server lock, stop the server if it runs, dump, start it again (writers'
managed transactions retry meanwhile); then, with the server back, load the dump into a
staging folder and count it there, so the manifest describes the dump itself. The file is
written under a temporary name and renamed when complete.

Restore: check the file (manifest, format, Neo4j version, dump size and checksum), load
it into a new data folder and count it while the server keeps serving; then, under the
server lock, stop, point ``data.current`` at the new folder (one atomic rename) and start.
If the new data does not start, the pointer goes back and the old data starts again. A
process killed anywhere leaves the pointer naming a whole store: the old one, or the
backup's, loaded and counted. What a killed run leaves behind is removed by the next
backup or restore.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from kb.config import Config
from kb.errors import InvalidInput, LocalDbError

from . import admin, process
from .files import (
    DEFAULT_DATA,
    Layout,
    locked,
    read_data_pointer,
    read_state,
    sync_dir,
    write_data_pointer,
)
from .manifest import (
    DUMP,
    FORMAT,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    BackupRefused,
    Manifest,
    check_restorable,
    default_name,
    is_backup_name,
    parse,
    to_remove,
)
from .server import start_locked, stop_locked

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
CHUNK = 1024 * 1024
WORK_PREFIX = ".kb-backup-work-"
RESTORE_PREFIX = "restore-"


def _quiet(step: str) -> None:
    log.info("%s", step)


def refuse_external(config: Config) -> None:
    if config.neo4j_uri:
        raise LocalDbError(
            f"KB_NEO4J_URI is set ({config.neo4j_uri}): kb backs up and restores only the "
            "local Neo4j it runs. Use neo4j-admin on that server, or `kb export`"
        )


def _refuse_docker(layout: Layout, state: dict[str, Any] | None) -> None:
    docker = state is not None and state.get("kind") == "docker"
    if docker or (state is None and (layout.home / "neo4j-docker").exists()
                  and not (layout.data_dir / "databases").exists()):
        raise LocalDbError(
            "the local Neo4j runs in Docker, whose store kb does not back up or restore; "
            "uninstall testcontainers to run it on Java, or use `kb export`"
        )


def _java_running(state: dict[str, Any] | None) -> bool:
    return (state is not None and state.get("kind") != "docker"
            and process.alive(int(state.get("pid") or 0)))


def _at_port(config: Config, state: dict[str, Any] | None) -> Config:
    """``config`` with the port the server ran on, so a restart comes back where it was."""
    port = (state or {}).get("port")
    return dataclasses.replace(config, neo4j_port=int(port)) if port else config


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def kb_version() -> str:
    try:
        return metadata.version("kb")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------- backup


def backup(config: Config, target: Path | None = None, *, keep: int | None = None,
           progress: Progress = _quiet) -> dict[str, Any]:
    """Write a backup of the local database to ``target`` (default: a new file in
    ``<home>/backups``); with ``keep``, then delete all but the newest ``keep`` there."""
    refuse_external(config)
    if keep is not None and keep < 1:
        raise InvalidInput("--keep", "must be at least 1", keep)
    layout = Layout.of(config)
    folder = (target.parent if target else layout.backups).expanduser().resolve()
    if target is not None:
        target = folder / target.name
        if target.exists():
            raise InvalidInput("FILE", f"{target} exists already; name a new file", str(target))
    began = time.monotonic()
    with locked(layout.backup_lock):
        _clean_stale(layout)
        if not (layout.data_dir / "databases").is_dir():
            raise LocalDbError(
                f"there is no local database under {layout.data_dir} to back up; "
                "`kb up` creates one"
            )
        folder.mkdir(parents=True, exist_ok=True)
        layout.backups.mkdir(parents=True, exist_ok=True)
        work = layout.backups / f"{WORK_PREFIX}{_stamp()}"
        work.mkdir()
        try:
            taken_at = datetime.now(UTC)  # the graph as it was when the server stopped
            dump_file, pause = _dump_offline(config, layout, work, progress)
            progress("checking the dump")
            size, sha = _digest(dump_file)
            staged = work / "staging"
            staged_data = staged / "data"
            admin.load(config, dump_file, staged, staged_data)
            counts = admin.count(config, staged, staged_data)
            manifest = Manifest(
                format=FORMAT, kb_version=kb_version(), neo4j_version=config.neo4j_version,
                database=config.neo4j_database, created_at=taken_at,
                dump_sha256=sha, dump_size=size, counts=counts,
            )
            shutil.rmtree(staged, ignore_errors=True)
            progress("writing the backup file")
            if target is None:
                target = folder / default_name(
                    manifest.created_at, (p.name for p in folder.iterdir()))
            _write_tar(target, manifest, dump_file)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        removed = rotate(folder, keep) if keep is not None else []
    return {
        "file": str(target),
        "size": target.stat().st_size,
        "manifest": manifest.to_json(),
        "downtime_s": pause["down_s"],
        "pause": pause,
        "seconds": round(time.monotonic() - began, 3),
        "removed": [str(p) for p in removed],
    }


def _dump_offline(config: Config, layout: Layout, work: Path,
                  progress: Progress) -> tuple[Path, dict[str, float]]:
    """Copy the store with the server stopped, start it again if it ran, then dump the copy;
    the dump, and how long the server was down (``down_s``) and in which steps.

    Copying is what keeps the pause short: a dump starts a JVM of its own, which would
    add seconds to the time writers wait.
    """
    snapshot = work / "snapshot"
    pause: dict[str, float] = {}
    with locked(layout.lock):
        state = read_state(layout)
        _refuse_docker(layout, state)
        running = _java_running(state)
        down_at = time.monotonic()
        if running:
            progress("stopping the server (writers wait and retry)")
            stop_locked(layout)
        pause["stop_s"] = time.monotonic() - down_at
        try:
            progress("copying the stopped store")
            _copy_store(layout.data_dir, snapshot / "data", config.neo4j_database)
        finally:
            pause["copy_s"] = time.monotonic() - down_at - pause["stop_s"]
            if running:
                progress("starting the server again")
                start_locked(_at_port(config, state), layout, java_only=True)
        pause["down_s"] = time.monotonic() - down_at
        pause["start_s"] = pause["down_s"] - pause["stop_s"] - pause["copy_s"]
    progress("dumping the copy")
    dump_file = admin.dump(config, snapshot, snapshot / "data", work / "dump")
    shutil.rmtree(snapshot, ignore_errors=True)
    return dump_file, {k: round(v, 3) for k, v in sorted(pause.items())}


def _copy_store(data_dir: Path, to: Path, database: str) -> None:
    """The database's store and transaction logs, as a stopped server left them."""
    store = data_dir / "databases" / database
    if not store.is_dir():
        raise LocalDbError(f"there is no database {database!r} under {data_dir} to back up")
    shutil.copytree(store, to / "databases" / database)
    logs = data_dir / "transactions" / database
    if logs.is_dir():
        shutil.copytree(logs, to / "transactions" / database)


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _write_tar(target: Path, manifest: Manifest, dump_file: Path) -> None:
    """The tar under a temporary name, synced, then renamed: never a half file at ``target``."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                data = manifest.encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
                with contextlib.closing(_bytes_io(data)) as fh:
                    tar.addfile(info, fh)
                info = tarfile.TarInfo(DUMP)
                info.size, info.mtime, info.mode = manifest.dump_size, int(time.time()), 0o600
                with open(dump_file, "rb") as fh:
                    tar.addfile(info, fh)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
        sync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _bytes_io(data: bytes) -> IO[bytes]:
    import io

    return io.BytesIO(data)


# ---------------------------------------------------------------------- list, rotate


def read_manifest(path: Path) -> Manifest:
    """The manifest of the backup at ``path``, checked as far as it goes without the dump."""
    with _open_tar(path) as tar:
        return _manifest_of(tar, path)


def list_backups(folder: Path) -> list[dict[str, Any]]:
    """kb's backups in ``folder`` (by name pattern and a readable manifest), newest first."""
    found = []
    for path, manifest in _backups_in(folder):
        found.append({
            "file": str(path),
            "created_at": manifest.created_at.isoformat(timespec="seconds"),
            "size": path.stat().st_size,
            "neo4j_version": manifest.neo4j_version,
            "kb_version": manifest.kb_version,
            "nodes": manifest.counts.node_total,
            "relationships": manifest.counts.relationship_total,
        })
    return sorted(found, key=lambda b: (b["created_at"], b["file"]), reverse=True)


def rotate(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` of kb's backups in ``folder``; what it deleted."""
    gone = to_remove(((p, m.created_at) for p, m in _backups_in(folder)), keep)
    for path in gone:
        path.unlink(missing_ok=True)
        log.info("removed the old backup %s", path)
    return gone


def _backups_in(folder: Path) -> Iterator[tuple[Path, Manifest]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        if not is_backup_name(path.name) or not path.is_file():
            continue
        try:
            yield path, read_manifest(path)
        except BackupRefused as exc:
            log.info("skipping %s: %s", path, exc.message)


# --------------------------------------------------------------------------- restore


@dataclasses.dataclass
class Prepared:
    """A backup loaded and counted in a new data folder, ready to be switched to."""

    config: Config
    layout: Layout
    source: Path
    manifest: Manifest
    work: Path
    data_name: str
    seconds: float = 0.0

    @property
    def data_dir(self) -> Path:
        return self.layout.db_home / self.data_name


@contextlib.contextmanager
def preparing(config: Config, source: Path,
              progress: Progress = _quiet) -> Iterator[Prepared]:
    """Check ``source`` and load it beside the live data while the server keeps serving.

    Holds the backup lock until the block ends; what was not switched to is removed then.
    """
    refuse_external(config)
    layout = Layout.of(config)
    began = time.monotonic()
    with locked(layout.backup_lock):
        _refuse_docker(layout, read_state(layout))
        _clean_stale(layout)
        stamp = _stamp()
        work = layout.db_home / f"{RESTORE_PREFIX}{stamp}"
        prepared = Prepared(config, layout, source, read_manifest(source), work,
                            f"data-{stamp}")
        check_restorable(prepared.manifest, config.neo4j_version)
        work.mkdir(parents=True)
        try:
            progress("checking the dump")
            dump_file = _extract_dump(source, prepared.manifest,
                                      work / "dump" / f"{config.neo4j_database}.dump")
            progress("loading it beside the live data")
            admin.load(config, dump_file, work, prepared.data_dir)
            dump_file.unlink()
            progress("counting what it holds")
            counted = admin.count(config, work, prepared.data_dir)
            wrong = prepared.manifest.counts.differences(counted)
            if wrong:
                raise BackupRefused(
                    "the loaded backup does not hold what its manifest says (manifest vs "
                    f"loaded: {'; '.join(wrong[:10])}); the live data is untouched"
                )
            prepared.seconds = time.monotonic() - began
            yield prepared
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if read_data_pointer(layout) != prepared.data_name:
                shutil.rmtree(prepared.data_dir, ignore_errors=True)


def switch(prepared: Prepared, progress: Progress = _quiet) -> dict[str, Any]:
    """Stop the server, point it at the prepared data, start it; back to the old on failure."""
    layout, config = prepared.layout, prepared.config
    began = time.monotonic()
    with locked(layout.lock):
        old_name = read_data_pointer(layout) or DEFAULT_DATA
        state = read_state(layout)
        _refuse_docker(layout, state)
        at_port = _at_port(config, state)
        progress("stopping the server")
        stop_locked(layout)
        progress("switching to the restored data")
        write_data_pointer(layout, prepared.data_name)
        try:
            progress("starting the server on the restored data")
            start_locked(at_port, layout, java_only=True)
        except BaseException as exc:
            write_data_pointer(layout, old_name)
            try:
                stop_locked(layout)
                start_locked(at_port, layout, java_only=True)
            except Exception as again:
                raise LocalDbError(
                    f"the restored database did not start ({_first_line(exc)}); kb switched "
                    f"back to the previous data, which did not start either "
                    f"({_first_line(again)}). The data is in {layout.db_home / old_name}"
                ) from exc
            raise LocalDbError(
                f"the restored database did not start ({_first_line(exc)}); kb switched back "
                "to the previous data, which runs again unchanged"
            ) from exc
        down = time.monotonic() - began
    shutil.rmtree(layout.db_home / old_name, ignore_errors=True)
    return {
        "file": str(prepared.source),
        "manifest": prepared.manifest.to_json(),
        "data_dir": str(prepared.data_dir),
        "downtime_s": round(down, 3),
        "seconds": round(prepared.seconds + time.monotonic() - began, 3),
    }


def restore(config: Config, source: Path, *,
            confirm: Callable[[Prepared], bool] | None = None,
            progress: Progress = _quiet) -> dict[str, Any] | None:
    """Replace the local database with the backup at ``source``; None if not confirmed."""
    with preparing(config, source, progress) as prepared:
        if confirm is not None and not confirm(prepared):
            return None
        return switch(prepared, progress)


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0]


@contextlib.contextmanager
def _open_tar(path: Path) -> Iterator[tarfile.TarFile]:
    if not path.is_file():
        raise BackupRefused(f"not a kb backup: {path} is not a file")
    try:
        # Not a ``with``: only opening is "not a tar"; errors inside are the caller's.
        tar = tarfile.open(path, mode="r:")  # noqa: SIM115
    except (tarfile.TarError, OSError) as exc:
        raise BackupRefused(f"not a kb backup: {path} is not a tar file ({exc})") from None
    with tar:
        yield tar


def _manifest_of(tar: tarfile.TarFile, path: Path) -> Manifest:
    try:
        first = tar.next()
    except tarfile.TarError as exc:
        raise BackupRefused(f"not a kb backup: {path} is a damaged tar ({exc})") from None
    if first is None or first.name != MANIFEST or not first.isfile():
        raise BackupRefused(f"not a kb backup: {path} does not start with {MANIFEST}")
    if first.size > MAX_MANIFEST_BYTES:
        raise BackupRefused(f"not a kb backup: the {MANIFEST} in {path} is too large")
    fh = tar.extractfile(first)
    if fh is None:
        raise BackupRefused(f"not a kb backup: {path} has an unreadable {MANIFEST}")
    try:
        raw = fh.read()
    except (tarfile.TarError, OSError) as exc:
        raise BackupRefused(f"not a kb backup: {path} is a damaged tar ({exc})") from None
    return parse(raw, f"{path.name}: {MANIFEST}")


def _extract_dump(source: Path, manifest: Manifest, out: Path) -> Path:
    """The dump copied out of ``source`` to ``out``, its size and SHA-256 checked."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with _open_tar(source) as tar:
        _manifest_of(tar, source)
        try:
            member = tar.next()
        except tarfile.TarError as exc:
            raise BackupRefused(f"{source} is a damaged tar ({exc})") from None
        if member is None or member.name != DUMP or not member.isfile():
            raise BackupRefused(f"{source} holds no {DUMP} after its {MANIFEST}")
        fh = tar.extractfile(member)
        if fh is None:
            raise BackupRefused(f"{source} has an unreadable {DUMP}")
        digest, size = hashlib.sha256(), 0
        try:
            with open(out, "wb") as dst:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
        except (tarfile.TarError, OSError) as exc:
            raise BackupRefused(f"{source} is a damaged tar ({exc})") from None
    if size != manifest.dump_size:
        raise BackupRefused(
            f"{source}: the dump is {size} bytes but the manifest says "
            f"{manifest.dump_size}; the file is damaged or was altered"
        )
    if digest.hexdigest() != manifest.dump_sha256:
        raise BackupRefused(
            f"{source}: the dump's SHA-256 does not match the manifest; the file is damaged "
            "or was altered"
        )
    return out


# ------------------------------------------------------------------------ clean-up


def _clean_stale(layout: Layout) -> None:
    """Remove what killed backups and restores left: work folders, and data folders that
    the pointer does not name. Called with the backup lock held."""
    if layout.backups.is_dir():
        for path in layout.backups.iterdir():
            if path.name.startswith(WORK_PREFIX):
                shutil.rmtree(path, ignore_errors=True)
            elif path.name.startswith(".kb-backup-") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
    if not layout.db_home.is_dir():
        return
    pointer = layout.data_pointer
    if pointer.exists() and read_data_pointer(layout) is None:
        log.warning("%s is unreadable; leaving the data folders as they are", pointer)
        return
    with locked(layout.lock):
        live = layout.data_dir.name
        for path in layout.db_home.iterdir():
            name = path.name
            if not path.is_dir() or name == live:
                continue
            if name.startswith(RESTORE_PREFIX) or (
                name.startswith("data-") and name != DEFAULT_DATA):
                log.info("removing %s, left by a backup or restore that did not finish",
                         path)
                shutil.rmtree(path, ignore_errors=True)
            elif name == DEFAULT_DATA and pointer.exists():
                log.info("removing %s, the data a finished restore replaced", path)
                shutil.rmtree(path, ignore_errors=True)

