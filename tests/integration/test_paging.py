"""Every list longer than a page can be completed: paging through it, through the graph
function and through GraphQL, gives every item exactly once, in the list's order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import Api
from cli_support import at_80_columns, ok

from kb.domain import Label, Ref, to_global_id
from kb.domain.paging import pages
from kb.errors import InvalidInput, NotFound
from kb.graph import Graph
from kb.graph.lineage import lineage, neighbours
from kb.graph.nodes import root_count, root_page
from kb.graph.runs import runs_count, runs_page
from kb.ingest import Client

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _write(client: Client, build: Any, count: int, per_batch: int = 200) -> None:
    for start in range(0, count, per_batch):
        b = client.builder()
        for n in range(start, min(count, start + per_batch)):
            build(b, n)
        client.write(b)


def _many_runs(graph: Graph) -> None:
    """250 runs of alice (ten share one start time, three never started), 430 runs of
    others reading one dataset version, and one run that produced 450 dataset versions."""
    client = Client(graph, actor="loader")
    b = client.builder()
    b.person("alice")
    b.person("bob")
    b.dataset_version("customers", "v1")
    client.write(b)

    def alice(b: Any, n: int) -> None:
        started = None if n < 3 else T0 + timedelta(minutes=n // 10 if n < 13 else n)
        b.run(id=f"a-{n:03d}", person="alice", experiment="churn", started_at=started)

    def reader(b: Any, n: int) -> None:
        b.run(id=f"r-{n:03d}", person="bob", experiment="other",
              started_at=T0 + timedelta(hours=n % 17), inputs=[("customers", "v1", "train")])

    _write(client, alice, 250)
    _write(client, reader, 430)
    b = client.builder()
    b.run(id="wide", person="bob", started_at=T0,
          outputs=[("parts", f"p{n:03d}") for n in range(450)])
    client.write(b)


def _expected_alice(graph: Graph) -> list[str]:
    rows = graph.query("MATCH (:Person {handle: 'alice'})-[:TRAINED]->(n:Run) "
                       "RETURN n.id AS id, n.startedAt AS at")
    dated = sorted((r for r in rows if r["at"] is not None), key=lambda r: r["id"])
    dated.sort(key=lambda r: r["at"].to_native(), reverse=True)
    undated = sorted(r["id"] for r in rows if r["at"] is None)
    return [r["id"] for r in dated] + undated


def test_runs_of_one_person_page_through_every_run_once(graph: Graph) -> None:
    _many_runs(graph)
    expected = _expected_alice(graph)
    assert len(expected) == 250
    got = [s.id for s in pages(lambda after: runs_page(graph, person="alice", first=37,
                                                        after=after))]
    assert got == expected
    assert runs_count(graph, person="alice") == 250
    assert runs_count(graph, person="alice", experiment="churn") == 250
    # every filter, anchored elsewhere, agrees with the person's list
    by_experiment = [s.id for s in pages(lambda after: runs_page(
        graph, experiment="churn", first=100, after=after))]
    assert by_experiment == expected
    assert [s.id for s in pages(lambda after: runs_page(
        graph, dataset="customers", first=100, after=after))] == [
        s.id for s in pages(lambda after: runs_page(graph, person="bob", first=100,
                                                     after=after)) if s.id != "wide"]
    assert runs_count(graph, dataset="customers") == 430
    # with no filter: the start-time index, then the runs never started
    everything = [s.id for s in pages(lambda after: runs_page(graph, first=100, after=after))]
    assert len(everything) == len(set(everything)) == 250 + 430 + 1
    assert everything[-3:] == ["a-000", "a-001", "a-002"]
    assert runs_count(graph) == 681
    since = T0 + timedelta(minutes=200)
    later = [s.id for s in pages(lambda after: runs_page(graph, person="alice", since=since,
                                                          first=20, after=after))]
    assert later == [i for i in expected if i >= "a-200"]
    assert runs_count(graph, person="alice", since=since) == len(later)


def test_runs_refuse_unknown_anchors_and_foreign_cursors(graph: Graph) -> None:
    _many_runs(graph)
    with pytest.raises(NotFound):
        runs_page(graph, person="nobody")
    with pytest.raises(NotFound):
        runs_count(graph, dataset="nothing")
    with pytest.raises(InvalidInput) as e:
        runs_page(graph, person="alice", after="bm90IGEgY3Vyc29y")
    assert e.value.field == "after"
    with pytest.raises(InvalidInput):
        runs_page(graph, first=101)


RUNS = """query($after: String, $person: String, $dataset: String) {
  runs(first: 100, after: $after, person: $person, dataset: $dataset) {
    nodes { id } pageInfo { hasNextPage endCursor } } }"""
RUNS_COUNTED = """query($person: String) {
  runs(first: 5, person: $person) { totalCount nodes { id } } }"""


def _graphql_pages(api: Api, query: str, path: list[str], variables: dict[str, Any]
                   ) -> list[str]:
    out: list[str] = []
    after = None
    while True:
        data: Any = api.data(query, {**variables, "after": after})
        for step in path:
            data = data[step]
        out += [n["id"] for n in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            return out
        after = data["pageInfo"]["endCursor"]


def test_runs_page_through_graphql(graph: Graph) -> None:
    _many_runs(graph)
    api = Api(graph)
    expected = _expected_alice(graph)
    got = _graphql_pages(api, RUNS, ["runs"], {"person": "alice"})
    assert got == [to_global_id(Label.RUN, i) for i in expected]
    assert len(_graphql_pages(api, RUNS, ["runs"], {"dataset": "customers"})) == 430
    data = api.data(RUNS_COUNTED, {"person": "alice"})
    assert data["runs"]["totalCount"] == 250 and len(data["runs"]["nodes"]) == 5
    body = api.post(RUNS, {"after": "offset:3"}).json()
    assert body["errors"] and "after" in body["errors"][0]["message"]


def test_root_lists_page_by_key_from_their_anchor(graph: Graph) -> None:
    client = Client(graph, actor="loader")

    def models(b: Any, n: int) -> None:
        b.model(f"m-{n:03d}")
        if n % 3 == 0:
            b.own(f"model:m-{n:03d}", owner="alice")
        if n % 5 == 0:
            b.own(f"model:m-{n:03d}", owner="team:vision")

    b = client.builder()
    b.team("vision")
    b.person("alice", team="vision")
    client.write(b)
    _write(client, models, 130)
    every = [p["name"] for p in pages(lambda after: graph.read(
        root_page, "models", {}, 40, after))]
    assert every == [f"m-{n:03d}" for n in range(130)]
    assert graph.read(root_count, "models", {}) == 130
    owned = [p["name"] for p in pages(lambda after: graph.read(
        root_page, "models", {"owner": "alice"}, 7, after))]
    assert owned == [f"m-{n:03d}" for n in range(0, 130, 3)]
    team = [p["name"] for p in pages(lambda after: graph.read(
        root_page, "models", {"team": "vision"}, 9, after))]
    assert team == [f"m-{n:03d}" for n in range(130) if n % 3 == 0 or n % 5 == 0]
    assert graph.read(root_count, "models", {"team": "vision"}) == len(team)
    api = Api(graph)
    query = """query($after: String, $owner: String) { models(first: 11, after: $after,
      owner: $owner) { nodes { id } pageInfo { hasNextPage endCursor } } }"""
    got = _graphql_pages(api, query, ["models"], {"owner": "alice"})
    assert got == [to_global_id(Label.MODEL, name) for name in owned]


USED_BY = """query($after: ID) { datasetVersion(dataset: "customers", version: "v1") {
  usedBy(first: 100, after: $after) { id } } }"""


def test_used_by_continues_after_the_last_run_until_every_reader_is_listed(
        graph: Graph) -> None:
    _many_runs(graph)
    api = Api(graph)
    got: list[str] = []
    after = None
    while True:
        page = api.data(USED_BY, {"after": after})["datasetVersion"]["usedBy"]
        got += [r["id"] for r in page]
        if len(page) < 100:
            break
        after = page[-1]["id"]
    assert len(got) == len(set(got)) == 430
    assert set(got) == {to_global_id(Label.RUN, f"r-{n:03d}") for n in range(430)}


NEIGHBOURS = """query($after: String) {
  lineageNeighbours(id: "run:wide", direction: DOWNSTREAM, first: 100, after: $after) {
    neighbours { node { key } edge { type } } endCursor hasNextPage } }"""


def test_a_cut_lineage_node_lists_the_rest_of_its_neighbours(graph: Graph) -> None:
    _many_runs(graph)
    answer = lineage(graph, Ref(Label.RUN, "wide"), direction="DOWNSTREAM", depth=1,
                     per_hop_limit=200)
    assert answer.truncated
    (cut,) = answer.truncated_at
    assert (cut.node, cut.direction, cut.shown) == (to_global_id(Label.RUN, "wide"),
                                                     "DOWNSTREAM", 200)
    shown = {n.key for n in answer.nodes if n.label == "DatasetVersion"}
    rest = [n.node.key for n in pages(lambda after: neighbours(
        graph, Ref(Label.RUN, "wide"), "DOWNSTREAM", first=60,
        after=after if after is not None else cut.end_cursor))]
    assert len(shown) == 200 and len(rest) == 250
    assert shown.isdisjoint(rest)
    assert shown | set(rest) == {f"parts@p{n:03d}" for n in range(450)}
    every = [n.node.key for n in pages(lambda after: neighbours(
        graph, Ref(Label.RUN, "wide"), "DOWN", first=100, after=after))]
    assert every == sorted(every) and len(every) == 450
    api = Api(graph)
    got: list[str] = []
    after: str | None = None
    while True:
        page = api.data(NEIGHBOURS, {"after": after})["lineageNeighbours"]
        got += [n["node"]["key"] for n in page["neighbours"]]
        assert all(n["edge"]["type"] == "PRODUCED" for n in page["neighbours"])
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert got == every
    data = api.data("""{ lineage(id: "run:wide", direction: DOWNSTREAM, depth: 1) {
      truncated truncatedAt { node direction shown endCursor } } }""")["lineage"]
    assert data["truncated"] and data["truncatedAt"] == [{
        "node": cut.node, "direction": "DOWNSTREAM", "shown": 200,
        "endCursor": cut.end_cursor}]
    # a reader of a dataset version lists its readers upstream of nothing: none
    assert neighbours(graph, Ref(Label.DATASET_VERSION, "customers@v1"), "UPSTREAM"
                      ).items == ()
    assert len(neighbours(graph, Ref(Label.DATASET_VERSION, "customers@v1"), "DOWNSTREAM",
                          first=100).items) == 100


# -- from the shell -------------------------------------------------------------------------
def _command(output: str) -> list[str]:
    """The continuing command printed under "more follow:" / "the rest:"."""
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("kb "))
    return lines[at].split()[1:]


def test_the_shell_prints_the_command_that_continues_a_list(
        kb_env: Any, graph: Graph, monkeypatch: pytest.MonkeyPatch) -> None:
    _many_runs(graph)
    kb = at_80_columns(monkeypatch)
    seen: list[str] = []
    args = ["runs", "--person", "alice", "--first", "100", "--json"]
    while True:
        result = kb(*args)
        assert result.exit_code == 0, result.output
        seen += [r["id"] for r in json.loads(result.stdout)]
        if "more follow" not in result.stderr:
            break
        args = [*result.stderr.split("more follow: kb ", 1)[1].split(), "--json"]
    assert seen == _expected_alice(graph)
    text = ok(kb("runs", "--person", "alice", "--first", "30"))
    assert _command(text)[:5] == ["runs", "--person", "alice", "--first", "30"]
    assert all(len(line) <= 80 for line in text.splitlines() if not line.strip().startswith(
        "kb "))
    tree = ok(kb("lineage", "run:wide", "--down", "--depth", "1"))
    assert "run:wide: 200 downstream neighbours shown; the rest:" in tree
    rest = _command(tree)
    assert rest[:4] == ["lineage", "run:wide", "--neighbours", "--down"]
    keys: list[str] = []
    while True:
        page = ok(kb(*rest, "--json"))
        data = json.loads(page)
        keys += [n["ref"] for n in data["neighbours"]]
        if not data["has_next"]:
            break
        rest = ["lineage", "run:wide", "--neighbours", "--down", "--after",
                data["end_cursor"]]
    assert len(keys) == 250 and len(set(keys)) == 250


def test_who_trained_pages_a_model_with_hundreds_of_versions_in_its_order(
        graph: Graph) -> None:
    from kb.graph.training import who_trained, who_trained_page

    client = Client(graph, actor="loader")

    def version(b: Any, n: int) -> None:
        b.run(id=f"t-{n:03d}", person="alice", started_at=T0 + timedelta(minutes=n))
        b.model_version("churn", version=str(n + 1) if n % 50 else f"named-{n}",
                        run_id=f"t-{n:03d}")

    _write(client, version, 300, per_batch=100)
    whole = who_trained(graph, "churn")
    paged = list(pages(lambda after: who_trained_page(graph, "churn", first=45, after=after)))
    assert len(paged) == 300
    assert [f.version for f in paged] == [f.version for f in whole]
    assert paged == whole
    with pytest.raises(NotFound):
        who_trained_page(graph, "nothing")
