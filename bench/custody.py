"""Custody benchmark: how fast the graph leaves kb and comes back, and in how much memory.

    KB_HOME=~/.kb-bench .venv/bin/python bench/custody.py                # 100,000 runs
    KB_HOME=~/.kb-bench .venv/bin/python bench/custody.py --runs 20000 --small 5000

1. **Build**: ``--runs`` runs written through the SDK pipeline (``Client.pipeline()``,
   ``--batch`` runs per transaction), each with 10 params, 5 metrics, two dataset
   inputs and a model version, like ``bench/ingest.py``. It prints the pipeline's rate
   in runs/s and in entities/s: nodes, links and change records written per second
   (counted from the count store before and after).
2. **Export** (``kb export FILE.jsonl.gz``, a process of its own) at two sizes of the same
   graph, after ``--small`` runs and after all of them: lines (entities) per second and
   the exporting process's peak resident memory (``ru_maxrss``), to show it stays flat.
3. **Import** (``kb import kb FILE``, a process of its own) of both files into an emptied
   database: lines per second, peak memory; then the graph is exported again and the file
   compared with the first, byte for byte.

4. **Backup and restore** (``kb backup``/``kb restore``, local Neo4j only): after each
   build, a backup; after the imports, the largest backup restored over the graph: the
   whole time, how long the server was down (what writers wait through), and whether the
   restored graph counts what was backed up.

One function per measure, each returning a row of the table printed at the end. It
asserts nothing.

**It deletes every node of the database it connects to**, so it refuses to run without
``--yes`` unless ``KB_HOME`` names a home of its own and no ``KB_NEO4J_URI`` is set.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import neo4j
from ingest import wipe
from procstat import cpu_seconds, local_neo4j_pid

from kb.config import Config
from kb.graph import Graph
from kb.graph.portable import section_totals
from kb.ingest import BatchBuilder, Client
from kb.localdb import resolve

ACTOR = "bench"
PEOPLE, DATASETS, VERSIONS, MODELS, EXPERIMENTS = 50, 50, 10, 20, 20
# ``kb ARGS`` in a process that reports its own peak resident memory (``VmHWM``) as it
# exits: the ``ru_maxrss`` that ``wait4`` gives counts the forking benchmark's too, which
# Linux carries across ``exec``.
CHILD = """
import atexit, sys
def peak():
    with open("/proc/self/status") as f:
        hwm = [x for x in f if x.startswith("VmHWM")]
    sys.stderr.write("\\nKB_PEAK " + hwm[0].split()[1] + "\\n")
atexit.register(peak)
sys.argv = ["kb", *sys.argv[1:]]
from kb.cli import main
main()
"""


@dataclass
class Row:
    """One line of the table."""

    measure: str
    size: str
    seconds: float
    items: int
    unit: str
    peak_mib: float | None = None
    note: str = ""
    #: CPU seconds of the measured client process and of the local Neo4j meanwhile: on a
    #: shared machine they say more than the wall time does.
    client_cpu: float | None = None
    server_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def refuse_unless_allowed(config: Config, yes: bool) -> None:
    common.refuse_unless_allowed(config, yes, [
        f"bench/custody.py DELETES EVERY NODE of the database at {common.where(config)} "
        f"(database {config.neo4j_database!r}), before and between its measurements."])


def runs(start: int, stop: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Runs ``start`` to ``stop`` of one deterministic history, made as they are written
    (a list of 100,000 would hold hundreds of MB)."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(start, stop):
        rng = random.Random(seed * 1_000_003 + i)
        begin = base + timedelta(seconds=rng.randrange(365 * 86400))
        ds = rng.sample(range(DATASETS), 2)
        version = rng.randrange(VERSIONS)
        yield {
            "id": f"custody-{seed}-{i:07d}", "name": f"run {i}",
            "experiment": f"experiment-{i % EXPERIMENTS:02d}",
            "person": f"person-{rng.randrange(PEOPLE):02d}",
            "started_at": begin, "ended_at": begin + timedelta(minutes=rng.randrange(5, 600)),
            "seed": rng.randrange(2**31),
            "command": f"python train.py --config configs/{i % EXPERIMENTS}.yaml",
            "params": {f"param_{k}": rng.choice([rng.random(), rng.randrange(1000),
                                                 f"choice-{rng.randrange(5)}"])
                       for k in range(10)},
            "metrics": {f"metric_{k}": round(rng.random(), 6) for k in range(5)},
            "inputs": [(f"dataset-{ds[0]:02d}", f"v{version}", "train"),
                       (f"dataset-{ds[1]:02d}", f"v{version}", "validation")],
            "model": f"model-{i % MODELS:02d}", "version": str(i // MODELS + 1),
        }


def _add(b: BatchBuilder, run: dict[str, Any]) -> None:
    b.run(id=run["id"], name=run["name"], experiment=run["experiment"], person=run["person"],
          started_at=run["started_at"], ended_at=run["ended_at"], seed=run["seed"],
          command=run["command"], params=run["params"], metrics=run["metrics"],
          inputs=run["inputs"])
    b.model_version(run["model"], version=run["version"], run_id=run["id"])


class Neo4jCpu:
    """The local Neo4j's CPU seconds while a ``with`` block runs (None when remote)."""

    pid: int | None = None

    def __enter__(self) -> Neo4jCpu:
        self.start = cpu_seconds([self.pid]) if self.pid else None
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = (cpu_seconds([self.pid]) - self.start
                        if self.pid and self.start is not None else None)


