"""Interop benchmark: OpenLineage events/s over HTTP and MLflow-import runs/s.

    .venv/bin/python bench/interop.py --yes
    .venv/bin/python bench/interop.py --yes --events 400 --runs 1000   # a short run

1. **OpenLineage over HTTP**: kb's API app under uvicorn on a loopback port; pipeline runs
   of a START and a COMPLETE event each (2 inputs, 1 output, schema and params facets) are
   sent with the ``openlineage-python`` HTTP transport, first by one client, then by 8
   concurrent clients (threads), each event its own request, as producers send them.
2. **MLflow import**: a file store of ``--runs`` runs (params, metrics, a dataset input,
   plus registered model versions) is generated once with MLflow's client and cached under
   ``bench/out/``; ``import_mlflow`` reads it into an emptied database, then again (the
   re-import, which changes nothing).

It prints figures and asserts nothing. **It deletes every node of the database it
connects to** (``KB_NEO4J_URI``..., or the local Neo4j of ``KB_HOME``), so it refuses to
run without ``--yes``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvicorn

from kb.api.app import create_app
from kb.config import Config
from kb.graph import Graph
from kb.graph.stats import counts
from kb.graph.tokens import create_token
from kb.localdb import resolve

OUT = Path(__file__).parent / "out"
WIPE = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


def _wipe(graph: Graph) -> None:
    # A benchmark-only wipe, as bench/ingest.py does it: kb itself never deletes.
    with graph._driver.session(database=graph.database) as session:
        session.run(WIPE).consume()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(graph: Graph, config: Config) -> tuple[uvicorn.Server, threading.Thread, str]:
    app = create_app(config, graph=graph)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _events(pipeline: int, prefix: str) -> list:
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import execution_parameters_run, schema_dataset

    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}-{pipeline}"))
    job = Job(namespace="bench", name=f"job_{pipeline % 50}")
    params = execution_parameters_run.ExecutionParametersRunFacet(parameters=[
        execution_parameters_run.ExecutionParameter(key="partition", value=str(pipeline))])
    schema = schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name=f"c{i}", type="INT") for i in range(5)])
    inputs = [InputDataset(namespace="pg://db", name=f"raw_{(pipeline + k) % 200}")
              for k in range(2)]
    output = OutputDataset(namespace="pg://db", name=f"clean_{pipeline % 200}",
                           facets={"schema": schema})
    return [
        RunEvent(eventType=RunState.START, eventTime="2024-05-01T10:00:00Z",
                 run=Run(runId=run_id, facets={"executionParameters": params}), job=job,
                 producer=PRODUCER, inputs=inputs, outputs=[]),
        RunEvent(eventType=RunState.COMPLETE, eventTime="2024-05-01T10:05:00Z",
                 run=Run(runId=run_id), job=job, producer=PRODUCER, inputs=inputs,
                 outputs=[output]),
    ]


def _transport(url: str, token: str):
    from openlineage.client.transport.http import (
        ApiKeyTokenProvider,
        HttpCompression,
        HttpConfig,
        HttpTransport,
    )

    return HttpTransport(HttpConfig(url=url, auth=ApiKeyTokenProvider({"apiKey": token}),
                                    compression=HttpCompression.GZIP, timeout=120))


def bench_openlineage(graph: Graph, config: Config, events: int) -> None:
    _wipe(graph)
    _, secret = create_token(graph, name="bench", scope="write", actor="bench")
    server, thread, url = _serve(graph, config)
    try:
        pipelines = max(1, events // 2)
        for clients, prefix in ((1, "one"), (8, "eight")):
            batches = [_events(p, prefix) for p in range(pipelines)]
            per_client = [batches[i::clients] for i in range(clients)]

            def send(mine: list, token: str = secret) -> int:
                transport = _transport(url, token)
                sent = 0
                for pair in mine:
                    for event in pair:
                        transport.emit(event)
                        sent += 1
                transport.close()
                return sent

            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                sent = sum(pool.map(send, per_client))
            elapsed = time.perf_counter() - start
            print(f"openlineage http, {clients} client(s): {sent} events in {elapsed:.1f}s "
                  f"= {sent / elapsed:.0f} events/s", flush=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    c = counts(graph)
    print(f"  graph after: {c.get('Run', 0)} runs, {c.get('DatasetVersion', 0)} dataset "
          f"versions, {c.get('USED', 0)} USED, {c.get('PRODUCED', 0)} PRODUCED", flush=True)


def _store(runs: int) -> str:
    """A cached file store of ``runs`` runs (generated once, reused after)."""
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    root = OUT / f"mlflow-{runs}"
    uri = root.as_uri()
    marker = root / "COMPLETE"
    if marker.exists():
        return uri
    print(f"generating an MLflow file store of {runs} runs in {root} (once) ...", flush=True)
    start = time.perf_counter()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exps = [client.create_experiment(f"exp-{i}") for i in range(10)]
    base = 1_714_550_400_000
    run_ids = []
    for i in range(runs):
        run = client.create_run(exps[i % 10], start_time=base + i * 60_000, tags={
            "mlflow.user": f"user{i % 25}", "mlflow.source.name": "train.py",
            "mlflow.source.git.commit": f"{i % 100:040x}"})
        rid = run.info.run_id
        client.log_batch(rid, metrics=[Metric(f"m{k}", i / (k + 1), base, 0) for k in range(5)],
                         params=[Param(f"p{k}", str(i % (k + 2))) for k in range(10)],
                         tags=[RunTag("team", "bench")])
        client.log_inputs(rid, [DatasetInput(
            Dataset(name=f"ds-{i % 50}", digest=f"{i % 500:08x}", source_type="http",
                    source=f'{{"url": "https://data/{i % 500}.csv"}}'),
            tags=[InputTag("mlflow.data.context", "training")])])
        client.set_terminated(rid, "FINISHED", end_time=base + i * 60_000 + 30_000)
        run_ids.append(rid)
    for m in range(5):
        client.create_registered_model(f"model-{m}")
    for j, rid in enumerate(run_ids[:: max(1, runs // 100)]):
        client.create_model_version(f"model-{j % 5}", source=f"runs:/{rid}/model", run_id=rid)
    marker.write_text("ok\n")
    print(f"  generated in {time.perf_counter() - start:.0f}s", flush=True)
    return uri


def bench_mlflow(graph: Graph, runs: int) -> None:
    from kb.ingest.mlflow_import import import_mlflow

    uri = _store(runs)
    _wipe(graph)
    for label in ("first import", "re-import"):
        start = time.perf_counter()
        result = import_mlflow(graph, uri, actor="bench")
        elapsed = time.perf_counter() - start
        print(f"mlflow {label}: {result.runs} runs, {result.model_versions} model versions "
              f"in {elapsed:.1f}s = {result.runs / elapsed:.0f} runs/s", flush=True)
    c = counts(graph)
    print(f"  graph after: {c.get('Run', 0)} runs, {c.get('Person', 0)} people, "
          f"{c.get('ModelVersion', 0)} model versions", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--yes", action="store_true", help="really empty the database")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--skip", choices=("openlineage", "mlflow"), action="append",
                        default=[])
    args = parser.parse_args()
    if not args.yes:
        sys.exit("this benchmark empties the database it connects to; pass --yes")
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    OUT.mkdir(exist_ok=True)
    config = Config.from_env()
    conn = resolve(config, start=True)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    graph.ensure_schema()
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}", flush=True)
    try:
        if "openlineage" not in args.skip:
            bench_openlineage(graph, config, args.events)
        if "mlflow" not in args.skip:
            bench_mlflow(graph, args.runs)
    finally:
        graph.close()


if __name__ == "__main__":
    main()
