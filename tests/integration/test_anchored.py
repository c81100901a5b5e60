"""Every documented question starts from its anchor: its cost (PROFILE db hits) on a small
story graph does not grow when a large amount of unrelated data is added."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from profile_support import Profiling, Records, plan_hits

from kb.domain import Label, Ref
from kb.graph import Graph
from kb.graph.driver import Question, answer
from kb.graph.entities import _read as show_entity
from kb.graph.history import entity_history
from kb.graph.lineage import asking_impact, read_lineage, read_neighbours
from kb.graph.nodes import related, root_count, root_page
from kb.graph.ownership import _handover
from kb.graph.production import read_deployments
from kb.graph.runs import _by_ids, read_runs_count, read_runs_page
from kb.graph.search import lucene_query, matching
from kb.graph.training import asking_who_trained, asking_who_trained_page
from kb.ingest import Client

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NO_FILTER = {"person": None, "experiment": None, "model": None, "dataset": None,
             "status": None, "since": None}
#: What a read may cost more on the larger graph: a bigger index is a deeper tree, and
#: a planner's estimate may reorder two cheap steps.
SLACK = 12


def story(graph: Graph) -> None:
    """alice trains churn on customers@v1 (six runs, one failed) and deploys it; bob and the
    vision team own the rest. Every run is newer than anything ``unrelated`` writes."""
    client = Client(graph, actor="tester")
    b = client.builder()
    b.team("vision")
    b.person("alice", name="Alice", team="vision")
    b.person("bob", name="Bob", team="vision")
    b.dataset("customers", description="churn customers")
    b.dataset_version("customers", "v1")
    b.dataset_version("customers", "v2")
    for n in range(6):
        b.run(id=f"r{n}", person="alice", experiment="churn",
              status="FAILED" if n == 4 else "COMPLETED",
              started_at=T0 + timedelta(hours=n),
              inputs=[("customers", "v1" if n < 4 else "v2", "train")])
        b.model_version("churn", version=str(n + 1), run_id=f"r{n}")
    b.deploy("churn", "6", environment="production", by="alice", id="churn-prod")
    b.own("model:churn", owner="alice")
    b.own("dataset:customers", owner="team:vision")
    b.own("experiment:churn", owner="bob")
    b.note("model:churn", "retrain monthly", by="alice")
    client.write(b)


def unrelated(graph: Graph, runs: int = 2400) -> None:
    """Other people, teams, experiments, models, datasets and thousands of runs, all older
    than the story, none linked to it; their deployments serve elsewhere."""
    client = Client(graph, actor="loader")
    b = client.builder()
    for n in range(runs):
        who, what = f"u{n % 40}", n % 200
        if n < 200:
            b.person(who, team=f"others-{n % 5}")
            b.dataset_version(f"other-d{what}", "v1")
        b.run(id=f"other-{n}", person=who, experiment=f"other-e{n % 20}",
              started_at=T0 - timedelta(days=1, minutes=n),
              inputs=[(f"other-d{what}", "v1", "train")])
        b.model_version(f"other-m{what}", version=str(n // 200 + 1), run_id=f"other-{n}")
        if n < 200:
            b.own(f"dataset:other-d{what}", owner=who)
            b.deploy(f"other-m{what}", str(n // 200 + 1), environment="staging", by=who,
                     id=f"other-dep-{n}")
        if len(b) >= 600:
            client.write(b)
            b = client.builder()
    client.write(b)
    b = client.builder()
    for what in range(200):
        b.own(f"model:other-m{what}", owner=f"u{what % 40}")
    client.write(b)


def _ask(question_of: Callable[[], Question[Any]]) -> Callable[[Any], Any]:
    """A question (``Graph.ask``'s kind) answered on the transaction it is handed."""
    def read(tx: Any) -> Any:
        return answer(question_of(), lambda r: tx.run(r.statement, **r.params))
    return read


def _runs(**filters: Any) -> Callable[[Any], Any]:
    return lambda tx: read_runs_page(tx, {**NO_FILTER, **filters}, 3, None)


def _runs_after(**filters: Any) -> Callable[[Any], Any]:
    """The second page: the cursor of the first, then the page after it."""
    def read(tx: Any) -> Any:
        first = read_runs_page(tx, {**NO_FILTER, **filters}, 2, None)
        return read_runs_page(tx, {**NO_FILTER, **filters}, 2, first.end_cursor)
    return read


READERS: dict[str, Callable[[Any], Any]] = {
    "deployments": lambda tx: read_deployments(tx, "production", "ACTIVE", None),
    "deployments of a model": lambda tx: read_deployments(tx, None, "ACTIVE", "churn"),
    "whoTrained version": _ask(lambda: asking_who_trained("churn", "3")),
    "whoTrained model": _ask(lambda: asking_who_trained("churn")),
    "whoTrained page": _ask(lambda: asking_who_trained_page("churn", first=2)),
    "lineage": lambda tx: read_lineage(tx, Ref(Label.MODEL_VERSION, "churn@6"), "BOTH", 3,
                                       200),
    "lineage of a dataset": lambda tx: read_lineage(tx, Ref(Label.DATASET, "customers"),
                                                    "DOWNSTREAM", 3, 200),
    "lineageNeighbours": lambda tx: read_neighbours(
        tx, Ref(Label.DATASET_VERSION, "customers@v1"), "DOWNSTREAM", 2, None),
    "impact": _ask(lambda: asking_impact("customers", "v1")),
    "impact of a dataset": _ask(lambda: asking_impact("customers")),
    "handover": lambda tx: _handover(tx, "alice"),
    "compareRuns": lambda tx: _by_ids(tx, ["r1", "r2"]),
    "show": lambda tx: show_entity(tx, Ref(Label.MODEL, "churn")),
    "search": lambda tx: matching(tx, lucene_query("churn"), None, 20, "churn"),
    "runs": _runs(),
    "runs after": _runs_after(),
    "runs by person": _runs(person="alice"),
    "runs by person after": _runs_after(person="alice"),
    "runs by experiment": _runs(experiment="churn"),
    "runs by model": _runs(model="churn"),
    "runs by dataset": _runs(dataset="customers"),
    "runs by status": _runs(status="FAILED"),
    "runs since": _runs(since=T0),
    "runs since after": _runs_after(since=T0),
    "runs by person counted": lambda tx: read_runs_count(tx, {**NO_FILTER,
                                                              "person": "alice"}),
    "models by owner": lambda tx: root_page(tx, "models", {"owner": "alice"}, 20),
    "models by team": lambda tx: root_page(tx, "models", {"team": "vision"}, 20),
    "models by team counted": lambda tx: root_count(tx, "models", {"team": "vision"}),
    "datasets by owner": lambda tx: root_page(tx, "datasets", {"owner": "alice"}, 20),
    "datasets by team": lambda tx: root_page(tx, "datasets", {"team": "vision"}, 20),
    "people by team": lambda tx: root_page(tx, "people", {"team": "vision"}, 20),
    "usedBy": lambda tx: related(tx, "DatasetVersion.usedBy", ["customers@v1"], 2),
    "usedBy after": lambda tx: related(tx, "DatasetVersion.usedBy", ["customers@v1"], 2,
                                       (Label.RUN, "r2")),
    "Person.runs after": lambda tx: related(tx, "Person.runs", ["alice"], 2,
                                            (Label.RUN, "r4")),
    "Experiment.runs": lambda tx: related(tx, "Experiment.runs", ["churn"], 3),
    "Model.versions after": lambda tx: related(tx, "Model.versions", ["churn"], 2,
                                               (Label.MODEL_VERSION, "churn@5")),
    "Person.owns": lambda tx: related(tx, "Person.owns", ["alice"], 20),
    "history": lambda tx: entity_history(tx, Label.MODEL, "churn", first=10),
}


class _Records(Records):
    def single(self, strict: bool = False) -> Any:
        if strict and len(self) != 1:
            raise AssertionError(f"{len(self)} records where one was expected")
        return super().single()


class _Profiling(Profiling):
    """``Profiling`` whose records also answer ``single(strict=True)``."""

    def run(self, statement: str, **params: Any) -> _Records:
        result = self.tx.run("PROFILE " + statement, **params)
        records = _Records(result)
        self.hits += plan_hits(result.consume().profile)
        self.statements += 1
        return records


def profiled(graph: Graph, reader: Callable[[Any], Any]) -> tuple[Any, int]:
    def work(tx: Any) -> tuple[Any, int]:
        profiling = _Profiling(tx)
        return reader(profiling), profiling.hits

    return graph.read(work)


def _costs(graph: Graph) -> dict[str, int]:
    # Plans made now, on this graph, as a server would make them once its statistics moved;
    # not plans cached from whatever ran before.
    graph.write(lambda tx: tx.run("CALL db.clearQueryCaches()").consume())
    return {name: profiled(graph, reader)[1] for name, reader in READERS.items()}


def test_every_question_costs_the_same_however_much_unrelated_data_the_graph_holds(
        graph: Graph) -> None:
    story(graph)
    answers = {name: profiled(graph, reader)[0] for name, reader in READERS.items()}
    small = _costs(graph)
    unrelated(graph)
    assert graph.query("MATCH (n:Run) RETURN count(n) AS n")[0]["n"] > 2400
    large = _costs(graph)
    print("db hits, story alone → with unrelated data:",
          {name: (small[name], large[name]) for name in small})
    assert all(v > 0 for v in small.values()), small
    grown = {name: (small[name], large[name]) for name in small
             if large[name] > small[name] + SLACK}
    assert not grown, grown
    # the same answers, so the reads measured are the reads that answer
    again = {name: profiled(graph, reader)[0] for name, reader in READERS.items()}
    for name in ("runs by person", "usedBy after", "lineageNeighbours", "whoTrained model",
                 "handover", "models by team"):
        assert again[name] == answers[name], name

