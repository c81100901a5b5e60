"""Ingest benchmark: runs/s through the SDK's batch path against a hand-written floor.

    .venv/bin/python bench/ingest.py --yes            # 10,000 runs, batches of 1,000
    .venv/bin/python bench/ingest.py --yes --runs 2000 --batch 500

Each run carries 10 params, 5 metrics, 2 dataset inputs (train, validation) and one model
version output, across 50 people and 500 dataset versions. The same runs are written
twice, each time on an emptied database:

1. **SDK**: ``Client.pipeline()``, the SDK's batch path for many batches: ``pipe.batch()``
   with ``b.run(...)`` and ``b.model_version(..., run_id=...)``, ``--batch`` runs per
   transaction: validation, plan building and kb's statements. Batch N is written (one
   transaction, in order) by a background thread while the caller validates batch N+1.
   ``--sequential`` measures ``Client.batch()`` one batch after the other instead.
2. **Floor**: one hand-written ``UNWIND`` statement per batch, creating the same nodes and
   relationships with no validation or checks: as fast as this server takes these writes.

Warm-up rounds (both paths, the full size) run first and are printed but not counted: a
fresh Neo4j spends minutes compiling its hot code in its JIT compiler threads, on the same
cores. They repeat until the compiler takes under ``--settled`` (5%) of Neo4j's CPU in a
round (``--max-warmup`` rounds at most), so the counted rounds measure the steady state of
a server that has been running; each line shows that share. ``--rounds`` counted rounds
follow, alternating which path goes first.

It prints runs/s for both, their ratio, and the node and relationship counts after each
so that the reader sees both wrote the same graph. It asserts nothing.

**It deletes every node of the database it connects to** (``KB_NEO4J_URI``..., or the
local Neo4j of ``KB_HOME``), so it refuses to run without ``--yes`` unless ``KB_HOME``
names a home of its own (not ``~/.kb``) and no ``KB_NEO4J_URI`` is set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import common
import neo4j
from procstat import Neo4jUse, add_warmup_arguments, local_neo4j_pid

from kb.config import Config
from kb.graph import Graph
from kb.graph.stats import counts
from kb.ingest import BatchBuilder, Client
from kb.localdb import resolve

ACTOR = "bench"
PEOPLE = 50
DATASETS, VERSIONS_PER_DATASET = 50, 10  # 500 dataset versions
MODELS = 20
EXPERIMENTS = 20

# -- the floor: hand-written Cypher, held here because it is what the bench measures ------
# One statement per batch writes what the SDK writes for the same runs: Run with its
# properties, Person -TRAINED->, -PART_OF-> Experiment, DatasetVersion stubs -VERSION_OF->
# Dataset, USED {role}, Model, ModelVersion {model, version} -VERSION_OF->, PRODUCED.
# Timestamps are sent as ISO text and turned into datetimes by Cypher, as the SDK does:
# the driver's own datetime conversion is slow enough to halve the floor.
FLOOR = """
UNWIND $rows AS row
MERGE (r:Run {id: row.id})
  ON CREATE SET r.createdAt = $now
SET r.name = row.name, r.kind = 'training', r.status = 'COMPLETED',
    r.startedAt = datetime(row.startedAt), r.endedAt = datetime(row.endedAt), r.seed = row.seed,
    r.command = row.command, r.params = row.params, r.paramKeys = row.paramKeys,
    r.metrics = row.metrics, r.metricKeys = row.metricKeys,
    r.updatedAt = $now, r.updatedBy = $actor
MERGE (p:Person {handle: row.person})
  ON CREATE SET p.createdAt = $now, p.updatedAt = $now, p.updatedBy = $actor
MERGE (p)-[t:TRAINED]->(r) ON CREATE SET t.createdAt = $now
MERGE (e:Experiment {name: row.experiment})
  ON CREATE SET e.createdAt = $now, e.updatedAt = $now, e.updatedBy = $actor
MERGE (r)-[po:PART_OF]->(e) ON CREATE SET po.createdAt = $now
WITH r, row
CALL (r, row) {
  UNWIND row.inputs AS input
  MERGE (d:Dataset {name: input.dataset})
    ON CREATE SET d.createdAt = $now, d.updatedAt = $now, d.updatedBy = $actor
  MERGE (dv:DatasetVersion {key: input.key})
    ON CREATE SET dv.createdAt = $now, dv.updatedAt = $now, dv.updatedBy = $actor,
                  dv.dataset = input.dataset, dv.version = input.version
  MERGE (dv)-[vo:VERSION_OF]->(d) ON CREATE SET vo.createdAt = $now
  MERGE (r)-[u:USED]->(dv) ON CREATE SET u.createdAt = $now
  SET u.role = input.role
}
MERGE (m:Model {name: row.model})
  ON CREATE SET m.createdAt = $now, m.updatedAt = $now, m.updatedBy = $actor
