"""Scale benchmark: a graph grown to a million runs, and every documented question on it.

    KB_HOME=/tmp/kbscale KB_NEO4J_PORT=7880 .venv/bin/python bench/scale.py --generate 500000
    KB_HOME=/tmp/kbscale KB_NEO4J_PORT=7880 .venv/bin/python bench/scale.py --measure

``--generate N`` grows the bench graph to N runs through the SDK pipeline
(``Client.pipeline()``, ``--batch`` runs per transaction), printing runs/s as it goes. Every
run is a function of its number alone, so the history is the same whoever writes it, and a
second call continues where the first stopped (``--generate 1000000`` after ``--generate
500000`` adds the next 500,000; an interrupted one resumes after its last whole batch).
The shape: 200 people in 20 teams (the last 20 people left), 2,000 experiments, 500 models
(one run in 50 registers a version: every fifth registration goes to one busy model, the
rest round the others), 1,000 datasets of 4 versions each (every run reads one or two; one
version in a hundred runs is the same busy one), a deployment of every eighth version of the
first 100 models (retiring the one before), owners for models and datasets, notes on models
and experiments. With change records (one per entity written) that is about 2 million nodes
at 1,000,000 runs.

``--measure`` times every documented question on the graph as it stands, on each surface:
in-process (the ``kb.graph`` functions the CLI and API call) and over GraphQL (a ``kb serve``
of its own, ``--workers`` uvicorn workers, an httpx keep-alive client): the first page of
lists, p50/p95 over ``--samples`` calls after warm-up rounds (until Neo4j's JIT compiler
settles, as ``bench/api.py`` does), the surfaces sampled in turn so the machine's drift
weighs the same on each. Also "runs of one person" with the statement the API used before
its lists started from their anchor (held below as BEFORE, with its count), for the ratio;
and the peak resident memory of the ``kb serve`` processes after the question load, to
compare across graph sizes. A surface is one function (see SURFACES).

The local Neo4j's page cache defaults to ``PAGECACHE`` here (``KB_NEO4J_PAGECACHE`` wins):
kb's default is sized for a laptop's graph, not for 2 million nodes. It only adds data, but
refuses without ``--yes`` unless ``KB_HOME`` names a home of its own. Asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import common
import httpx
from api import pct, serve, timed_together, warm_up_paths
from procstat import local_neo4j_pid, peak_rss_mib, process_tree

from kb.config import Config
from kb.domain import Label, Ref
from kb.graph import Graph, exists, impact, lineage, show, who_trained
from kb.graph.compare import compare_runs
from kb.graph.history import entity_history
from kb.graph.nodes import root_page
from kb.graph.ownership import handover, orphans
from kb.graph.production import deployments
from kb.graph.runs import runs_page
from kb.graph.search import search
from kb.graph.stats import counts
from kb.graph.training import who_trained_page
from kb.ingest import BatchBuilder, Client
from kb.localdb import resolve

ACTOR = "bench-scale"
TEAMS, PEOPLE, LEFT = 20, 200, 20  # the last LEFT people have left
EXPERIMENTS, MODELS, DATASETS, VERSIONS = 2_000, 500, 1_000, 4
DEPLOYED_MODELS, DEPLOY_EVERY = 100, 8
REGISTER_EVERY, BUSY_MODEL_SHARE = 50, 5  # one run in 50; every 5th registration: model 0
COMMITS = 5_000  # code versions the runs share
PAGECACHE = "2g"
T0 = datetime(2023, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=20)  # between two runs' starts, so "since" selects a recent tail
WORDS = ("churn", "fraud", "ranking", "forecast", "vision", "speech", "pricing", "search")

# -- names, each a function of a number -----------------------------------------------------


def person(i: int) -> str:
    return f"scale-p{i:03d}"


def team(i: int) -> str:
    return f"scale-team-{i:02d}"


def experiment(i: int) -> str:
    return f"scale-exp-{i:04d}"


def model(i: int) -> str:
    return f"scale-model-{i:03d}"


def dataset(i: int) -> str:
    return f"scale-ds-{i:04d}"


def run_id(i: int) -> str:
    return f"scale-run-{i:07d}"


BUSY_PERSON = person(0)
BUSY_MODEL = model(0)
BUSY_DATASET, BUSY_VERSION = dataset(0), "v3"
BUSY_EXPERIMENT = experiment(7)


def registration(i: int) -> tuple[int, int] | None:
    """(model, version) that run ``i`` registers, or None: every fifth registration is
    the busy model's next version, the others go round the rest in turn."""
    if i % REGISTER_EVERY:
        return None
    r = i // REGISTER_EVERY
    if r % BUSY_MODEL_SHARE == 0:
        return 0, r // BUSY_MODEL_SHARE + 1
    s = (r // BUSY_MODEL_SHARE) * (BUSY_MODEL_SHARE - 1) + r % BUSY_MODEL_SHARE - 1
    return 1 + s % (MODELS - 1), s // (MODELS - 1) + 1


def deployment(m: int, version: int) -> str:
    return f"scale-dep-{m:03d}-{version}"


def deploys(m: int, version: int) -> bool:
    every = DEPLOY_EVERY * (50 if m == 0 else 1)  # the busy model's versions come fast
    return m < DEPLOYED_MODELS and version % every == 1


def run_fields(i: int) -> dict[str, Any]:
    """Run ``i`` of the history: its own seeded generator, so any range can be made alone."""
    rng = random.Random(1_000_003 * 7 + i)
    inputs = [(dataset(rng.randrange(DATASETS)), f"v{rng.randrange(VERSIONS)}", "train")]
    if rng.random() < 0.5:
        other = (dataset(rng.randrange(DATASETS)), f"v{rng.randrange(VERSIONS)}", "validation")
        if other[:2] != inputs[0][:2]:
            inputs.append(other)
    if rng.random() < 0.01 and inputs[0][:2] != (BUSY_DATASET, BUSY_VERSION):
        inputs[-1] = (BUSY_DATASET, BUSY_VERSION, inputs[-1][2])
        if len(inputs) == 2 and inputs[0][:2] == inputs[1][:2]:
            inputs.pop(0)
    started = T0 + STEP * i
    status = ("FAILED" if i % 37 == 0 else "RUNNING" if i % 101 == 0 else "COMPLETED")
    return {
        "id": run_id(i), "name": f"run {i}",
        "experiment": experiment(rng.randrange(EXPERIMENTS)),
        "person": person(rng.randrange(PEOPLE)),
        "started_at": started,
        "ended_at": None if status == "RUNNING" else started + timedelta(
            minutes=rng.randrange(2, 300)),
        "status": status,
        "params": {"lr": round(rng.uniform(1e-4, 1e-1), 5), "depth": rng.randrange(2, 12),
                   "optimizer": rng.choice(("adam", "sgd", "adamw"))},
        "metrics": {"auc": round(rng.random(), 4), "loss": round(rng.random(), 4)},
        "code": {"repo": "git@example.com:ml/scale",
                 "commit": f"{rng.randrange(COMMITS) * 7919:010x}"},
        "inputs": inputs,
    }


# -- generation -------------------------------------------------------------------------------
COUNT_RUNS = ("MATCH (r:Run) WHERE r.id STARTS WITH 'scale-run-' "
              "RETURN count(r) AS n")


def have_runs(graph: Graph) -> int:
    """Runs of this bench already written: batches commit in order, so they are the first
    ``n`` of the history."""
    return graph.read(lambda tx: tx.run(COUNT_RUNS).single(strict=True)["n"])


def write_static(client: Client) -> None:
    """People, teams, experiments, models, datasets and versions, owners and notes: one
    transaction, so one entity of it present means all are."""
    with client.batch() as b:
        for t in range(TEAMS):
            b.team(team(t), description=f"{WORDS[t % len(WORDS)]} team {t}")
        for p in range(PEOPLE):
            left = p >= PEOPLE - LEFT
            b.person(person(p), name=f"Person {p}", team=team(p % TEAMS),
                     active=not left, left_at=T0 + timedelta(days=200 + p) if left else None)
        for e in range(EXPERIMENTS):
            b.experiment(experiment(e), description=f"{WORDS[e % len(WORDS)]} study {e}")
        for d in range(DATASETS):
            b.dataset(dataset(d), description=f"{WORDS[d % len(WORDS)]} table {d}")
            for v in range(VERSIONS):
                prev = [(dataset(d), f"v{v - 1}")] if v else []
                b.dataset_version(dataset(d), f"v{v}", derived_from=prev, rows=1000 * (v + 1))
            if d % 3:
                b.own(f"dataset:{dataset(d)}", owner=f"team:{team(d % TEAMS)}")
        for m in range(MODELS):
            b.model(model(m), description=f"{WORDS[m % len(WORDS)]} model {m}")
            if m % 10:  # some models never owned
                b.own(f"model:{model(m)}", owner=person(m % PEOPLE),
                      since=T0 + timedelta(days=m % 100))
            b.note(f"model:{model(m)}", f"{WORDS[m % len(WORDS)]} baseline notes for {m}",
                   by=person(m % PEOPLE), created_at=T0 + timedelta(days=1))


def add_run(b: BatchBuilder, i: int) -> None:
    fields = run_fields(i)
    b.run(**fields)
    reg = registration(i)
    if reg is None:
        return
    m, version = reg
    b.model_version(model(m), version=version, run_id=fields["id"])
    if deploys(m, version):
        env = "prod" if m % 2 == 0 else "staging"
        b.deploy(model(m), version, environment=env, id=deployment(m, version),
                 by=person((m + version) % (PEOPLE - LEFT)), deployed_at=fields["started_at"])
        every = DEPLOY_EVERY * (50 if m == 0 else 1)
        if version > every:
            b.retire(deployment(m, version - every))
    if i % 5000 == 0:
        b.note(f"experiment:{fields['experiment']}", f"run {i} looked at; {WORDS[i % 8]} drift",
               by=fields["person"], created_at=fields["started_at"])


def generate(graph: Graph, target: int, batch: int) -> None:
    client = Client(graph, actor=ACTOR)
    if not exists(graph, Ref(Label.PERSON, person(PEOPLE - 1))):
        write_static(client)
    start = have_runs(graph)
    if start >= target:
        print(f"{start:,} runs present; nothing to generate")
        return
    print(f"generating runs {start:,} to {target:,} through the SDK pipeline "
          f"(batches of {batch:,}) ...", flush=True)
    began, done, report = time.perf_counter(), start, max(batch, 10_000)
    with client.pipeline() as pipe:
        for first in range(start, target, batch):
            with pipe.batch() as b:
                for i in range(first, min(first + batch, target)):
                    add_run(b, i)
            done = min(first + batch, target)
            if done % report == 0 or done == target:
                # Submitted, not yet written: the pipeline holds at most a couple of batches.
                rate = (done - start) / (time.perf_counter() - began)
                print(f"  {done:>9,} runs submitted, {rate:,.0f} runs/s (load {_load()})",
                      flush=True)
    seconds = time.perf_counter() - began
    print(f"wrote {target - start:,} runs in {seconds:,.0f} s = "
          f"{(target - start) / seconds:,.0f} runs/s")
    show_counts(graph)


ALL_NODES = "MATCH (n) RETURN count(n) AS n"


def show_counts(graph: Graph) -> None:
    found = counts(graph)
    total = graph.read(lambda tx: tx.run(ALL_NODES).single(strict=True)["n"])
    print(f"graph: {total:,} nodes (with change records and kb's own); "
          + ", ".join(f"{k} {v:,}" for k, v in found.items()))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the questions --------------------------------------------------------------------------
# BEFORE: the API's "runs of a person" list as it stood before lists started from their
# anchor (kb/graph/nodes.py PAGES["runs"], its count and its page): every Run is scanned and
# tested. Held here, not in kb, as the baseline the anchored read is measured against.
BEFORE_MATCH = ("MATCH (n:Run) WHERE ($since IS NULL OR n.startedAt >= $since)"
                " AND ($status IS NULL OR n.status = $status)"
                " AND ($person IS NULL OR EXISTS { MATCH (:Person {handle: $person})"
                "-[:TRAINED]->(n) })"
                " AND ($experiment IS NULL OR EXISTS { MATCH (n)-[:PART_OF]->"
                "(:Experiment {name: $experiment}) })")
BEFORE_COUNT = f"{BEFORE_MATCH}\nRETURN count(n) AS total"
BEFORE_ROWS = (f"{BEFORE_MATCH}\nWITH n ORDER BY n.startedAt DESC, n.id SKIP $skip "
               "LIMIT $limit\nRETURN properties(n) AS props")


def before_runs_of_person(graph: Graph, handle: str, first: int) -> Callable[[], Any]:
    params = {"since": None, "status": None, "person": handle, "experiment": None}

    def read(tx: Any) -> tuple[int, list[Any]]:
        total = tx.run(BEFORE_COUNT, **params).single(strict=True)["total"]
        return total, list(tx.run(BEFORE_ROWS, skip=0, limit=first, **params))

    return lambda: graph.read(read)


@dataclass(frozen=True)
class Anchors:
    """What the questions ask about, chosen once from the graph as it stands."""

    runs: int
    since: datetime
    run_a: str
    run_b: str
    model_version: str
    first: int = 20


def anchors(graph: Graph, first: int) -> Anchors:
    n = have_runs(graph)
    if n < REGISTER_EVERY * 2:
        sys.exit(f"only {n:,} bench runs: --generate first")
    return Anchors(runs=n, since=T0 + STEP * int(n * 0.95), run_a=run_id(n // 3),
                   run_b=run_id(n // 3 + 1), model_version="1", first=first)


#: The documented questions, in the table's order.
QUESTIONS = (
    "production", "whoTrained model", "whoTrained version", "lineage depth 3",
    "impact", "handover", "runs of person", "orphans", "compareRuns", "search", "show run",
    "models by owner", "runs by experiment", "runs by status", "runs since",
    "history of model",
)


def in_process(graph: Graph, a: Anchors) -> dict[str, Callable[[], Any]]:
    """The ``kb.graph`` functions, as the CLI and the API call them."""
    def listing(kind: str, **filters: Any) -> Callable[[], Any]:
        if kind == "runs":
            return lambda: runs_page(graph, **filters, first=a.first)
        return lambda: graph.read(root_page, kind, filters, a.first)

    return {
        "production": lambda: deployments(graph, environment="prod"),
        "whoTrained model": lambda: who_trained_page(graph, BUSY_MODEL, first=a.first),
        "whoTrained version": lambda: who_trained(graph, BUSY_MODEL, a.model_version),
        "lineage depth 3": lambda: lineage(
            graph, Ref(Label.DATASET_VERSION, f"{BUSY_DATASET}@{BUSY_VERSION}"),
            direction="DOWNSTREAM", depth=3),
        "impact": lambda: impact(graph, BUSY_DATASET, BUSY_VERSION),
        "handover": lambda: handover(graph, BUSY_PERSON),
        "runs of person": listing("runs", person=BUSY_PERSON),
        "orphans": lambda: orphans(graph),
        "compareRuns": lambda: compare_runs(graph, a.run_a, a.run_b),
        "search": lambda: search(graph, "churn"),
        "show run": lambda: show(graph, Ref(Label.RUN, a.run_a)),
        "models by owner": listing("models", owner=BUSY_PERSON),
        "runs by experiment": listing("runs", experiment=BUSY_EXPERIMENT),
        "runs by status": listing("runs", status="FAILED"),
        "runs since": listing("runs", since=a.since),
        "history of model": lambda: graph.read(entity_history, Label.MODEL, BUSY_MODEL,
                                               first=a.first),
    }


_RUNS = "nodes { runId status startedAt } pageInfo { hasNextPage endCursor }"
GRAPHQL: dict[str, tuple[str, Callable[[Anchors], dict[str, Any]]]] = {
    "production": ('query($n: Int!) { deployments(environment: "prod", first: $n) '
                   "{ deploymentId model version deployedBy trainedBy } }",
                   lambda a: {"n": a.first}),
    "whoTrained model": ("query($m: String!, $n: Int!) { whoTrained(model: $m, first: $n) "
                         "{ version personHandle runId inputs { dataset version } } }",
                         lambda a: {"m": BUSY_MODEL, "n": a.first}),
    "whoTrained version": ("query($m: String!, $v: String) { whoTrained(model: $m, version: $v)"
                           " { version personHandle runId inputs { dataset version } } }",
                           lambda a: {"m": BUSY_MODEL, "v": a.model_version}),
    "lineage depth 3": ("query($id: ID!) { lineage(id: $id, direction: DOWNSTREAM, depth: 3) "
                        "{ truncated nodes { id label key } edges { source target type } } }",
                        lambda a: {"id": f"dataset:{BUSY_DATASET}@{BUSY_VERSION}"}),
    "impact": ("query($d: String!, $v: String, $n: Int!) { impact(dataset: $d, version: $v, "
               "first: $n) { kind key hops } }",
               lambda a: {"d": BUSY_DATASET, "v": BUSY_VERSION, "n": a.first}),
    "handover": ("query($p: String!, $n: Int!) { handover(person: $p, first: $n) "
                 "{ kind key relations atRisk } }", lambda a: {"p": BUSY_PERSON, "n": a.first}),
    "runs of person": (f"query($p: String, $n: Int!) {{ runs(person: $p, first: $n) {{ {_RUNS} "
                       "} }", lambda a: {"p": BUSY_PERSON, "n": a.first}),
    "orphans": ("query($n: Int!) { orphans(first: $n) { kind key reason feedsProduction } }",
                lambda a: {"n": a.first}),
    "compareRuns": ("query($a: String!, $b: String!) { compareRuns(a: $a, b: $b) { sameCode "
                    "params { key } metrics { key } inputsOnlyInA inputsOnlyInB } }",
                    lambda a: {"a": a.run_a, "b": a.run_b}),
    "search": ('query($n: Int!) { search(text: "churn", first: $n) { score node { id } } }',
               lambda a: {"n": a.first}),
    "show run": ("query($id: String!) { run(id: $id) { runId status startedAt endedAt "
                 "params { key value } metrics { key value } } }", lambda a: {"id": a.run_a}),
    "models by owner": ("query($p: String, $n: Int!) { models(owner: $p, first: $n) "
                        "{ nodes { name } pageInfo { hasNextPage endCursor } } }",
                        lambda a: {"p": BUSY_PERSON, "n": a.first}),
    "runs by experiment": (f"query($e: String, $n: Int!) {{ runs(experiment: $e, first: $n) "
                           f"{{ {_RUNS} }} }}", lambda a: {"e": BUSY_EXPERIMENT, "n": a.first}),
    "runs by status": (f"query($n: Int!) {{ runs(status: FAILED, first: $n) {{ {_RUNS} }} }}",
                       lambda a: {"n": a.first}),
    "runs since": (f"query($s: DateTime, $n: Int!) {{ runs(since: $s, first: $n) {{ {_RUNS} "
                   "} }", lambda a: {"s": a.since.isoformat(), "n": a.first}),
    "history of model": ("query($m: String!, $n: Int!) { model(name: $m) { history(first: $n) "
                         "{ nodes { id at op } } } }", lambda a: {"m": BUSY_MODEL, "n": a.first}),
}


def over_graphql(http: httpx.Client, url: str, a: Anchors) -> dict[str, Callable[[], Any]]:
    """``POST /graphql`` on the bench's own ``kb serve``; an answer with errors stops it."""
    def ask(query: str, variables: dict[str, Any]) -> Callable[[], Any]:
        body = {"query": query, "variables": variables}

        def call() -> Any:
            r = http.post(url, json=body)
            data = r.json()
            if r.status_code != 200 or data.get("errors"):
                raise RuntimeError(f"the API answered {r.status_code}: {r.text[:300]}")
            return data
        return call

    return {name: ask(query, variables(a)) for name, (query, variables) in GRAPHQL.items()}


# -- further surfaces: one function each, returning question name -> zero-argument call
# (leave a question out where the surface has none), and one line in ``surfaces()``.


def python_api(a: Anchors) -> dict[str, Callable[[], Any]]:
    """The Python read API (``kb.runs(...)``, ``kb.who_trained(...)``...), as the issue
    spells it: lists are lazy iterators, of which the first page is taken. Empty until
    ``kb`` has it; a call whose shape differs is reported and left out of the table."""
    import kb

    if not hasattr(kb, "runs"):
        return {}

    def first(items: Any) -> list[Any]:
        return list(itertools.islice(iter(items), a.first))

    dv = f"{BUSY_DATASET}@{BUSY_VERSION}"
    return {
        "whoTrained model": lambda: first(kb.who_trained(BUSY_MODEL)),
        "whoTrained version": lambda: first(kb.who_trained(BUSY_MODEL,
                                                           version=a.model_version)),
        "lineage depth 3": lambda: kb.lineage(f"dataset:{dv}", direction="DOWNSTREAM",
                                              depth=3),
        "impact": lambda: first(kb.impact(BUSY_DATASET, version=BUSY_VERSION)),
        "handover": lambda: first(kb.handover(BUSY_PERSON)),
        "runs of person": lambda: first(kb.runs(person=BUSY_PERSON, page_size=a.first)),
        "orphans": lambda: first(kb.orphans()),
        "compareRuns": lambda: kb.compare_runs(a.run_a, a.run_b),
        "search": lambda: first(kb.search("churn")),
        "show run": lambda: kb.show(f"run:{a.run_a}"),
        "models by owner": lambda: first(kb.models(owner=BUSY_PERSON, page_size=a.first)),
        "runs by experiment": lambda: first(kb.runs(experiment=BUSY_EXPERIMENT,
                                                    page_size=a.first)),
        "runs by status": lambda: first(kb.runs(status="FAILED", page_size=a.first)),
        "runs since": lambda: first(kb.runs(since=a.since, page_size=a.first)),
    }


def surfaces(graph: Graph, http: httpx.Client, url: str, a: Anchors
             ) -> dict[str, dict[str, Callable[[], Any]]]:
    """Every surface measured, by column name."""
    found = {
        "in-process": in_process(graph, a),
        "GraphQL": over_graphql(http, url, a),
        "Python API": python_api(a),
    }
    return {name: calls for name, calls in found.items() if calls}


def answering(name: str, calls: dict[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
    """The calls that answer once; each that fails is printed and left out."""
    kept = {}
    for question, call in calls.items():
        try:
            call()
        except Exception as exc:  # a bench reports what failed and goes on
            print(f"  {name} / {question}: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            kept[question] = call
    return kept


def measure(config: Config, graph: Graph, samples: int, first: int, workers: int,
            max_warmup: int, settled: float) -> None:
    a = anchors(graph, first)
    show_counts(graph)
    print(f"{a.runs:,} bench runs; busy person {BUSY_PERSON}, model {BUSY_MODEL}, dataset "
          f"version {BUSY_DATASET}@{BUSY_VERSION}, experiment {BUSY_EXPERIMENT}; first page "
          f"{first}")
    proc, url = serve(workers)
    pids = process_tree(proc.pid)
    http = httpx.Client(timeout=120, headers={"Accept": "application/json"})
    try:
        measured = {name: answering(name, calls)
                    for name, calls in surfaces(graph, http, url, a).items()}
        before = before_runs_of_person(graph, BUSY_PERSON, first)
        total = graph.read(lambda tx: tx.run(BEFORE_COUNT, since=None, status=None,
                                             person=BUSY_PERSON, experiment=None)
                           .single(strict=True)["total"])
        calls = [f for calls in measured.values() for f in calls.values()]
        # BEFORE reads every run: warmed and timed a few times only.
        warm_up_paths(calls, local_neo4j_pid(config), max_warmup, settled, calls=3)
        names = list(measured)
        head = "".join(f"{n + ' p50':>16}{n + ' p95':>16}" for n in names)
        print(f"\n{'question':<22}{head}   (ms; {samples} samples after warm-up)")
        for question in QUESTIONS:
            fns = [measured[n].get(question) for n in names]
            present = [f for f in fns if f is not None]
            times = iter(timed_together(present, samples, warmup=3))
            cells = ""
            for f in fns:
                if f is None:
                    cells += f"{'-':>16}{'-':>16}"
                else:
                    t = next(times)
                    cells += f"{pct(t, 50):>16.1f}{pct(t, 95):>16.1f}"
            print(f"{question:<22}{cells}", flush=True)
        anchored = measured["in-process"].get("runs of person")
        new, old = timed_together([anchored or before, before], min(samples, 5))
        print(f"\nruns of {BUSY_PERSON} ({total:,} runs), first page of {first}: BEFORE "
              f"(main's PAGES['runs'], count and page) p50 {pct(old, 50):.1f} ms, p95 "
              f"{pct(old, 95):.1f} ms; now p50 {pct(new, 50):.1f} ms: "
              f"{statistics.median(old) / statistics.median(new):.1f}x")
        peaks = peak_rss_mib(process_tree(proc.pid) or pids)
        print(f"kb serve peak RSS after the questions, by process ({workers} worker(s), "
              "their supervisor and its helpers): "
              + ", ".join(f"{p:.0f}" for p in sorted(peaks.values(), reverse=True))
              + f" MiB (load {_load()})")
    finally:
        http.close()
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generate", type=int, metavar="N",
                        help="grow the bench graph to N runs (resumes where it stopped)")
    parser.add_argument("--measure", action="store_true",
                        help="time every documented question on the graph as it stands")
    parser.add_argument("--batch", type=int, default=2_000, help="runs per transaction")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--first", type=int, default=20, help="page size of lists")
    parser.add_argument("--workers", type=int, default=2,
                        help="uvicorn worker processes of the bench's kb serve")
    parser.add_argument("--max-warmup", type=int, default=6)
    parser.add_argument("--settled", type=float, default=0.05)
    parser.add_argument("--yes", action="store_true",
                        help="write into a database that is not a dedicated KB_HOME's")
    args = parser.parse_args(argv)
    if args.generate is None and not args.measure:
        parser.error("give --generate N, --measure, or both")
    os.environ.setdefault("KB_NEO4J_PAGECACHE", PAGECACHE)
    config = Config.from_env()
    common.refuse_unless_allowed(config, args.yes, [
        f"bench/scale.py adds its bench data to the database at {common.where(config)} "
        f"(database {config.neo4j_database!r}); Neo4j page cache {config.neo4j_pagecache}"])
    conn = resolve(config, start=True)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database)
    try:
        graph.ensure_schema()
        if args.generate is not None:
            generate(graph, args.generate, args.batch)
        if args.measure:
            measure(config, graph, args.samples, args.first, args.workers, args.max_warmup,
                    args.settled)
    finally:
        graph.close()


if __name__ == "__main__":
    main()
