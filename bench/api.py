"""API benchmark: p50/p95 over HTTP for the questions, against raw Cypher as the floor.

    .venv/bin/python bench/api.py                    # 100,000 runs, 200 samples a question
    .venv/bin/python bench/api.py --runs 20000 --samples 50

Data: ``--runs`` training runs written through the write path (``BatchBuilder`` batches,
``apply``), each reading two of 2,000 dataset versions (500 datasets, 4 versions each,
every version after the first derived from the one before), run by one of 300 people;
every fifth run produces a version of one of 1,000 models, and each model's newest version
is deployed to prod. Generation is skipped when the graph already holds this bench's data
(a ``bench-run-`` count check), so re-runs measure only.

First, uncounted warm-up rounds of every path below, until Neo4j's JIT compiler takes
under ``--settled`` (5%) of its CPU in two rounds in a row (``--max-warmup`` rounds at
most): a just-started server answers several times slower. Then each question is sampled
on the three paths in turn (one call of each, then the next), so that the machine's speed,
which drifts by tens of percent over minutes, weighs the same on all three:

1. **API**: ``POST /graphql`` on a real uvicorn bound to loopback (``--workers``, 2 by
   default like ``kb serve`` on a 2-core machine; measured once every worker is up and the
   server is idle), with a lean keep-alive ``http.client`` connection - whoTrained (one
   version), lineage (depth 5, DOWNSTREAM from a dataset version) and impact (a dataset
   version). Also the server processes' CPU time per request, which load on a shared
   machine barely moves. (Until this round the latency client was httpx, whose own CPU -
   several hundred microseconds a request, on the same two cores as the server and Neo4j -
   was counted in the API figures but not in the floor's, which reads in-process: the
   bench measured the client as much as the server.)
2. **In-process**: kb.graph's functions as the CLI calls them (the sync twins of the
   API's reads for whoTrained and impact: the same statements and shaping), no HTTP.
3. **Raw Cypher floor** (labelled below; held in this file): one statement per question
   through the driver, records kept as the driver builds them - for whoTrained kb's own
   statement; for lineage and impact hand-written quantified-path statements that return
   the same answer content as kb (lineage: nodes with kb's properties, typed edges, people
   and deployments; impact: each downstream model version with one shortest path and its
   active deployments), without per-hop caps.

Then whoTrained on the API and the raw path by spacing: back to back, and after 5 and 20 ms
of client idleness before each call (every process a request crosses must then be woken
first, and a request through the API crosses the server as well as Neo4j). Then requests/s
for whoTrained with 8 concurrent keep-alive clients, sent by a bare asyncio HTTP/1.1 load
generator so that the client's own CPU (same cores) stays small. Load
averages are printed with the figures. Prints figures, asserts nothing.
Uses the Neo4j of the environment (``KB_NEO4J_URI``... or the local one of ``KB_HOME``).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from loadgen import exchange
from procstat import (
    Neo4jUse,
    add_warmup_arguments,
    cpu_seconds,
    local_neo4j_pid,
    process_tree,
    warm_up,
)

from kb.config import Config
from kb.domain import Label, Ref
from kb.graph import Graph, apply, impact, lineage, who_trained
from kb.graph.training import ONE_VERSION
from kb.ingest import BatchBuilder
from kb.localdb import resolve

DATASETS, VERSIONS, PEOPLE, MODELS = 500, 4, 300, 1000
T0 = datetime(2024, 1, 1, tzinfo=UTC)

WHO_TRAINED = ('query($m: String!, $v: String) { whoTrained(model: $m, version: $v) '
               '{ version personHandle personActive runId commit inputs { dataset version } } }')
LINEAGE = ('query($id: ID!) { lineage(id: $id, direction: DOWNSTREAM, depth: 5) '
           '{ truncated nodes { id label key } edges { source target type } } }')
IMPACT = ('query($d: String!, $v: String) { impact(dataset: $d, version: $v) '
          '{ kind key hops path { key } } }')

# Raw Cypher floor (not kb's code path): one hand-written statement per question, giving
# the same answer content as kb's, no per-hop caps (the bench data never reaches them).
_NODE = ("[elementId({v}), labels({v}), coalesce({v}.key, {v}.id), {v}.name, {v}.environment, "
         "{v}.status, {v}.deployedAt]")
_PEOPLE = ("COLLECT {{ MATCH (p:Person)-[t:TRAINED|DEPLOYED]->({v}) "
           "RETURN [p.handle, p.name, type(t)] }}")
# Lineage, DOWNSTREAM depth 5 from a dataset version: every data node within 4 hops, every
# run that used one (with its USED edges, and its PRODUCED edges when it is within 3 hops),
# every deployment serving a model version reached; each node with the properties kb
# reads, its typed outgoing edges and the people who trained or deployed it.
FLOOR_LINEAGE = f"""
MATCH (d:DatasetVersion {{key: $key}})
MATCH p = (d)(()<-[:USED]-(:Run)-[:PRODUCED]->()){{0,2}}(x)
WITH x, min(length(p)) AS depth
WITH collect([x, depth]) AS data
CALL (data) {{
  UNWIND data AS xd
  WITH xd[0] AS x
  RETURN {_NODE.format(v="x")} AS node, [] AS edges, [] AS people
  UNION ALL
  UNWIND data AS xd
  WITH xd[0] AS x, xd[1] AS depth
  MATCH (run:Run)-[:USED]->(x)
  WITH run, min(depth) + 1 AS at, collect(elementId(x)) AS used
  RETURN {_NODE.format(v="run")} AS node,
         [u IN used | [u, 'USED']] + CASE WHEN at > 3 THEN [] ELSE
           COLLECT {{ MATCH (run)-[:PRODUCED]->(y) RETURN [elementId(y), 'PRODUCED'] }}
         END AS edges,
         {_PEOPLE.format(v="run")} AS people
  UNION ALL
  UNWIND data AS xd
  WITH xd[0] AS x
  MATCH (dep:Deployment)-[:SERVES]->(x:ModelVersion)
  RETURN {_NODE.format(v="dep")} AS node, [[elementId(x), 'SERVES']] AS edges,
         {_PEOPLE.format(v="dep")} AS people
}}
RETURN node, edges, people
"""
# Impact: every downstream model version with one shortest path (the keys along it) and
# the ACTIVE deployments serving it.
FLOOR_IMPACT = """
MATCH (d:DatasetVersion {key: $key})
MATCH p = ANY SHORTEST (d)(()<-[:USED]-(:Run)-[:PRODUCED]->()){1,12}(v:ModelVersion)
RETURN v.key AS key, length(p) AS hops, [n IN nodes(p) | coalesce(n.key, n.id)] AS path,
       COLLECT { MATCH (dep:Deployment {status: 'ACTIVE'})-[:SERVES]->(v)
                 RETURN [dep.id, dep.environment, dep.status, dep.deployedAt] } AS deployments