MERGE (mv:ModelVersion {key: row.modelVersion})
  ON CREATE SET mv.createdAt = $now, mv.updatedAt = $now, mv.updatedBy = $actor,
                mv.model = row.model, mv.version = row.version
MERGE (mv)-[mo:VERSION_OF]->(m) ON CREATE SET mo.createdAt = $now
MERGE (r)-[pr:PRODUCED]->(mv) ON CREATE SET pr.createdAt = $now
"""

# Relationships first, then nodes, each in bounded transactions: detaching a dense node in
# one go can exceed the server's transaction memory pool.
WIPE = ("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
        "MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS")


def generate(n: int, seed: int) -> list[dict[str, Any]]:
    """The runs both paths write, as plain data (generation is not timed)."""
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    runs = []
    for i in range(n):
        start = base + timedelta(seconds=rng.randrange(365 * 86400))
        ds = rng.sample(range(DATASETS), 2)
        version = rng.randrange(VERSIONS_PER_DATASET)
        model = i % MODELS
        runs.append({
            "id": f"bench-{seed}-{i:06d}",
            "name": f"run {i}",
            "experiment": f"experiment-{i % EXPERIMENTS:02d}",
            "person": f"person-{rng.randrange(PEOPLE):02d}",
            "started_at": start,
            "ended_at": start + timedelta(minutes=rng.randrange(5, 600)),
            "seed": rng.randrange(2**31),
            "command": f"python train.py --config configs/{i % EXPERIMENTS}.yaml",
            "params": {f"param_{k}": rng.choice([rng.random(), rng.randrange(1000),
                                                 f"choice-{rng.randrange(5)}"])
                       for k in range(10)},
            "metrics": {f"metric_{k}": round(rng.random(), 6) for k in range(5)},
            "inputs": [(f"dataset-{ds[0]:02d}", f"v{version}", "train"),
                       (f"dataset-{ds[1]:02d}", f"v{version}", "validation")],
            "model": f"model-{model:02d}",
            "version": str(i // MODELS + 1),
        })
    return runs


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def write_sdk(graph: Graph, runs: list[dict[str, Any]], batch: int,
              sequential: bool = False) -> None:
    client = Client(graph, actor=ACTOR)
    if sequential:
        for chunk in chunks(runs, batch):
            with client.batch() as b:
                _add_runs(b, chunk)
        return
    with client.pipeline() as pipe:
        for chunk in chunks(runs, batch):
            with pipe.batch() as b:
                _add_runs(b, chunk)


def _add_runs(b: BatchBuilder, chunk: list[dict[str, Any]]) -> None:
    for r in chunk:
        b.run(id=r["id"], name=r["name"], experiment=r["experiment"],
              person=r["person"], started_at=r["started_at"], ended_at=r["ended_at"],
              seed=r["seed"], command=r["command"], params=r["params"],
              metrics=r["metrics"], inputs=r["inputs"])
        b.model_version(r["model"], version=r["version"], run_id=r["id"])


def _encode(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _floor_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"], "person": r["person"], "experiment": r["experiment"],
        "name": r["name"], "startedAt": r["started_at"].isoformat(),
        "endedAt": r["ended_at"].isoformat(),
        "seed": r["seed"], "command": r["command"], "params": _encode(r["params"]),
        "paramKeys": sorted(r["params"]), "metrics": _encode(r["metrics"]),
        "metricKeys": sorted(r["metrics"]),
        "inputs": [{"dataset": d, "version": v, "key": f"{d}@{v}", "role": role}
                   for d, v, role in r["inputs"]],
        "model": r["model"], "version": r["version"],
        "modelVersion": f"{r['model']}@{r['version']}",
    }


def write_floor(driver: neo4j.Driver, database: str, runs: list[dict[str, Any]],
                batch: int) -> None:
    def work(tx: neo4j.ManagedTransaction, rows: list[dict[str, Any]]) -> None:
        tx.run(FLOOR, rows=rows, now=datetime.now(UTC), actor=ACTOR).consume()

    with driver.session(database=database) as session:
        for chunk in chunks(runs, batch):
            session.execute_write(work, [_floor_row(r) for r in chunk])


def wipe(driver: neo4j.Driver, database: str) -> None:
    with driver.session(database=database) as session:
        for statement in WIPE:
            session.run(statement).consume()


def timed(label: str, fn: Callable[[], None], n: int) -> tuple[float, float | None]:
    """Wall time of ``fn`` as runs/s, printed with the load average and the CPU per run of
    this process and of the local Neo4j; also returns the share of Neo4j's CPU that went
    to compiling (None when the server is not local)."""
    began, cpu = time.perf_counter(), time.process_time()
    with Neo4jUse(local_neo4j_pid(Config.from_env())) as server:
        fn()
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu
    rate = n / seconds
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    neo4j = ""
    if server.seconds is not None:
        neo4j = f", Neo4j {server.seconds * 1e6 / n:4.0f} us/run ({server.jit_share:4.0%} JIT)"
    print(f"{label:<6} {n:>7,} runs in {seconds:7.2f} s  = {rate:8,.0f} runs/s  "
          f"CPU: client {cpu * 1e6 / n:4.0f} us/run{neo4j}  (load {load})")
    return rate, server.jit_share


def refuse_unless_allowed(config: Config, yes: bool) -> None:
    common.refuse_unless_allowed(config, yes, [
        "!" * 78,
        f"!! bench/ingest.py DELETES EVERY NODE of the database at {common.where(config)}",
        f"!! (database {config.neo4j_database!r}), before and between its measurements.",
        "!" * 78])


def show_counts(label: str, graph: Graph) -> dict[str, int]:
    found = counts(graph)
    print(f"  {label} graph: " + ", ".join(f"{k} {v:,}" for k, v in found.items()))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000, help="runs per transaction")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each path this many times, alternating which goes "
                             "first; the best and the median are reported")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--yes", action="store_true", help="wipe the database without asking")
    parser.add_argument("--no-warmup", action="store_true",
                        help="skip the uncounted warm-up rounds of both paths")
    add_warmup_arguments(parser, "Both paths'")
    parser.add_argument("--sequential", action="store_true",
                        help="SDK path: Client.batch() one batch after the other, "
                             "not the pipeline")
    parser.add_argument("--profile", action="store_true",
                        help="profile the SDK path with pyinstrument (pip install pyinstrument)")
    args = parser.parse_args(argv)

    config = Config.from_env()
    refuse_unless_allowed(config, args.yes)
    conn = resolve(config, start=True)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    graph.ensure_schema()
    driver = neo4j.GraphDatabase.driver(conn.uri, auth=(conn.user, str(conn.password)),
                                        notifications_min_severity="OFF")
    runs = generate(args.runs, args.seed)
    print(f"{args.runs:,} runs, batches of {args.batch:,} runs; {PEOPLE} people, "
          f"{DATASETS * VERSIONS_PER_DATASET} dataset versions, {MODELS} models; "
          f"Neo4j at {conn.uri}; packstream in "
          f"{'Rust' if _rust_packstream() else 'pure Python'}")
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()

    def sdk() -> None:
        if profiler is not None:
            profiler.start()
        write_sdk(graph, runs, args.batch, args.sequential)
        if profiler is not None:
            profiler.stop()

    def floor() -> None:
        write_floor(driver, conn.database, runs, args.batch)

    rates: dict[str, list[float]] = {"sdk": [], "floor": []}
    graphs: dict[str, dict[str, int]] = {}
    try:
        if not args.no_warmup:
            print("warm-up rounds (not counted), until Neo4j's JIT compiler settles:")
            for _ in range(args.max_warmup):
                shares = []
                for label, fn in (("sdk", lambda: write_sdk(graph, runs, args.batch,
                                                             args.sequential)),
                                  ("floor", floor)):
                    wipe(driver, conn.database)
                    shares.append(timed(label, fn, len(runs))[1])
                if None in shares or max(shares) < args.settled:
                    break
            print(f"counted rounds ({args.rounds}):")
        for round_ in range(args.rounds):
            paths = [("sdk", sdk), ("floor", floor)]
            for label, fn in paths if round_ % 2 == 0 else paths[::-1]:
                wipe(driver, conn.database)
                rates[label].append(timed(label, fn, len(runs))[0])
                graphs[label] = show_counts(label, graph)
        wipe(driver, conn.database)
    finally:
        driver.close()
        graph.close()

    same = "the same graph" if graphs["sdk"] == graphs["floor"] else "DIFFERENT graphs"
    best_sdk, best_floor = max(rates["sdk"]), max(rates["floor"])
    print(f"batch {args.batch:,}; both wrote {same}")
    print(f"best:   sdk {best_sdk:,.0f} runs/s, floor {best_floor:,.0f} runs/s, "
          f"sdk / floor = {best_sdk / best_floor:.2f}")
    if args.rounds > 1:
        med_sdk, med_floor = statistics.median(rates["sdk"]), statistics.median(rates["floor"])
        print(f"median: sdk {med_sdk:,.0f} runs/s, floor {med_floor:,.0f} runs/s, "
              f"sdk / floor = {med_sdk / med_floor:.2f}")
    if profiler is not None:
        print(profiler.output_text(unicode=False, color=False, show_all=False))


def _rust_packstream() -> bool:
    """Whether the driver packs with neo4j-rust-ext (it changes both paths' speed)."""
    try:
        import neo4j._rust  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
