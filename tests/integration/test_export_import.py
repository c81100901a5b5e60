"""``kb export`` and ``kb import kb``: a round trip gives the same file byte for byte,
importing twice changes nothing, hostile values survive, an import merges into a graph
that holds other data, and a bad file is refused whole, naming the line and the field."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import at_80_columns, ok, ok_json
from test_docs_hostile import HOSTILE, _write_sdk

from kb.domain import portable
from kb.graph import Graph
from kb.graph.history import history
from kb.graph.schema import SCHEMA_VERSION
from kb.graph.stats import fingerprint
from kb.graph.tokens import create_token, find_token
from kb.ingest import Client

T0 = datetime(2026, 2, 1, 9, tzinfo=UTC)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def story(graph: Graph) -> None:
    """A team's history: people, a team, data and its versions, runs with params and
    metrics, a model whose champion alias moved, an ownership transferred, a deployment
    retired, notes, a person who left, and a run updated after it started."""
    alice = Client(graph, actor="alice")
    bob = Client(graph, actor="bob")
    with alice.batch() as b:
        b.team("ml", description="Machine learning")
        b.person("alice", name="Alice Ng", email="alice@example.com", team=["ml"])
        b.person("bob", name="Bob Li", team=["ml"])
        b.dataset("customers", description="CRM extract", datasheet={"motivation": "churn"})
        b.dataset_version("customers", "2024-05", rows=1200, digest="sha256:aa",
                          created_at=at(0))
        b.dataset_version("customers", "2024-06", rows=1300, created_at=at(1))
        b.experiment("churn-exp", description="Churn experiments")
    for i, version in enumerate(("2024-05", "2024-06")):
        with alice.batch() as b:
            b.run(id=f"r{i}", name=f"run {i}", experiment="churn-exp", person="alice",
                  started_at=at(2 + i), ended_at=at(2 + i) + timedelta(hours=1),
                  params={"lr": 0.1 * (i + 1), "depth": 6}, metrics={"auc": 0.8 + i / 100},
                  inputs=[("customers", version, "train")], seed=7,
                  code={"repo": "git@example.com:ml/churn", "commit": f"abc{i}"},
                  environment={"digest": "env1", "python": "3.11", "packages": ["numpy"]})
            b.model_version("churn", version=i + 1, run_id=f"r{i}", aliases=["champion"])
    alice.log_run(id="r2", status="RUNNING", metrics={"auc": 0.5})
    bob.log_run(id="r2", status="FAILED", error="out of memory")
    alice.own("model:churn", owner="person:alice", since=at(3))
    alice.transfer("model:churn", to="person:bob", from_="person:alice")
    alice.own("dataset:customers", owner="team:ml", since=at(1))
    dep = alice.deploy("churn", 1, environment="production", by="alice", deployed_at=at(4))
    alice.deploy("churn", 2, environment="production", by="bob", deployed_at=at(5))
    alice.retire(dep.id)
    alice.note("model:churn", "v2 is **better** on recent data", by="bob")
    with bob.batch() as b:
        b.person("alice", active=False, left_at=at(9))


def export_file(cli: Callable[..., object], path: Path) -> bytes:
    ok(cli("export", str(path)))
    return path.read_bytes()


def change_count(graph: Graph) -> int:
    return graph.query("MATCH (c:Change) RETURN count(c) AS n")[0]["n"]


def node_count(graph: Graph) -> int:
    return graph.query("MATCH (n) WHERE NOT n:KbMeta RETURN count(n) AS n")[0]["n"]


@pytest.fixture
def cli(kb_env: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    return at_80_columns(monkeypatch, user="importer")


def test_round_trip_gives_the_same_file_and_a_second_import_changes_nothing(
        graph: Graph, cli, tmp_path: Path, _wiper) -> None:
    story(graph)
    before = fingerprint(graph)
    plain = export_file(cli, tmp_path / "a.jsonl")
    packed = export_file(cli, tmp_path / "a.jsonl.gz")
    assert gzip.decompress(packed) == plain
    lines = [json.loads(x) for x in plain.decode().splitlines()]
    assert lines[0] == portable.header(SCHEMA_VERSION, tokens=False)
    kinds = [x.get("type") for x in lines[1:]]
    assert kinds == sorted(kinds, key=("node", "link", "change", "end").index)
    # Closed tenures travel as lines of their own.
    owns = [x for x in lines if x.get("rel") == "OWNS" and x["to"]["key"] == "churn"]
    assert len(owns) == 2 and sum("until" in x["props"] for x in owns) == 1
    aliases = [x for x in lines if x.get("rel") == "ALIAS"]
    assert len(aliases) == 2 and sum("until" in x["props"] for x in aliases) == 1

    _wiper()
    assert node_count(graph) == 0
    result = ok_json(cli("import", "kb", str(tmp_path / "a.jsonl.gz"), "--json"))
    assert result["created"] == kinds.count("node") and result["updated"] == 0
    assert fingerprint(graph) == before
    assert export_file(cli, tmp_path / "b.jsonl") == plain
    assert export_file(cli, tmp_path / "b.jsonl.gz") == packed

    records = change_count(graph)
    again = ok_json(cli("import", "kb", str(tmp_path / "a.jsonl"), "--json"))
    assert (again["created"], again["updated"], again["changes_added"]) == (0, 0, 0)
    assert change_count(graph) == records
    assert fingerprint(graph) == before
    assert export_file(cli, tmp_path / "c.jsonl") == plain
    # To stdout, the same lines.
    assert ok(cli("export", "-")).encode() == plain


def test_times_keep_their_nanoseconds_and_zone(graph: Graph, cli, tmp_path: Path,
                                               _wiper) -> None:
    graph.write(lambda tx: tx.run(
        "CREATE (:Person {handle: 'zed', createdAt: datetime($a), leftAt: datetime($b)})",
        a="2024-01-02T03:04:05.123456789Z",
        b="2024-07-02T03:04:05.1+02:00[Europe/Paris]").consume())
    plain = export_file(cli, tmp_path / "t.jsonl")
    _wiper()
    ok(cli("import", "kb", str(tmp_path / "t.jsonl")))
    same = graph.query(
        "MATCH (p:Person {handle: 'zed'}) RETURN p.createdAt = datetime($a) AS a, "
        "toString(p.leftAt) AS b", a="2024-01-02T03:04:05.123456789Z")[0]
    assert same == {"a": True, "b": "2024-07-02T03:04:05.1+02:00[Europe/Paris]"}
    assert export_file(cli, tmp_path / "u.jsonl") == plain


def test_hostile_values_survive_the_round_trip_exactly(graph: Graph, client: Client, cli,
                                                       tmp_path: Path, _wiper) -> None:
    previous = None
    for j in range(3):
        names = _write_sdk(client, j, previous)
        previous = (names["dataset"], names["version"])
    before = fingerprint(graph)
    plain = export_file(cli, tmp_path / "h.jsonl")
    text = plain.decode()
    values = {v for line in text.splitlines()
              for v in json.loads(line).get("props", {}).values() if isinstance(v, str)}
    assert {h for h in HOSTILE if h in values}, "the corpus reached the export"
    _wiper()
    ok(cli("import", "kb", str(tmp_path / "h.jsonl")))
    assert fingerprint(graph) == before
    assert export_file(cli, tmp_path / "i.jsonl") == plain


def test_import_into_a_graph_with_other_data_merges_and_records_what_it_changed(
        graph: Graph, cli, tmp_path: Path, _wiper) -> None:
    story(graph)
    export_file(cli, tmp_path / "a.jsonl")
    _wiper()
    other = Client(graph, actor="carol")
    with other.batch() as b:
        b.team("ml", description="Platform")  # in the file too, with another value
        b.team("data", description="Data engineering")
        b.person("carol", name="Carol", team=["data"])
    mine = change_count(graph)
    result = ok_json(cli("import", "kb", str(tmp_path / "a.jsonl"), "--json"))
    assert result["updated"] == 1
    teams = graph.query("MATCH (t:Team) RETURN t.name AS name, t.description AS d "
                        "ORDER BY name")
    assert teams == [{"name": "data", "d": "Data engineering"},
                     {"name": "ml", "d": "Machine learning"}]
    members = graph.query("MATCH (p:Person)-[:MEMBER_OF]->(t:Team) "
                          "RETURN p.handle AS p, t.name AS t ORDER BY p")
    assert members == [{"p": "alice", "t": "ml"}, {"p": "bob", "t": "ml"},
                       {"p": "carol", "t": "data"}]
    newest = graph.read(lambda tx: history(tx, "Team", "ml", first=1)).items[0]
    assert (newest.op, newest.path, newest.actor) == ("update", "import", "importer")
    assert newest.fields == {"description": ("Platform", "Machine learning")}
    # One record of its own (the team), besides the file's records.
    file_records = sum(1 for x in (tmp_path / "a.jsonl").read_text().splitlines()
                       if '"type":"change"' in x)
    assert change_count(graph) == mine + file_records + 1
    # Nothing else of the graph's own was touched; again, nothing at all.
    assert ok_json(cli("import", "kb", str(tmp_path / "a.jsonl"), "--json"))["updated"] == 0
    assert change_count(graph) == mine + file_records + 1


def _edit(lines: list[str], case: str) -> tuple[list[str], str]:
    """``lines`` spoilt as ``case`` says; the field the refusal must name."""
    out = list(lines)

    def find(pred: Callable[[dict], bool]) -> int:
        return next(i for i, x in enumerate(out) if i and pred(json.loads(x)))

    def change(i: int, fn: Callable[[dict], None]) -> None:
        data = json.loads(out[i])
        fn(data)
        out[i] = portable.dumps(data)

    last_node = max(i for i, x in enumerate(out) if '"type":"node"' in x)
    run = find(lambda d: d.get("label") == "Run")
    link = find(lambda d: d.get("rel") == "TRAINED")
    if case == "not JSON":
        out[last_node] = out[last_node][:-5]
        return out, f"line {last_node + 1}: line"
    if case == "unknown line type":
        change(last_node, lambda d: d.update(type="edge"))
        return out, f"line {last_node + 1}: type"
    if case == "unknown label":
        change(last_node, lambda d: d.update(label="Wizard"))
        return out, f"line {last_node + 1}: label"
    if case == "wrong value kind":
        change(run, lambda d: d["props"].update(seed="seven"))
        return out, f"line {run + 1}: props.seed"
    if case == "missing key":
        change(run, lambda d: d.pop("key"))
        return out, f"line {run + 1}: key"
    if case == "unknown property":
        change(run, lambda d: d["props"].update(password="x"))
        return out, f"line {run + 1}: props.password"
    if case == "link to a node nowhere":
        change(link, lambda d: d["to"].update(key="r-nowhere"))
        return out, f"line {link + 1}: to.key"
    if case == "link not in the model":
        change(link, lambda d: d["to"].update(label="Model", key="churn"))
        return out, f"line {link + 1}: rel"
    if case == "newer format":
        change(0, lambda d: d.update(version=portable.VERSION + 1))
        return out, "line 1: version"
    if case == "newer schema":
        change(0, lambda d: d.update(schema=SCHEMA_VERSION + 1))
        return out, "line 1: schema"
    if case == "cut short":
        return out[:-1], f"line {len(out)}: type"
    raise AssertionError(case)


REFUSALS = ["not JSON", "unknown line type", "unknown label", "wrong value kind",
            "missing key", "unknown property", "link to a node nowhere",
            "link not in the model", "newer format", "newer schema", "cut short"]


def test_a_bad_line_refuses_the_whole_file_naming_the_line_and_field(
        graph: Graph, cli, tmp_path: Path, _wiper) -> None:
    story(graph)
    lines = export_file(cli, tmp_path / "good.jsonl").decode().splitlines()
    _wiper()
    for case in REFUSALS:
        bad, field = _edit(lines, case)
        path = tmp_path / "bad.jsonl"
        path.write_text("\n".join(bad) + "\n", encoding="utf-8")
        result = cli("import", "kb", str(path), "--json")
        assert result.exit_code == 2, (case, result.output)
        error = json.loads(result.stdout)["error"]
        assert error["field"] == field, (case, error)
        assert node_count(graph) == 0, case
    # The newer versions are named, both.
    bad, _ = _edit(lines, "newer schema")
    (tmp_path / "bad.jsonl").write_text("\n".join(bad) + "\n", encoding="utf-8")
    message = json.loads(cli("import", "kb", str(tmp_path / "bad.jsonl"), "--json")
                         .stdout)["error"]["message"]
    assert f"schema {SCHEMA_VERSION + 1}" in message and f"({SCHEMA_VERSION})" in message


def test_a_link_to_a_node_already_in_the_graph_is_accepted(graph: Graph, cli,
                                                           tmp_path: Path, _wiper) -> None:
    story(graph)
    lines = export_file(cli, tmp_path / "a.jsonl").decode().splitlines()
    _wiper()
    Client(graph, actor="x").person("alice")
    keep = [x for x in lines if not ('"label":"Person"' in x and '"type":"node"' in x
                                     and '"key":"alice"' in x)]
    end = json.loads(keep[-1])
    end["counts"]["node"] -= 1
    keep[-1] = portable.dumps(end)
    (tmp_path / "b.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    ok(cli("import", "kb", str(tmp_path / "b.jsonl")))
    trained = graph.query("MATCH (:Person {handle: 'alice'})-[:TRAINED]->(r:Run) "
                          "RETURN count(r) AS n")[0]["n"]
    assert trained == 2


def test_tokens_travel_as_hashes_only_and_only_when_asked(graph: Graph, cli,
                                                         tmp_path: Path, _wiper) -> None:
    story(graph)
    _token, secret = create_token(graph, name="ci", scope="write", actor="alice")
    plain = export_file(cli, tmp_path / "a.jsonl").decode()
    assert "ApiToken" not in plain and '"type":"token"' not in plain
    ok(cli("export", str(tmp_path / "t.jsonl"), "--with-tokens"))
    text = (tmp_path / "t.jsonl").read_text()
    assert secret not in text
    (line,) = [json.loads(x) for x in text.splitlines() if '"type":"token"' in x]
    assert set(line["props"]) <= {p.name for p in portable.TOKEN_PROPS}
    assert "hash" in line["props"]
    _wiper()
    ok(cli("import", "kb", str(tmp_path / "t.jsonl")))
    restored = find_token(graph, secret)
    assert restored is not None and restored.name == "ci" and restored.active
    assert export_file(cli, tmp_path / "u.jsonl") == plain.encode()


def test_a_damaged_gzip_file_is_refused_and_a_failed_export_leaves_no_file(
        graph: Graph, cli, tmp_path: Path) -> None:
    story(graph)
    packed = export_file(cli, tmp_path / "a.jsonl.gz")
    (tmp_path / "cut.jsonl.gz").write_bytes(packed[:len(packed) // 2])
    result = cli("import", "kb", str(tmp_path / "cut.jsonl.gz"), "--json")
    assert result.exit_code == 2, result.output
    assert "damaged or cut short" in json.loads(result.stdout)["error"]["message"]
    result = cli("export", str(tmp_path / "nowhere" / "x.jsonl"))
    assert result.exit_code == 2
    assert not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl.gz", "cut.jsonl.gz"]
