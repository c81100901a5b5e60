"""Reading history: ``history`` on every node and the root ``changes`` in GraphQL, and
``kb history`` / ``kb changes`` in the CLI, over writes made at known times through the
SDK, OpenLineage, GraphQL and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import Api
from cli_support import at_80_columns, ok, ok_json
from profile_support import profiled
from rich.cells import cell_len

from kb.domain import Label
from kb.graph import Graph
from kb.graph.history import changes, entity_history, history, history_of
from kb.ingest import Client

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
# What the write path lets through into a text field: markup, a newline, a tab, wide text.
HOSTILE = "[red]boom[/red]\n\t漢字漢字 [link=https://evil.example]x[/link]" + "x" * 60


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def iso(hours: float) -> str:
    return at(hours).isoformat()


def story(graph: Graph) -> None:
    """A model's life through the SDK (two people) and OpenLineage, an hour apart."""
    alice = Client(graph, actor="alice", default_person="alice")
    bob = Client(graph, actor="bob", default_person="bob")
    lineage = Client(graph, actor="marquez", source="openlineage")
    b = alice.builder()
    b.person("alice", team="ml")
    b.run(id="r1", person="alice", experiment="churn", status="RUNNING",
          inputs=[("customers", "1", "train")])
    b.model_version("churn", version=1, run_id="r1", aliases=["champion"])
    b.own("model:churn", owner="person:alice", since=at(0))
    b.note("model:churn", "first cut", by="alice")
    alice.write(b, now=at(0))
    b = alice.builder()
    b.run(id="r1", status="COMPLETED", command=HOSTILE)
    alice.write(b, now=at(1))
    b = bob.builder()
    b.run(id="r2", person="bob", experiment="churn", status="COMPLETED")
    b.model_version("churn", version=2, run_id="r2", aliases=["champion"])
    bob.write(b, now=at(2))
    b = lineage.builder()
    b.run(id="ol-1", status="RUNNING", outputs=[("customers", "2")])
    lineage.write(b, now=at(3))
    b = bob.builder()
    b.deploy("churn", "2", environment="production", by="bob", id="dep-1", deployed_at=at(4))
    bob.write(b, now=at(4))


@pytest.fixture
def api(graph: Graph) -> Api:
    story(graph)
    return Api(graph)


@pytest.fixture
def kb(kb_env: Path, api: Api, monkeypatch: pytest.MonkeyPatch):
    return at_80_columns(monkeypatch)


CHANGE = """id at actor path batch op kinds entity { kind key entityId }
  fields { name before after } links { rel direction kind key action props }"""
PAGE = f"edges {{ cursor node {{ {CHANGE} }} }} " \
       "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
MODEL_HISTORY = f"""
query($name: String!, $first: Int!, $after: String, $kinds: [ChangeKind!]) {{
  model(name: $name) {{ history(first: $first, after: $after, kinds: $kinds) {{ {PAGE} }} }} }}
"""
NODE_HISTORY = f"""
query($id: ID!, $first: Int!, $after: String, $kinds: [ChangeKind!]) {{
  node(id: $id) {{ history(first: $first, after: $after, kinds: $kinds) {{ {PAGE} }} }} }}
"""
CHANGES = f"""
query($since: DateTime, $until: DateTime, $actor: String, $kinds: [ChangeKind!],
      $first: Int!, $after: String) {{
  changes(since: $since, until: $until, actor: $actor, kinds: $kinds, first: $first,
          after: $after) {{ {PAGE} }} }}
"""