"""
COUNT_RUNS = "MATCH (r:Run) WHERE r.id STARTS WITH 'bench-run-' RETURN count(r) AS n"


def _dv(i: int) -> tuple[str, str]:
    return f"ds{i // VERSIONS:03d}", f"v{i % VERSIONS}"


def generate(graph: Graph, runs: int, batch: int) -> None:
    have = graph.read(lambda tx: tx.run(COUNT_RUNS).single()["n"])
    if have >= runs:
        print(f"bench data present ({have:,} runs); generation skipped")
        return
    print(f"generating {runs:,} runs through BatchBuilder (batches of {batch:,}) ...")
    rng = random.Random(7)
    started = time.perf_counter()
    b = BatchBuilder(graph)
    for p in range(PEOPLE):
        b.person(f"p{p:03d}", name=f"Person {p}", active=p % 10 != 0)
    for i in range(DATASETS * VERSIONS):
        name, version = _dv(i)
        prev = [f"{name}@v{i % VERSIONS - 1}"] if i % VERSIONS else []
        b.dataset_version(name, version, rows=1000 + i, derived_from=prev)
    apply(graph, b.batch(), actor="bench", now=datetime.now(UTC))
    latest: dict[int, int] = {}
    for start in range(0, runs, batch):
        b = BatchBuilder(graph)
        for i in range(start, min(start + batch, runs)):
            a, c = rng.randrange(DATASETS * VERSIONS), rng.randrange(DATASETS * VERSIONS)
            run = b.run(id=f"bench-run-{i}", person=f"p{i % PEOPLE:03d}",
                        started_at=T0 + timedelta(minutes=i),
                        inputs=[(*_dv(a), "train"), (*_dv(c), "validation")],
                        params={"lr": 0.01 * (i % 7 + 1), "depth": i % 9},
                        metrics={"auc": 0.5 + (i % 50) / 100},
                        code={"repo": "git@example.com:ml/bench", "commit": f"c{i % 997:04x}"})
            if i % 5 == 0:
                model = (i // 5) % MODELS
                version = (i // 5) // MODELS + 1
                b.model_version(f"m{model:04d}", version=str(version), run_id=run.id)
                latest[model] = version
        apply(graph, b.batch(), actor="bench", now=datetime.now(UTC))
        done = min(start + batch, runs)
        if done % (batch * 10) == 0 or done == runs:
            print(f"  {done:,} runs, {done / (time.perf_counter() - started):,.0f} runs/s")
    b = BatchBuilder(graph)
    for model, version in latest.items():
        b.deploy(f"m{model:04d}", str(version), environment="prod", id=f"bench-dep-{model}",
                 by=f"p{model % PEOPLE:03d}", deployed_at=T0 + timedelta(days=30))
    apply(graph, b.batch(), actor="bench", now=datetime.now(UTC))
    print(f"generated in {time.perf_counter() - started:,.0f} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(workers: int) -> tuple[subprocess.Popen, str]:
    """``kb serve``'s app under uvicorn in its own process(es), so the client and the
    server do not share one interpreter. Returns once every worker is up and the server
    is idle: ``/readyz`` answers as soon as the first worker is ready, and measuring
    while the others still import and build their schema on the same two cores is what
    made two workers look several times slower than one."""
    port = _free_port()
    env = {**os.environ, "KB_ANONYMOUS_READS": "true", "KB_GRAPHIQL": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "kb.api.app:create_app_from_env", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log", "--timeout-worker-healthcheck", "30"],
        env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    deadline = time.perf_counter() + 180
    while time.perf_counter() < deadline:
        pids = process_tree(proc.pid)
        before = cpu_seconds(pids)
        time.sleep(0.5)
        if (workers == 1 or len(pids) > workers) and cpu_seconds(pids) - before < 0.03:
            break
    return proc, base + "/graphql"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_together(fns: list[Callable[[], Any]], samples: int, warmup: int = 10
                   ) -> list[list[float]]:
    """Milliseconds per call of each of ``fns``, sampled in turn (one call of each, then
    the next round): the machine's speed drifts by tens of percent over minutes, and
    interleaving gives every path the same drift, so that their ratio measures the paths."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(samples):
        for fn, times in zip(fns, out, strict=True):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
    return out