def entities(graph: Graph) -> int:
    """Nodes, links and change records, from the count store."""
    return sum(section_totals(graph).values())


def build(graph: Graph, start: int, stop: int, batch: int) -> list[Row]:
    """Runs ``start``..``stop`` through the SDK pipeline: runs/s and entities/s."""
    before = entities(graph)
    began, cpu = time.perf_counter(), time.process_time()
    with Neo4jCpu() as server, Client(graph, actor=ACTOR).pipeline() as pipe:
        source = runs(start, stop)
        for _ in range(start, stop, batch):
            with pipe.batch() as b:
                for _, run in zip(range(batch), source, strict=False):
                    _add(b, run)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    written = entities(graph) - before
    size = f"{start:,}-{stop:,} runs"
    return [Row("pipeline (SDK)", size, seconds, stop - start, "runs"),
            Row("pipeline (SDK)", size, seconds, written, "entities",
                client_cpu=cpu, server_cpu=server.seconds)]


def _child(args: list[str]) -> tuple[float, float, str, float, float | None]:
    """Run ``kb ARGS`` as a process of its own: wall seconds, its peak resident memory in
    MiB, its output, its CPU seconds and the local Neo4j's meanwhile."""
    began = time.perf_counter()
    with Neo4jCpu() as server:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"kb {' '.join(args)} failed ({proc.returncode}): {err or out}")
    peak = [int(x.split()[1]) for x in err.splitlines() if x.startswith("KB_PEAK ")]
    return (seconds, peak[-1] / 1024 if peak else float("nan"), out,
            usage.ru_utime + usage.ru_stime, server.seconds)


def _lines(path: Path) -> int:
    import gzip

    with gzip.open(path, "rb") as f:
        return sum(1 for _ in f)


def export(path: Path, size: str) -> Row:
    """``kb export`` in a process of its own: lines/s and its peak memory."""
    seconds, peak, _, cpu, server = _child(["export", str(path)])
    return Row("export", size, seconds, _lines(path), "lines", peak,
               f"{path.stat().st_size / 2**20:,.1f} MiB gz", cpu, server)


def import_(path: Path, size: str) -> Row:
    """``kb import kb`` in a process of its own: lines/s and its peak memory."""
    seconds, peak, _, cpu, server = _child(["import", "kb", str(path)])
    return Row("import kb", size, seconds, _lines(path), "lines", peak, "", cpu, server)


def same_file(path: Path, again: Path, size: str) -> Row:
    """Export again after the import: the same bytes?"""
    row = export(again, size)
    row.measure = "export again"
    row.note += ", identical" if path.read_bytes() == again.read_bytes() else ", DIFFERENT"
    return row


