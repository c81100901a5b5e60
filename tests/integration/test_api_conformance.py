"""A live ``kb serve`` under the GraphQL-over-HTTP audit (npm graphql-http) and a
schemathesis GraphQL fuzz run: no audit in error, no 5xx for any generated query."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import seed_history

from kb.ingest import Client

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "graphql" / "conformance" / "audit.mjs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_api(client: Client, neo4j_conn, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    """``kb serve`` in its own process over the session Neo4j, with a small history."""
    seed_history(client)
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
        [sys.executable, "-c", "from kb.cli import main; main()", "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"kb serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("kb serve was not ready within 120 s")
            time.sleep(0.5)
        yield base + "/graphql", env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_graphql_over_http_audit_passes(live_api: tuple[str, dict]) -> None:
    api, _ = live_api
    node = shutil.which("node")
    if node is None or not (AUDIT.parent / "node_modules" / "graphql-http").is_dir():
        pytest.fail("node or the graphql-http audit is missing: run `bash scripts/setup.sh`")
    out = subprocess.run([node, str(AUDIT), api], capture_output=True, text=True,
                         timeout=180)
    summary = out.stdout.strip().splitlines()[-1]
    assert out.returncode == 0, out.stdout + out.stderr
    audits, errors = summary.split(" audits: ")[0], summary.split(": ")[1].split(" errors")[0]
    assert int(audits) > 20 and int(errors) == 0, summary


def test_fuzzed_queries_never_get_a_server_error(live_api: str, tmp_path: Path) -> None:
    """Generated queries and mutations (with a write token, so mutations run) may be
    refused, but never answered with a 5xx or a masked server fault.

    schemathesis' own exit code is not the verdict: its GraphQL check counts every
    expected error (bad input, not found) as a failure, so the statuses it recorded and
    the server's log are read instead.
    """
    api, env = live_api
    token = json.loads(subprocess.run(
        [sys.executable, "-c", "from kb.cli import main; main()", "token", "create",
         "--name", "fuzz", "--scope", "write", "--actor", "fuzzer", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=120).stdout)["secret"]
    report = tmp_path / "fuzz.ndjson"
    out = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", api,
         "--checks", "not_a_server_error", "-n", "25", "--phases", "fuzzing",
         "--workers", "1", "-H", f"Authorization: Bearer {token}",
         "--report", "ndjson", "--report-ndjson-path", str(report)],
        capture_output=True, text=True, timeout=400, cwd=tmp_path)
    statuses = [s for line in report.read_text().splitlines()
                for s in _statuses(json.loads(line))]
    assert len(statuses) > 30, f"too few requests were sent:\n{out.stdout[-3000:]}"
    assert not [s for s in statuses if s >= 500], sorted(set(statuses))
    server_log = (tmp_path / "serve.log").read_text()
    assert " INTERNAL " not in server_log and "Traceback" not in server_log, server_log[-3000:]


def _statuses(event: object) -> Iterator[int]:
    """Every HTTP status recorded anywhere in one ndjson event."""
    if isinstance(event, dict):
        for key, value in event.items():
            if key in {"status_code", "status"} and isinstance(value, int) and value >= 100:
                yield value
            else:
                yield from _statuses(value)
    elif isinstance(event, list):
        for item in event:
            yield from _statuses(item)
