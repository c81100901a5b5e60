"""Interop benchmark: OpenLineage events/s over HTTP and MLflow-import runs/s.

    .venv/bin/python bench/interop.py --yes
    .venv/bin/python bench/interop.py --yes --events 400 --runs 1000   # a short run
    .venv/bin/python bench/interop.py --prepare     # only generate the cached MLflow store

1. **OpenLineage over HTTP**: ``kb serve`` (its default workers) in its own processes on
   a loopback port, as users run it (producers are other processes); pipeline runs of a
   START and a COMPLETE event each (2 inputs, 1 output, schema and params facets) are
   built with ``openlineage-python`` and sent as its HTTP transport sends them (its JSON,
   gzipped, ``Authorization: Bearer``), each event its own request waiting for its 201:
   warm-up rounds (8 clients, not counted: a just-started Neo4j spends minutes compiling
   its hot code in its JIT compiler threads; they repeat until the compiler takes under
   ``--settled``, 5%, of Neo4j's CPU in two rounds in a row, ``--max-warmup`` rounds at
   most), then ``--rounds`` rounds of 8 concurrent clients (keep-alive connections; their
   median is the figure), then one client. By default the requests are encoded before
   the clock starts and sent by a bare asyncio HTTP/1.1 client, so that the producers'
   own serialisation and HTTP stack do not share the 2 cores with the server; with
   ``--client transport`` the transport itself emits them (one thread per client). CPU
   per event of ``kb serve``, Neo4j and the clients is printed too (far less
   load-sensitive).
2. **MLflow import**: a SQLite store (a file store with ``--store file``, or when
   SQLAlchemy and Alembic are not installed) of ``--runs`` runs (params, metrics, a
   dataset input, plus registered model versions) is generated once with MLflow's client
   and cached under ``bench/out/`` (``--prepare`` does only that); MLflow's client
   reading it alone is timed first (the floor no importer can beat), then, after one
   uncounted import, ``import_mlflow`` reads it into an emptied database, then again (the
   re-import, which changes nothing).

It prints figures and asserts nothing. **It deletes every node of the database it
connects to** (``KB_NEO4J_URI``..., or the local Neo4j of ``KB_HOME``), so it refuses to
run without ``--yes``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

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
from kb.graph import Graph
from kb.graph.stats import counts
from kb.graph.tokens import create_token
from kb.ingest.mlflow_import import default_tracking_uri
from kb.localdb import resolve

OUT = Path(__file__).parent / "out"
# Relationships first, then nodes, each in bounded transactions: detaching a dense node in
# one go can exceed the server's transaction memory pool.
WIPE = ("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
        "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS")
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


def _wipe(graph: Graph) -> None:
    # A benchmark-only wipe, as bench/ingest.py does it: kb itself never deletes.
    with graph._driver.session(database=graph.database) as session:
        for statement in WIPE:
            session.run(statement).consume()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(workers: int | None = None) -> tuple[subprocess.Popen, str]:
    """``kb serve`` on a free loopback port, sharing this process's KB_HOME/Neo4j."""
    port = _free_port()
    kb = Path(sys.executable).with_name("kb")
    extra = [] if workers is None else ["--workers", str(workers)]
    server = subprocess.Popen([str(kb), "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--log-level", "warning", *extra], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("kb serve did not become ready")
        time.sleep(0.2)


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


def _bodies(pipelines: int, prefix: str) -> list[bytes]:
    """The request bodies the HTTP transport sends: the client's own JSON, gzipped."""
    from openlineage.client.serde import Serde

    return [gzip.compress(Serde.to_json(event).encode())
            for p in range(pipelines) for event in _events(p, prefix)]


def _requests(port: int, token: str, bodies: list[bytes]) -> list[bytes]:
    """Whole HTTP/1.1 requests for the bodies, as the transport sends them."""
    head = ("POST /api/v1/lineage HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
            "Authorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n")
    return [head.format(port=port, token=token, length=len(b)).encode() + b for b in bodies]


def _send_encoded(port: int, shares: list[list[bytes]]) -> int:
    """Send each share of pre-encoded requests on its own keep-alive connection, each
    request waiting for its 201 (``loadgen.exchange``: about 0.13 ms of the shared cores
    an event, where eight ``http.client`` threads took 0.35-0.4 ms)."""

    async def client(share: list[bytes]) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in share:
                head, body = await exchange(reader, writer, request)
                if head[9:12] != b"201":
                    raise RuntimeError(f"lineage POST answered {head[:12]!r}: {body[:300]!r}")
        finally:
            writer.close()
        return len(share)

    async def main() -> int:
        return sum(await asyncio.gather(*(client(share) for share in shares)))

    return asyncio.run(main())


def _send_transport(url: str, token: str, pairs: list) -> int:
    transport = _transport(url, token)
    sent = 0
    for pair in pairs:
        for event in pair:
            transport.emit(event)
            sent += 1
    transport.close()
    return sent


def bench_openlineage(graph: Graph, events: int, client: str, neo4j_pid: int | None,
                      workers: int | None = None, max_warmup: int = 8,
                      settled: float = 0.05, rounds: int = 3) -> None:
    _wipe(graph)
    _, secret = create_token(graph, name="bench", scope="write", actor="bench")
    server, url = _serve(workers)
    port = int(url.rsplit(":", 1)[1])
    try:
        pipelines = max(1, events // 2)

        def round_(clients: int, prefix: str, label: str) -> tuple[float, float | None]:
            """One round: its events/s and the share of Neo4j's CPU its JIT compiler took."""
            if client == "transport":
                pairs = [_events(p, prefix) for p in range(pipelines)]
                shares = [pairs[i::clients] for i in range(clients)]

                def send_all() -> int:
                    with ThreadPoolExecutor(clients) as pool:
                        return sum(pool.map(partial(_send_transport, url, secret), shares))
            else:
                requests = _requests(port, secret, _bodies(pipelines, prefix))
                send_all = partial(_send_encoded, port,
                                   [requests[i::clients] for i in range(clients)])
            server_cpu, client_cpu = cpu_seconds(process_tree(server.pid)), time.process_time()
            start = time.perf_counter()
            with Neo4jUse(neo4j_pid) as neo4j_use:
                sent = send_all()
            elapsed = time.perf_counter() - start
            server_cpu = cpu_seconds(process_tree(server.pid)) - server_cpu
            client_cpu = time.process_time() - client_cpu
            neo4j, share = "", neo4j_use.jit_share
            if neo4j_use.seconds is not None:
                neo4j = f", Neo4j {neo4j_use.seconds / sent * 1000:.2f} ms ({share:.0%} JIT)"
            print(f"openlineage http, {label}: {sent} events in {elapsed:.1f}s "
                  f"= {sent / elapsed:.0f} events/s (CPU per event: kb serve "
                  f"{server_cpu / sent * 1000:.2f} ms{neo4j}, clients "
                  f"{client_cpu / sent * 1000:.2f} ms; load {os.getloadavg()[0]:.1f})",
                  flush=True)
            return sent / elapsed, share

        warm_up(lambda i: round_(8, f"warm{i}", "warm-up, 8 clients, not counted")[1],
                max_warmup, settled)
        rates = sorted(round_(8, f"eight{i}", f"8 clients, round {i + 1} of {rounds}")[0]
                       for i in range(rounds))
        print(f"openlineage http, 8 clients over {rounds} rounds: median "
              f"{statistics.median(rates):.0f}, best {rates[-1]:.0f}, worst {rates[0]:.0f} "
              "events/s", flush=True)
        # Last: a different load sets Neo4j's compiler off again for a while.
        round_(1, "one", "1 client")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    c = counts(graph)
    print(f"  graph after: {c.get('Run', 0)} runs, {c.get('DatasetVersion', 0)} dataset "
          f"versions, {c.get('USED', 0)} USED, {c.get('PRODUCED', 0)} PRODUCED", flush=True)


@contextlib.contextmanager
def _sqlite_unsynced() -> Iterator[None]:
    """SQLite without an fsync per commit while a bench store is generated.

    MLflow's SQLAlchemy store commits every client call; on a shared disk each commit's
    fsync dominates. A benchmark fixture that is rebuilt if interrupted needs no
    durability, so generation alone turns it off (reading is untouched).
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA journal_mode=MEMORY")
        cursor.close()

    event.listen(Engine, "connect", pragmas)
    try:
        yield
    finally:
        event.remove(Engine, "connect", pragmas)


def _store(runs: int, backend: str = "sqlite") -> str:
    """A cached ``sqlite`` or ``file`` store of ``runs`` runs (generated once, reused after).

    A SQLite store needs SQLAlchemy and Alembic beside mlflow-skinny (as full ``mlflow``
    brings them). Each run is four client calls: created with its tags, one ``log_batch``
    of its params, metrics and a tag, one ``log_inputs`` of its dataset, terminated.
    """
    if backend == "file":
        root = OUT / f"mlflow-{runs}"
        uri = root.as_uri()
    else:
        root = OUT / f"mlflow-sqlite-{runs}"
        uri = f"sqlite:///{root / 'mlflow.db'}"
    marker = root / "COMPLETE"
    if marker.exists():
        return uri
    if root.exists():  # an interrupted generation: start again
        shutil.rmtree(root)
    root.mkdir(parents=True)
    print(f"generating an MLflow {backend} store of {runs} runs in {root} (once) ...",
          flush=True)
    start = time.perf_counter()
    unsynced = _sqlite_unsynced() if backend == "sqlite" else contextlib.nullcontext()
    with unsynced, default_tracking_uri(uri):  # no stray mlflow.db in the working directory
        _generate(uri, (root / "artifacts").as_uri(), runs)
    marker.write_text("ok\n")
    print(f"  generated in {time.perf_counter() - start:.0f}s", flush=True)
    return uri


def _generate(uri: str, artifacts: str, runs: int) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exps = [client.create_experiment(f"exp-{i}", artifact_location=f"{artifacts}/{i}")
            for i in range(10)]
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


def _read_alone(uri: str) -> tuple[int, float, float]:
    """The floor: MLflow's client reading every run, as the importer does, writing nothing."""
    from kb.ingest.mlflow_import import _experiments, _runs, mlflow_client

    start, cpu = time.perf_counter(), time.process_time()
    client = mlflow_client(uri)
    ids = [e.experiment_id for e in _experiments(client, [])]
    n = sum(1 for _ in _runs(client, ids, None))
    return n, time.perf_counter() - start, time.process_time() - cpu


def bench_mlflow(graph: Graph, runs: int, backend: str, neo4j_pid: int | None) -> None:
    from kb.ingest.mlflow_import import import_mlflow

    uri = _store(runs, backend)
    n, elapsed, cpu = _read_alone(uri)
    print(f"mlflow {backend} store, MLflow's client reading alone (floor): {n} runs in "
          f"{elapsed:.1f}s = {n / elapsed:.0f} runs/s (CPU {cpu / n * 1000:.2f} ms/run; "
          f"load {os.getloadavg()[0]:.1f})", flush=True)
    # One uncounted import first (then an emptied database again): the import's statements
    # are not the OpenLineage ones, and a server that never ran them compiles them now.
    _wipe(graph)
    import_mlflow(graph, uri, actor="bench")
    _wipe(graph)
    for label in ("first import", "re-import"):
        start, cpu = time.perf_counter(), time.process_time()
        neo4j_cpu = cpu_seconds([neo4j_pid]) if neo4j_pid else 0.0
        result = import_mlflow(graph, uri, actor="bench")
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        neo4j = (f", Neo4j {(cpu_seconds([neo4j_pid]) - neo4j_cpu) / result.runs * 1000:.2f}"
                 " ms/run" if neo4j_pid else "")
        print(f"mlflow {backend} {label}: {result.runs} runs, {result.model_versions} model "
              f"versions in {elapsed:.1f}s = {result.runs / elapsed:.0f} runs/s (CPU: "
              f"importer {cpu / result.runs * 1000:.2f} ms/run{neo4j}; load "
              f"{os.getloadavg()[0]:.1f})", flush=True)
    c = counts(graph)
    print(f"  graph after: {c.get('Run', 0)} runs, {c.get('Person', 0)} people, "
          f"{c.get('ModelVersion', 0)} model versions", flush=True)


def _default_stores() -> list[str]:
    """SQLite, which the issue allows and MLflow reads ~20x faster than its file store."""
    try:
        import alembic  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        return ["file"]
    return ["sqlite"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--yes", action="store_true", help="really empty the database")
    parser.add_argument("--events", type=int, default=2000)
    # Small lineage transactions exercise far more of Neo4j's code per event than bulk
    # writes: from a cold start its JIT compiler keeps a core busy for 15-25 rounds.
    add_warmup_arguments(parser, "OpenLineage", most=30)
    parser.add_argument("--rounds", type=int, default=3,
                        help="counted 8-client OpenLineage rounds (their median is the figure)")
    parser.add_argument("--workers", type=int, default=None,
                        help="kb serve's worker processes (default: kb serve's own default)")
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--client", choices=("http", "transport"), default="http",
                        help="send the transport's gzipped JSON, encoded before timing, on "
                        "keep-alive connections (http), or emit through openlineage-python's "
                        "HttpTransport itself (transport: its encoding CPU shares the cores)")
    parser.add_argument("--skip", choices=("openlineage", "mlflow"), action="append",
                        default=[])
    parser.add_argument("--store", choices=("file", "sqlite"), action="append",
                        help="MLflow store kinds to import (repeatable; default: sqlite, "
                        "or file when SQLAlchemy is not installed)")
    parser.add_argument("--prepare", action="store_true",
                        help="only generate the cached MLflow stores, then exit")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    OUT.mkdir(exist_ok=True)
    if args.prepare:  # touches no database
        for backend in args.store or _default_stores():
            _store(args.runs, backend)
        return
    if not args.yes:
        sys.exit("this benchmark empties the database it connects to; pass --yes")
    config = Config.from_env()
    conn = resolve(config, start=True)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    graph.ensure_schema()
    print(f"cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}", flush=True)
    try:
        if "openlineage" not in args.skip:
            bench_openlineage(graph, args.events, args.client, local_neo4j_pid(config),
                              args.workers, args.max_warmup, args.settled, args.rounds)
        if "mlflow" not in args.skip:
            for backend in args.store or _default_stores():
                bench_mlflow(graph, args.runs, backend, local_neo4j_pid(config))
    finally:
        graph.close()


if __name__ == "__main__":
    main()