def backup(config: Config, graph: Graph, path: Path, size: str) -> Row:
    """``kb backup``: its whole time, and how long writers waited (the server down)."""
    items = entities(graph)
    info = _kb_json(["backup", str(path), "--json"])
    Neo4jCpu.pid = local_neo4j_pid(config)  # a new server process
    return Row("backup", size, info["seconds"], items, "ents",
               note=f"server down {info['downtime_s']:.1f} s, "
                    f"{path.stat().st_size / 2**20:,.1f} MiB")


def restore(config: Config, graph: Graph, path: Path, size: str, expected: int) -> Row:
    """``kb restore``: its whole time, the server's pause, and whether the counts match."""
    info = _kb_json(["restore", str(path), "--yes", "--json"])
    Neo4jCpu.pid = local_neo4j_pid(config)
    items = entities(graph)
    same = "counts match" if items == expected else f"COUNTS DIFFER ({expected:,} at backup)"
    return Row("restore", size, info["seconds"], items, "ents",
               note=f"server down {info['downtime_s']:.1f} s, {same}")


def _kb_json(args: list[str]) -> dict[str, Any]:
    import json

    out = subprocess.run([str(Path(sys.executable).with_name("kb")), *args], capture_output=True,
                         text=True, check=False)
    if out.returncode:
        raise SystemExit(f"kb {' '.join(args)} failed ({out.returncode}): "
                         f"{out.stderr or out.stdout}")
    return json.loads(out.stdout)


def _us(seconds: float | None, items: int) -> str:
    return "" if seconds is None or not items else f"{seconds * 1e6 / items:,.0f}"


def show(rows: list[Row]) -> None:
    """The table; CPU in microseconds per item, of the client and of Neo4j."""
    print(f"{'measure':<16} {'graph':<22} {'seconds':>8} {'count':>11} "
          f"{'per second':>18} {'peak MiB':>9} {'client us':>9} {'neo4j us':>9}  note")
    for r in rows:
        peak = "" if r.peak_mib is None else f"{r.peak_mib:,.0f}"
        print(f"{r.measure:<16} {r.size:<22} {r.seconds:8.1f} {r.items:11,} "
              f"{r.rate:12,.0f} {r.unit:<5} {peak:>9} {_us(r.client_cpu, r.items):>9} "
              f"{_us(r.server_cpu, r.items):>9}  {r.note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000,
                        help="the first graph size exported, in runs (default 10,000)")
    parser.add_argument("--batch", type=int, default=1_000, help="runs per transaction")
    parser.add_argument("--yes", action="store_true", help="wipe the database without asking")
    parser.add_argument("--keep", type=Path, help="keep the exported files in this folder")
    args = parser.parse_args(argv)
    small = min(args.small, args.runs)

    config = Config.from_env()
    refuse_unless_allowed(config, args.yes)
    conn = resolve(config, start=True)
    Neo4jCpu.pid = local_neo4j_pid(config)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    driver = neo4j.GraphDatabase.driver(conn.uri, auth=(conn.user, str(conn.password)),
                                        notifications_min_severity="OFF")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="kb-custody-"))
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [(small, folder / "small.jsonl.gz")]
    if args.runs > small:
        sizes.append((args.runs, folder / "full.jsonl.gz"))
    print(f"{args.runs:,} runs, batches of {args.batch:,}; Neo4j at {conn.uri}; files in "
          f"{folder}", flush=True)
    rows: list[Row] = []
    try:
        wipe(driver, conn.database)
        graph.ensure_schema()
        done = 0
        for size, path in sizes:
            rows += build(graph, done, size, args.batch)
            done = size
            rows.append(export(path, f"{size:,} runs"))
            rows.append(backup(config, graph, path.with_suffix(".tar"), f"{size:,} runs"))
            show(rows[-4:])
        backed_up = rows[-1].items
        for size, path in sizes:
            wipe(driver, conn.database)
            rows.append(import_(path, f"{size:,} runs"))
            rows.append(same_file(path, path.with_name(f"again-{path.name}"), f"{size:,} runs"))
            show(rows[-2:])
        size, path = sizes[-1]
        rows.append(restore(config, graph, path.with_suffix(".tar"), f"{size:,} runs",
                            backed_up))
        show(rows[-1:])
        wipe(driver, conn.database)
    finally:
        driver.close()
        graph.close()
        if args.keep is None:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    print()
    show(rows)


if __name__ == "__main__":
    main()
