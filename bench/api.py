"""API benchmark: p50/p95 over HTTP for the questions, against raw Cypher as the floor.

    .venv/bin/python bench/api.py                    # 100,000 runs, 200 samples a question
    .venv/bin/python bench/api.py --runs 20000 --samples 50

Data: ``--runs`` training runs written through the write path (``BatchBuilder`` batches,
``apply``), each reading two of 2,000 dataset versions (500 datasets, 4 versions each,
every version after the first derived from the one before), run by one of 300 people;
every fifth run produces a version of one of 1,000 models, and each model's newest version
is deployed to prod. Generation is skipped when the graph already holds this bench's data
(a ``bench-run-`` count check), so re-runs measure only.

Measured, each after a warm-up:

1. **API**: ``POST /graphql`` on a real uvicorn bound to loopback, with an httpx client
   (keep-alive) - whoTrained (one version), lineage (depth 5, DOWNSTREAM from a dataset
   version) and impact (a dataset version).
2. **In-process**: the same kb.graph functions the API calls, no HTTP.
3. **Raw Cypher floor** (labelled below; held in this file): one statement per question
   through the driver - for whoTrained kb's own statement; for lineage and impact a
   single quantified-path statement, which answers the same question without per-hop caps.

Then requests/s for whoTrained with 8 concurrent clients. Prints figures, asserts nothing.
Uses the Neo4j of the environment (``KB_NEO4J_URI``... or the local one of ``KB_HOME``).
"""

from __future__ import annotations

import argparse
import asyncio
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

# Raw Cypher floor (not kb's code path): one statement per question.
FLOOR_LINEAGE = """
MATCH (d:DatasetVersion {key: $key})
CALL (d) {
  MATCH (d)(()<-[:USED]-(:Run)-[:PRODUCED]->()){1,2}(x)
  RETURN DISTINCT x LIMIT 2000
}
OPTIONAL MATCH (x)<-[:SERVES]-(dep:Deployment)
RETURN x.key AS key, collect(dep.id) AS deployments
"""
FLOOR_IMPACT = """
MATCH (d:DatasetVersion {key: $key})
MATCH (d)(()<-[:USED]-(:Run)-[:PRODUCED]->()){1,12}(v:ModelVersion)
WITH DISTINCT v
OPTIONAL MATCH (dep:Deployment {status: 'ACTIVE'})-[:SERVES]->(v)
RETURN v.key AS key, collect(dep.id) AS deployments
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
    server do not share one interpreter."""
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
    return proc, base + "/graphql"


def timed(fn: Callable[[], Any], samples: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def throughput(url: str, body: dict[str, Any], clients: int, seconds: float) -> float:
    async def worker(client: httpx.AsyncClient, stop: float) -> int:
        n = 0
        while time.perf_counter() < stop:
            r = await client.post(url, json=body)
            r.raise_for_status()
            n += 1
        return n

    async def main() -> int:
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            await worker(client, time.perf_counter() + 1)  # warm-up
            stop = time.perf_counter() + seconds
            return sum(await asyncio.gather(*(worker(client, stop) for _ in range(clients))))

    return asyncio.run(main()) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
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
    http = httpx.Client(timeout=30)

    def api(query: str, variables: dict[str, Any]) -> Callable[[], Any]:
        body = {"query": query, "variables": variables}

        def call() -> Any:
            r = http.post(url, json=body)
            r.raise_for_status()
            if r.json().get("errors"):
                raise RuntimeError(f"the API answered with errors: {r.text[:300]}")
        return call

    def raw(statement: str, **params: Any) -> Callable[[], Any]:
        def call() -> Any:
            return graph.read(lambda tx: tx.run(statement, **params).data())
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
    print(f"\n{'question':<18}{'API p50':>9}{'API p95':>9}{'kb p50':>9}{'raw p50':>9}"
          f"{'raw p95':>9}{'API/raw p50':>13}   (ms; {args.samples} samples)")
    for name, (via_api, via_kb, via_raw) in rows.items():
        a, k, r = (timed(f, args.samples) for f in (via_api, via_kb, via_raw))
        print(f"{name:<18}{pct(a, 50):>9.1f}{pct(a, 95):>9.1f}{pct(k, 50):>9.1f}"
              f"{pct(r, 50):>9.1f}{pct(r, 95):>9.1f}{pct(a, 50) / pct(r, 50):>13.2f}")
    rps = throughput(url, {"query": WHO_TRAINED, "variables": {"m": model, "v": version}},
                     args.clients, args.seconds)
    print(f"\nwhoTrained with {args.clients} concurrent clients: {rps:,.0f} requests/s")
    print("raw floor: whoTrained = kb's own statement (kb.graph.training.ONE_VERSION); "
          "lineage/impact = single quantified-path statements held in bench/api.py")
    http.close()
    proc.terminate()
    proc.wait(timeout=30)
    graph.close()


if __name__ == "__main__":
    main()