def timed_in_blocks(fns: list[Callable[[], Any]], samples: int, idle: float,
                    block: int = 20) -> list[list[float]]:
    """Milliseconds per call of each of ``fns``, ``block`` calls of one path in a row before
    the next path's block (blocks alternate, so drift weighs the same on all), each call
    after ``idle`` seconds of the client doing nothing. Back to back (``idle`` 0) every
    process on the path is already awake; after an idle pause each must be woken."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(max(1, samples // block)):
        for fn, times in zip(fns, out, strict=True):
            for _ in range(block):
                if idle:
                    time.sleep(idle)
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1000)
    return out


def warm_up_paths(fns: list[Callable[[], Any]], neo4j_pid: int | None, rounds: int,
                  settled: float, calls: int = 100) -> None:
    """Uncounted rounds of ``calls`` calls of each path until Neo4j's JIT compiler settles
    (``procstat.warm_up``): a just-started server answers these questions several times
    slower than a warm one."""

    def round_(i: int) -> float | None:
        began = time.perf_counter()
        with Neo4jUse(neo4j_pid) as neo4j:
            for fn in fns:
                for _ in range(calls):
                    fn()
        share = ("not measured (remote Neo4j)" if neo4j.jit_share is None
                 else f"{neo4j.jit_share:.0%} of its CPU")
        print(f"warm-up round {i + 1}: {time.perf_counter() - began:.1f} s, Neo4j's JIT "
              f"compiler {share} (load {_load()})")
        return neo4j.jit_share

    warm_up(round_, rounds, settled)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def _post_bytes(url: str, body: dict[str, Any]) -> tuple[str, int, bytes]:
    """One keep-alive HTTP/1.1 POST, encoded once, for the load generator."""
    parsed = httpx.URL(url)
    payload = json.dumps(body).encode()
    head = (f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.host}:{parsed.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return parsed.host, parsed.port or 80, head.encode() + payload


def throughput(url: str, body: dict[str, Any], clients: int, seconds: float) -> float:
    """Requests/s from ``clients`` keep-alive connections, each sending its next request
    when the previous answer is in. A bare asyncio HTTP/1.1 client (like wrk), so that the
    load generator, which shares the machine's cores with the server and Neo4j, spends
    tens of microseconds a request rather than the ~1 ms of a full-featured client. Every
    answer is checked: status 200 and no GraphQL errors."""
    host, port, request = _post_bytes(url, body)

    async def worker(stop: float) -> int:
        reader, writer = await asyncio.open_connection(host, port)
        n = 0
        try:
            while time.perf_counter() < stop:
                head, answer = await exchange(reader, writer, request)
                if head[9:12] != b"200" or b'"errors"' in answer:
                    raise RuntimeError(f"the API answered {head[:12]!r}: {answer[:300]!r}")
                n += 1
        finally:
            writer.close()
        return n

    async def main() -> int:
        await worker(time.perf_counter() + 1)  # warm-up
        stop = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(worker(stop) for _ in range(clients))))

    return asyncio.run(main()) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2,
                        help="uvicorn worker processes (kb serve's default on 2 cores)")
    add_warmup_arguments(parser, "Uncounted", most=12)
    args = parser.parse_args()

    config = Config.from_env()
    conn = resolve(config, start=True)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    graph.ensure_schema()
    generate(graph, args.runs, args.batch)

    model, version = "m0007", str(max(1, args.runs // 5 // MODELS // 2))
    dataset, dsv = "ds042", "v1"
    dv_key = f"{dataset}@{dsv}"
    proc, url = serve(args.workers)
    try:
        run(args, graph, proc, url, model, version, dataset, dsv, dv_key)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        graph.close()


def run(args: argparse.Namespace, graph: Graph, proc: subprocess.Popen, url: str,
        model: str, version: str, dataset: str, dsv: str, dv_key: str) -> None:
    parsed = httpx.URL(url)
    conn = http.client.HTTPConnection(parsed.host, parsed.port, timeout=30)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def api(query: str, variables: dict[str, Any]) -> Callable[[], Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()

        def call() -> Any:
            # One keep-alive connection; the answer is read and parsed in full, as a
            # client would. The server closes a connection idle for a few seconds (while
            # the in-process rows run): the first request after that reconnects, in the
            # warm-up.
            try:
                conn.request("POST", parsed.path, body=body, headers=headers)
                r = conn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected):
                conn.close()
                conn.request("POST", parsed.path, body=body, headers=headers)
                r = conn.getresponse()
            text = r.read()
            if r.status != 200 or json.loads(text).get("errors"):
                raise RuntimeError(f"the API answered {r.status}: {text[:300]!r}")
        return call

    def raw(statement: str, **params: Any) -> Callable[[], Any]:
        def call() -> Any:
            # Records as the driver builds them, the cheapest complete read it offers.
            return graph.read(lambda tx: list(tx.run(statement, **params)))
        return call

    rows = {
        "whoTrained": (api(WHO_TRAINED, {"m": model, "v": version}),
                       lambda: who_trained(graph, model, version),
                       raw(ONE_VERSION, key=f"{model}@{version}")),
        "lineage depth 5": (api(LINEAGE, {"id": f"dataset:{dv_key}"}),
                            lambda: lineage(graph, Ref(Label.DATASET_VERSION, dv_key),
                                            direction="DOWNSTREAM", depth=5),
                            raw(FLOOR_LINEAGE, key=dv_key)),
        "impact": (api(IMPACT, {"d": dataset, "v": dsv}),
                   lambda: impact(graph, dataset, dsv), raw(FLOOR_IMPACT, key=dv_key)),
    }
    g = lineage(graph, Ref(Label.DATASET_VERSION, dv_key), direction="DOWNSTREAM", depth=5)
    print(f"\nlineage from {dv_key}: {len(g.nodes)} nodes, {len(g.edges)} edges, "
          f"truncated={g.truncated}; impact: {len(impact(graph, dataset, dsv))} items")
    warm_up_paths([f for paths in rows.values() for f in paths],
                  local_neo4j_pid(Config.from_env()), args.max_warmup, args.settled)
    pids = process_tree(proc.pid)
    print(f"\n{'question':<18}{'API p50':>9}{'API p95':>9}{'kb p50':>9}{'raw p50':>9}"
          f"{'raw p95':>9}{'API/raw p50':>13}{'API CPU':>9}   (ms; {args.samples} samples)")
    for name, (via_api, via_kb, via_raw) in rows.items():
        before = cpu_seconds(pids)  # only the API calls reach the server's processes
        a, k, r = timed_together([via_api, via_kb, via_raw], args.samples)
        cpu = (cpu_seconds(pids) - before) * 1000 / (args.samples + 10)
        print(f"{name:<18}{pct(a, 50):>9.1f}{pct(a, 95):>9.1f}{pct(k, 50):>9.1f}"
              f"{pct(r, 50):>9.1f}{pct(r, 95):>9.1f}{pct(a, 50) / pct(r, 50):>13.2f}"
              f"{cpu:>9.2f}")
    print(f"load average {_load()}; API CPU = the server processes' CPU time per request "
          "(Neo4j not included), far less sensitive to load than the latencies")
    via_api, _, via_raw = rows["whoTrained"]
    print("\nwhoTrained by spacing (blocks of 20 calls of one path; p50 ms):")
    for idle in (0.0, 0.005, 0.020):
        a, r = timed_in_blocks([via_api, via_raw], args.samples, idle)
        print(f"  {idle * 1000:>4.0f} ms idle before each call: API {pct(a, 50):.2f}, "
              f"raw {pct(r, 50):.2f}, API/raw {pct(a, 50) / pct(r, 50):.2f}")
    before = cpu_seconds(pids)
    rps = throughput(url, {"query": WHO_TRAINED, "variables": {"m": model, "v": version}},
                     args.clients, args.seconds)
    cpu = (cpu_seconds(pids) - before) * 1000 / max(1.0, rps * args.seconds)
    print(f"\nwhoTrained with {args.clients} concurrent clients, {args.workers} worker(s): "
          f"{rps:,.0f} requests/s ({cpu:.2f} ms server CPU a request; load average {_load()})")
    print("raw floor (one statement each, records as the driver builds them): whoTrained = "
          "kb's own statement (kb.graph.training.ONE_VERSION); lineage = the nodes with kb's "
          "properties, their typed edges and the people, as kb answers; impact = every "
          "downstream model version with one shortest path and its active deployments "
          "(statements held in bench/api.py)")
    conn.close()


if __name__ == "__main__":
    main()
