"""``kb serve --workers 2``: killing the supervisor outright leaves no worker serving."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0]


def _workers(supervisor: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat and stat[0] == supervisor and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(300)
def test_workers_exit_when_the_supervisor_is_killed(neo4j_conn, clean_db, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "KB_HOME": str(tmp_path / "home"),
        "KB_NEO4J_URI": neo4j_conn.uri,
        "KB_NEO4J_USER": neo4j_conn.user,
        "KB_NEO4J_PASSWORD": str(neo4j_conn.password),
        "KB_NEO4J_DATABASE": neo4j_conn.database,
        "KB_ANONYMOUS_READS": "true",
    }
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kb.cli import main; main()", "serve", "--workers", "2",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 or not _ready(port):
            if proc.poll() is not None:
                pytest.fail(f"kb serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            assert time.monotonic() < deadline, "kb serve was not ready within 120 s"
            workers = _workers(proc.pid)
            time.sleep(0.5)

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, (
                f"workers {[p for p in workers if _alive(p)]} still run without their "
                "supervisor")
            time.sleep(0.5)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in workers:  # only this test's own workers, when it failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