def rows(page: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Each change as (at, actor, path, kind:key, op), in the page's order."""
    return [(n["at"], n["actor"], n["path"], f"{n['entity']['kind']}:{n['entity']['key']}",
             n["op"]) for n in (e["node"] for e in page["edges"])]


def node_id(label: Label, key: str) -> str:
    from kb.domain import to_global_id

    return to_global_id(label, key)


def test_a_model_history_merges_its_versions_and_deployments(api: Api, kb) -> None:
    carol = api.token("write", actor="carol")
    moved = api.data('mutation { transferOwnership(asset: "model:churn", from: "person:alice",'
                     ' to: "person:bob") { ok errors { code } } }', token=carol)
    assert moved["transferOwnership"]["ok"] is True
    ok(kb("retire", "dep-1"))
    page = api.data(MODEL_HISTORY, {"name": "churn", "first": 50})["model"]["history"]
    got = rows(page)
    # The two writes made now, by GraphQL and by the CLI, come first.
    assert [r[1:] for r in got[:2]] == [("dora", "cli", "Deployment:dep-1", "update"),
                                        ("carol", "api", "Model:churn", "update")]
    assert all(r[0] > iso(4) for r in got[:2])
    assert got[2:] == [
        (iso(4), "bob", "sdk", "Deployment:dep-1", "create"),
        (iso(2), "bob", "sdk", "Model:churn", "update"),
        (iso(2), "bob", "sdk", "ModelVersion:churn@1", "update"),
        (iso(2), "bob", "sdk", "ModelVersion:churn@2", "create"),
        (iso(0), "alice", "sdk", "ModelVersion:churn@1", "create"),
        (iso(0), "alice", "sdk", "Model:churn", "create"),
    ]
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["hasPreviousPage"] is False
    nodes = [e["node"] for e in page["edges"]]
    retired, transfer, _, moved_alias = nodes[:4]
    assert retired["kinds"] == ["STATUS"]
    assert {f["name"]: (f["before"], f["after"]) for f in retired["fields"]}["status"] == (
        "ACTIVE", "RETIRED")
    assert transfer["kinds"] == ["OWNERSHIP"]
    assert [(x["rel"], x["direction"], x["kind"], x["key"], x["action"])
            for x in transfer["links"]] == [("OWNS", "in", "Person", "alice", "close"),
                                            ("OWNS", "in", "Person", "bob", "add")]
    assert [(x["action"], x["key"], x["props"]) for x in moved_alias["links"]] == [
        ("close", "churn@1", {"alias": "champion"}), ("add", "churn@2", {"alias": "champion"})]
    assert moved_alias["entity"]["entityId"] == node_id(Label.MODEL, "churn")
    # The batch names the write: churn@1 lost the alias in the same one.
    assert nodes[4]["batch"] == moved_alias["batch"] == nodes[5]["batch"]
    assert nodes[4]["fields"] == [{"name": "aliases", "before": ["champion"], "after": []}]
    # The kinds filter keeps the changes that touched aliases, paged like the rest.
    aliases = api.data(MODEL_HISTORY, {"name": "churn", "first": 2, "kinds": ["ALIASES"]})
    page = aliases["model"]["history"]
    assert [r[3:] for r in rows(page)] == [("Model:churn", "update"),
                                           ("ModelVersion:churn@1", "update")]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = api.data(MODEL_HISTORY, {"name": "churn", "first": 10, "kinds": ["ALIASES"],
                                    "after": page["pageInfo"]["endCursor"]})["model"]["history"]
    assert [r[3:] for r in rows(rest)] == [("ModelVersion:churn@2", "create"),
                                           ("ModelVersion:churn@1", "create"),
                                           ("Model:churn", "create")]
    assert rest["pageInfo"]["hasPreviousPage"] is True


@pytest.mark.parametrize(("label", "key", "expected"), [
    (Label.PERSON, "alice", [(iso(0), "alice", "sdk", "Person:alice", "create")]),
    (Label.TEAM, "ml", [(iso(0), "alice", "sdk", "Team:ml", "create")]),
    (Label.RUN, "r1", [(iso(1), "alice", "sdk", "Run:r1", "update"),
                       (iso(0), "alice", "sdk", "Run:r1", "create")]),
    (Label.EXPERIMENT, "churn", [(iso(0), "alice", "sdk", "Experiment:churn", "create")]),
    # A dataset's history has its versions', whoever wrote them.
    (Label.DATASET, "customers", [
        (iso(3), "marquez", "openlineage", "DatasetVersion:customers@2", "create"),
        (iso(0), "alice", "sdk", "DatasetVersion:customers@1", "create"),
        (iso(0), "alice", "sdk", "Dataset:customers", "create")]),
    (Label.DATASET_VERSION, "customers@2", [
        (iso(3), "marquez", "openlineage", "DatasetVersion:customers@2", "create")]),
    (Label.MODEL_VERSION, "churn@2", [(iso(2), "bob", "sdk", "ModelVersion:churn@2",
                                       "create")]),
    (Label.DEPLOYMENT, "dep-1", [(iso(4), "bob", "sdk", "Deployment:dep-1", "create")]),
])
def test_every_node_has_its_history(api: Api, label: Label, key: str,
                                    expected: list[tuple[str, ...]]) -> None:
    data = api.data(NODE_HISTORY, {"id": node_id(label, key), "first": 20})
    assert rows(data["node"]["history"]) == expected


def test_notes_have_a_history_too(api: Api) -> None:
    note = api.data('{ model(name: "churn") { notes { id } } }')["model"]["notes"][0]["id"]
    data = api.data(NODE_HISTORY, {"id": note, "first": 5})
    (only,) = rows(data["node"]["history"])
    assert (only[0], only[1], only[4]) == (iso(0), "alice", "create")


def test_the_histories_of_a_list_are_one_read(api: Api, graph: Graph) -> None:
    query = """{ runs(first: 10) { nodes { runId history(first: 1) { nodes { op } } } } }"""
    before = graph.round_trips
    runs = api.data(query)["runs"]["nodes"]
    assert {r["runId"] for r in runs} == {"r1", "r2", "ol-1"}
    assert all(r["history"]["nodes"] for r in runs)
    assert graph.round_trips - before == 2  # the runs, then every run's history


def test_root_changes_by_span_actor_and_kind(api: Api) -> None:
    span = {"since": iso(1), "until": iso(3), "first": 50}
    got = rows(api.data(CHANGES, span)["changes"])
    assert [r for r in got if r[0] == iso(3)] and {r[0] for r in got} == {
        iso(1), iso(2), iso(3)}
    assert [r for r in got if r[0] == iso(1)] == [
        (iso(1), "alice", "sdk", "Run:r1", "update")]
    bob = rows(api.data(CHANGES, {**span, "actor": "bob"})["changes"])
    assert bob == [r for r in got if r[1] == "bob"] and bob
    assert {r[0] for r in bob} == {iso(2)}
    status = rows(api.data(CHANGES, {**span, "kinds": ["STATUS"]})["changes"])
    assert status == [(iso(1), "alice", "sdk", "Run:r1", "update")]
    assert rows(api.data(CHANGES, {"since": iso(5), "first": 5})["changes"]) == []


def _ids(page: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in page["edges"]]


def test_paging_a_long_history_has_no_gaps_nor_repeats(api: Api, graph: Graph, kb) -> None:
    eve = Client(graph, actor="eve")
    for i in range(30):
        b = eve.builder()
        b.run(id="long", metrics={"step": i})
        eve.write(b, now=at(10 + i / 60))
    # Ten entities in one write share its time: their order is the record id's.
    b = eve.builder()
    for i in range(10):
        b.run(id=f"same-{i}")
    eve.write(b, now=at(11))
    run = node_id(Label.RUN, "long")
    everything = _ids(api.data(NODE_HISTORY, {"id": run, "first": 100})["node"]["history"])
    assert len(everything) == len(set(everything)) == 30
    seen: list[str] = []
    after = None
    while True:
        page = api.data(NODE_HISTORY, {"id": run, "first": 7, "after": after})
        history_page = page["node"]["history"]
        seen += _ids(history_page)
        if not seen[7:]:
            # A write between two pages lands ahead of the first, never in the next.
            b = eve.builder()
            b.run(id="long", metrics={"step": 99})
            eve.write(b, now=at(12))
        if not history_page["pageInfo"]["hasNextPage"]:
            break
        after = history_page["pageInfo"]["endCursor"]
    assert seen == everything
    # The CLI pages the same records with the cursors it prints.
    cli: list[str] = []
    after_args: list[str] = []
    while True:
        out = ok_json(kb("history", "run:long", "--first", "4", "--json", *after_args))
        cli += [c["id"] for c in out["changes"]]
        if out["next"] is None:
            break
        after_args = ["--after", out["next"]]
    assert cli[1:] == everything and len(cli) == 31
    # Records of one write, paged three at a time through changes.
    window = {"since": iso(11), "until": iso(11), "first": 3}
    same = _ids(api.data(CHANGES, {**window, "first": 100})["changes"])
    assert len(same) == 10
    paged: list[str] = []
    after = None
    while True:
        page = api.data(CHANGES, {**window, "after": after})["changes"]
        paged += _ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == same


def _error(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = api.post(query, variables).json()
    assert body["errors"], body
    return body["errors"][0]


def test_bad_cursor_page_size_and_span_are_refused_naming_the_field(api: Api, kb) -> None:
    run = node_id(Label.RUN, "r1")
    error = _error(api, NODE_HISTORY, {"id": run, "first": 5, "after": "not-a-cursor"})
    assert error["extensions"]["field"] == "after"
    error = _error(api, CHANGES, {"first": 5, "after": "bm90IGEgY3Vyc29y"})
    assert error["extensions"]["field"] == "after"
    error = _error(api, NODE_HISTORY, {"id": run, "first": 101})
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    error = _error(api, NODE_HISTORY, {"id": run, "first": -1})
    assert error["extensions"]["field"] == "first"
    error = _error(api, CHANGES, {"first": 5, "since": iso(2), "until": iso(1)})
    assert error["extensions"]["field"] == "since"
    out = kb("history", "run:r1", "--after", "junk", "--json")
    assert out.exit_code == 2
    assert json.loads(out.stdout)["error"]["field"] == "after"
    out = kb("changes", "--since", "yesterday")
    assert out.exit_code == 2 and "since" in out.output
    out = kb("changes", "--kind", "everything")
    assert out.exit_code == 2 and "everything" in out.output
    out = kb("history", "model:nothing")
    assert out.exit_code == 1 and "nothing" in out.output


def test_cli_json_names_entities_as_refs(kb) -> None:
    out = ok_json(kb("history", "churn", "--json", "--first", "2"))
    assert [(c["at"], c["actor"], c["ref"], c["op"]) for c in out["changes"]] == [
        (iso(4), "bob", "deployment:dep-1", "create"), (iso(2), "bob", "model:churn", "update")]
    assert out["next"]
    dep = out["changes"][0]
    assert dep["path"] == "sdk" and dep["kinds"] == ["created", "links"]
    assert {(x["rel"], x["direction"], x["ref"], x["action"]) for x in dep["links"]} == {
        ("SERVES", "out", "model:churn@2", "add"), ("DEPLOYED", "in", "person:bob", "add")}
    assert dep["fields"]["environment"] == [None, None]  # a creation names what it set
    out = ok_json(kb("changes", "--since", iso(1), "--until", iso(2), "--by", "alice",
                     "--json"))
    assert out == {"changes": [{
        "id": out["changes"][0]["id"], "at": iso(1), "actor": "alice", "path": "sdk",
        "batch": out["changes"][0]["batch"], "ref": "run:r1", "op": "update",
        "kinds": ["properties", "status"], "links": [],
        "fields": {"command": [None, HOSTILE], "status": ["RUNNING", "COMPLETED"]}}],
        "next": None}
    # By default the last seven days: the story is older than that, a write made now is not.
    assert ok_json(kb("changes", "--json"))["changes"] == []
    ok(kb("own", "model:churn", "--owner", "bob"))
    recent = ok_json(kb("changes", "--json"))["changes"]
    assert [(c["actor"], c["path"], c["ref"]) for c in recent] == [
        ("dora", "cli", "model:churn")]


def test_cli_text_is_one_safe_line_per_change_at_80_columns(kb) -> None:
    out = ok(kb("history", "run:r1"))
    lines = out.splitlines()
    assert all(cell_len(x) <= 80 for x in lines), lines
    assert "\x1b" not in out and "\t" not in out
    assert lines[0].startswith(
        "2026-03-01T10:00:00Z alice sdk update command — → [red]boom[/red]\\n 漢")
    assert lines[0].endswith("…")
    assert lines[1].startswith("2026-03-01T09:00:00Z alice sdk create created; ")
    assert len(lines) == 2
    out = ok(kb("history", "model:churn", "--first", "3"))
    lines = out.splitlines()
    assert lines[:3] == [
        "2026-03-01T13:00:00Z bob sdk create deployment:dep-1 created; + SERVES model:ch…",
        "2026-03-01T11:00:00Z bob sdk update model:churn alias champion churn@1 → churn@2",
        "2026-03-01T11:00:00Z bob sdk update model:churn@1 aliases [\"champion\"] → []",
    ]
    assert lines[3] == ("more: kb history model:churn --first 3 --after "
                        + ok_json(kb("history", "model:churn", "--first", "3", "--json")
                                  )["next"])
    out = ok(kb("changes", "--since", iso(1), "--until", iso(1)))
    assert out.splitlines()[0].startswith(
        "2026-03-01T10:00:00Z alice sdk update run:r1 command — → [red]boom")


def test_a_line_shows_control_characters_as_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text that reached the graph some other way than the write path is still inert."""
    from kb.cli.app import console
    from kb.cli.history import line
    from kb.domain.changes import ChangeFact, LinkChange

    monkeypatch.setattr(console, "width", 80)
    change = ChangeFact(
        id="b.1", at=T0, actor="\x1b[31mevil", path="sdk", batch="b", kind="Run",
        key="r\u202e1", op="update", categories=("properties",),
        fields={"command": ("ls", "\x1b]0;pwned\x07")},
        links=(LinkChange("OWNS", "in", "Person", "\x1b[2Jbob", "add", {"role": "owner"}),))
    text = line(change, with_ref=True).plain
    assert cell_len(text) <= 80
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert text == ("2026-03-01T09:00:00Z \\x1b[31mevil sdk update run:r\\u202e1 + owner "
                    "person:\\x1b[2…")


# -- cost ------------------------------------------------------------------------------
def _noise(graph: Graph, runs: int) -> None:
    """Unrelated writes by someone else, before and after the story: runs and models."""
    other = Client(graph, actor="noise")
    with other.pipeline() as pipe:
        for i in range(0, runs, 20):
            with pipe.batch() as b:
                for j in range(i, min(i + 20, runs)):
                    b.run(id=f"noise-{j}", status="COMPLETED", metrics={"auc": j / runs})
                    if j % 4 == 0:
                        b.model_version(f"noise-model-{j}", version=1, run_id=f"noise-{j}")


def _costs(graph: Graph) -> dict[str, int]:
    cursor = graph.read(lambda tx: history(tx, "Run", "r1", first=1)).end_cursor
    window = {"since": at(-1), "until": at(5), "first": 3}
    readers: dict[str, tuple[Any, ...]] = {
        "history": (history, "Run", "r1"),
        "history after a cursor": (history, "Run", "r1"),
        "history_of": (history_of, [("Model", "churn"), ("ModelVersion", "churn@1"),
                                    ("ModelVersion", "churn@2"), ("Deployment", "dep-1")]),
        "entity_history": (entity_history, Label.MODEL, "churn"),
        "changes": (changes,),
        "changes by actor": (changes,),
    }
    kw: dict[str, dict[str, Any]] = {
        "history": {"first": 1}, "history after a cursor": {"first": 1, "after": cursor},
        "history_of": {"first": 3}, "entity_history": {"first": 3},
        "changes": window, "changes by actor": {**window, "actor": "bob"},
    }
    return {name: profiled(graph, reader, *args, **kw[name])[1]
            for name, (reader, *args) in readers.items()}


def test_a_page_costs_the_same_however_long_the_history(graph: Graph) -> None:
    eve = Client(graph, actor="eve")

    def updates(start: int, count: int) -> None:
        for i in range(start, start + count):
            b = eve.builder()
            b.run(id="long", metrics={"step": i})
            eve.write(b, now=at(i / 60))

    def page_costs() -> tuple[int, int, int, int]:
        first, hits = profiled(graph, history, "Run", "long", first=3)
        deeper = graph.read(lambda tx: history(tx, "Run", "long", first=6,
                                               after=first.end_cursor))
        by, by_hits = profiled(graph, changes, actor="eve", first=3)
        deeper_by = graph.read(lambda tx: changes(tx, actor="eve", first=6,
                                                  after=by.end_cursor))
        return (hits, profiled(graph, history, "Run", "long", first=3,
                               after=deeper.end_cursor)[1],
                by_hits, profiled(graph, changes, actor="eve", first=3,
                                  after=deeper_by.end_cursor)[1])

    updates(0, 20)
    short = page_costs()
    updates(20, 100)
    # The first page, and one that starts at a cursor deep in the history, each cost what
    # they did when the history was a sixth as long; so do the pages of one actor's writes.
    assert page_costs() == short


def test_reads_cost_the_same_whatever_else_the_graph_holds(graph: Graph) -> None:
    story(graph)
    _noise(graph, 20)
    small = _costs(graph)
    _noise(graph, 400)
    large = _costs(graph)
    assert all(v > 0 for v in small.values())
    assert large == small
