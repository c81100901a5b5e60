"""A live ``kb serve`` under the GraphQL-over-HTTP audit (npm graphql-http) and a
schemathesis GraphQL fuzz run: no audit in error, no 5xx for any generated query."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import seed_history

from kb.api.errors import CLIENT_CODES
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
    assert out.returncode == 0, out.stdout + out.stderr
    summary = re.search(r"^(\d+) audits: (\d+) errors, (\d+) warnings$", out.stdout, re.M)
    assert summary, f"no summary line in the audit output:\n{out.stdout}{out.stderr}"
    audits, errors = int(summary[1]), int(summary[2])
    assert audits > 20 and errors == 0, out.stdout


def test_fuzzed_queries_never_get_a_server_error(live_api: tuple[str, dict],
                                                 tmp_path: Path) -> None:
    """Generated queries and mutations (with a write token, so mutations run) may be
    refused, but never answered with a 5xx or a masked server fault.

    For GraphQL, schemathesis' ``not_a_server_error`` also fails every response with an
    ``errors`` entry (ST113), expected refusals included, so its exit code is 1 even
    for a sound server. The verdict is read from its NDJSON report instead: every
    recorded response is checked, and every failure it reports must be an ST113 whose
    errors all carry a client code (bad input, not found, ...), never INTERNAL.
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
         "--workers", "1", "--request-timeout", "30", "--generation-database", "none",
         "-H", f"Authorization: Bearer {token}",
         "--report", "ndjson", "--report-ndjson-path", str(report)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)
    tail = f"exit {out.returncode}\n{out.stdout[-3000:]}{out.stderr[-2000:]}"
    events = [json.loads(line) for line in report.read_text().splitlines()]
    crashes = [e for e in events if {"FatalError", "NonFatalError"} & e.keys()]
    assert not crashes, f"schemathesis could not run: {crashes}\n{tail}"
    assert out.returncode in (0, 1), tail  # 2: nothing tested or bad config; 130: stopped

    responses: dict[str, dict] = {}
    failures: list[tuple[str, dict]] = []
    for event in events:
        recorder = event.get("ScenarioFinished", {}).get("recorder", {})
        for case_id, interaction in recorder.get("interactions", {}).items():
            responses[case_id] = interaction.get("response") or {}
        for case_id, checks in recorder.get("checks", {}).items():
            failures += [(case_id, c) for c in checks if c["status"] != "success"]
    statuses = [r.get("status_code") for r in responses.values()]
    assert len(statuses) > 100, f"too few requests were sent:\n{tail}"
    assert all(isinstance(s, int) and s < 500 for s in statuses), Counter(statuses)
    for case_id, check in failures:
        failure = check["failure_info"]["failure"]
        codes = _error_codes(responses.get(case_id, {}))
        assert failure["code"] == "ST113" and codes and codes <= CLIENT_CODES, (
            f"{failure} (error codes {codes})\n{tail}")
    server_log = (tmp_path / "serve.log").read_text()
    assert " INTERNAL " not in server_log and "Traceback" not in server_log, server_log[-3000:]


def _error_codes(response: dict) -> set[str]:
    """The ``extensions.code`` of every GraphQL error in one recorded response."""
    content = response.get("content") or {}
    raw = (base64.b64decode(content["$base64"]) if "$base64" in content
           else (content.get("string") or "").encode())
    try:
        body = json.loads(raw)
    except ValueError:
        return set()
    return {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
