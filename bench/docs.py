"""Benchmark the knowledge site: render rate, full build, and a one-run sync.

    PYTHONPATH=. python bench/docs.py [--models 1000] [--runs 10000] [--reuse]

Builds the history through the write path (BatchBuilder batches) into the database that
KB_NEO4J_* points at (or kb's local one; use an empty one, e.g. a fresh KB_HOME), then
builds a copy of site/ under bench/out/docs-site. ``--reuse`` skips writing the history
(a database a previous run filled). Prints figures and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kb.cli.app import get_config, open_graph
from kb.graph import Graph
from kb.ingest import Client

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "docs-site"


def populate(graph: Graph, models: int, runs: int, batch: int = 500) -> None:
    client = Client(graph, actor="bench")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    b = client.builder()
    for t in range(5):
        b.team(f"team-{t}")
    for p in range(40):
        b.person(f"person{p}", name=f"Person {p}", team=f"team-{p % 5}")
    for d in range(50):
        b.dataset(f"data/{d}", description=f"dataset {d}", domain=f"domain-{d % 4}")
        b.dataset_version(f"data/{d}", "v1", digest=f"sha256:{d:08x}", rows=1000 + d)
    for m in range(models):
        b.model(f"model-{m}", description=f"model {m}", task=f"task-{m % 6}")
        b.own(f"model:model-{m}", owner=f"person{m % 40}")
    client.write(b)
    b = client.builder()
    for r in range(runs):
        m = r % models
        at = start + timedelta(minutes=r)
        run = b.run(id=f"run-{r}", person=f"person{r % 40}", experiment=f"exp-{m}",
                    started_at=at, ended_at=at, params={"lr": 0.01, "seed": r},
                    metrics={"auc": 0.5 + (r % 50) / 100}, command="python train.py",
                    inputs=[(f"data/{r % 50}", "v1", "train"),
                            (f"data/{(r + 1) % 50}", "v1", "test")],
                    code={"repo": "github.com/acme/ml", "commit": f"{r:07x}"})
        b.model_version(f"model-{m}", run_id=run.id, framework="torch")
        if len(b) >= batch:
            client.write(b)
            b = client.builder()
    client.write(b)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the history already in the database")
    args = parser.parse_args()
    from docs_gen import build_site, sync_site

    config = get_config()
    with open_graph(config) as graph:
        if not args.reuse:
            t0 = time.perf_counter()
            populate(graph, args.models, args.runs)
            print(f"history: {args.models} models, {args.runs} runs written in "
                  f"{time.perf_counter() - t0:.1f}s")
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.copytree(REPO / "site", OUT, ignore=shutil.ignore_patterns("generated", "build"))
        t0 = time.perf_counter()
        full = build_site(graph, OUT, home=config.home)
        total = time.perf_counter() - t0
        print(f"load average {_load()}")
        print(f"full build: {full.rendered} pages rendered (graph reads + templates + writing "
              f"the Markdown files) in {full.render_seconds:.1f}s "
              f"({full.rendered / full.render_seconds:.0f} pages/s; "
              f"{full.render_cpu_seconds:.1f}s CPU in this process); "
              f"mkdocs {full.mkdocs_seconds:.1f}s; end to end {total:.1f}s")
        client = Client(graph, actor="bench")
        client.log_run(id=f"run-new-{time.time_ns()}", person="person1", experiment="exp-1",
                       inputs=[("data/1", "v1", "train")], metrics={"auc": 0.99},
                       models=[{"model": "model-1"}])
        t0 = time.perf_counter()
        sync = sync_site(graph, OUT, home=config.home)
        print(f"sync after one new run ({sync.built} mkdocs build): {sync.rendered} pages "
              "re-rendered, "
              f"{len(sync.written)} rewritten ({', '.join(sync.written)}); "
              f"render {sync.render_seconds:.2f}s (finding the changes + reads + templates + "
              f"writes), mkdocs {sync.mkdocs_seconds:.1f}s, "
              f"end to end {time.perf_counter() - t0:.1f}s; load average {_load()}")
        t0 = time.perf_counter()
        again = sync_site(graph, OUT, home=config.home)
        print(f"sync with no change: {len(again.written)} rewritten in "
              f"{time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    main()
