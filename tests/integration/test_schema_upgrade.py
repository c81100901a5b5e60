"""A graph written by the kb before change records upgrades with nothing lost.

The older kb is the repository's own code at the last commit of schema 1, taken from git
and run in a process of its own, which loads the demo history into the test database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kb.graph import SCHEMA_VERSION, Graph, apply_schema, schema_version, who_trained
from kb.graph.history import changes
from kb.ingest import Client

#: The last commit whose code wrote schema 1.
SCHEMA_1 = "ff2d67f"
ROOT = Path(__file__).resolve().parents[2]

WRITE_WITH_OLD_KB = """
import kb, sys
from pathlib import Path
assert Path(kb.__file__).is_relative_to(sys.argv[1]), kb.__file__
import os
from kb.graph import Graph
from kb.ingest.demo import load_demo
graph = Graph.connect(os.environ["KB_NEO4J_URI"], os.environ["KB_NEO4J_USER"],
                      os.environ["KB_NEO4J_PASSWORD"], database=os.environ["KB_NEO4J_DATABASE"])
graph.ensure_schema()
load_demo(graph)
"""

pytestmark = pytest.mark.slow


def old_kb(tmp_path: Path) -> Path:
    """The package ``kb`` as it was at ``SCHEMA_1``, unpacked under ``tmp_path``."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", SCHEMA_1, "kb"],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs the repository's git history: {exc}")
    tmp_path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    return tmp_path


def snapshot(graph: Graph) -> tuple[set[Any], set[Any]]:
    """Every node and link with its properties, as comparable text."""

    def work(tx: Any) -> tuple[set[Any], set[Any]]:
        nodes = {(tuple(sorted(r["labels"])), repr(sorted(r["props"].items())))
                 for r in tx.run("MATCH (n) WHERE NOT n:KbMeta AND NOT n:Change "
                                 "RETURN labels(n) AS labels, properties(n) AS props")}
        links = {(r["a"], r["type"], r["b"], repr(sorted(r["props"].items())))
                 for r in tx.run("MATCH (a)-[r]->(b) WHERE type(r) <> 'ALIAS' "
                                 "RETURN elementId(a) AS a, type(r) AS type, "
                                 "elementId(b) AS b, properties(r) AS props")}
        return nodes, links

    return graph.read(work)


def test_a_schema_1_graph_upgrades_keeping_every_fact(graph: Graph, kb_env: Path,
                                                      tmp_path: Path) -> None:
    old = old_kb(tmp_path / "old")
    env = {**os.environ, "PYTHONPATH": str(old)}
    # The database as the older kb would find it: it has never seen a later schema.
    graph.write(lambda tx: tx.run("MATCH (m:KbMeta) DETACH DELETE m").consume())
    subprocess.run([sys.executable, "-c", WRITE_WITH_OLD_KB, str(old)], env=env, check=True,
                   cwd=tmp_path)
    assert schema_version(graph) == 1
    aliases = graph.read(lambda tx: {(r["model"], r["key"], r["alias"]) for r in tx.run(
        "MATCH (v:ModelVersion) UNWIND v.aliases AS alias "
        "RETURN v.model AS model, v.key AS key, alias")})
    assert aliases, "the demo gives some versions aliases"
    before = snapshot(graph)

    assert apply_schema(graph) == SCHEMA_VERSION
    assert snapshot(graph) == before  # nothing already recorded is lost or altered
    tenures = graph.read(lambda tx: {(r["model"], r["key"], r["alias"]) for r in tx.run(
        "MATCH (m:Model)-[e:ALIAS]->(v:ModelVersion) WHERE e.until IS NULL "
        "RETURN m.name AS model, v.key AS key, e.alias AS alias")})
    assert tenures == aliases
    migrated = graph.read(lambda tx: changes(tx, first=1000)).items
    assert {c.kind for c in migrated} == {"Model"}
    assert {c.op for c in migrated} == {"migrate"}
    assert {c.key for c in migrated} == {model for model, _, _ in aliases}

    # Upgrading again changes nothing; the upgraded graph takes new writes as a new one.
    apply_schema(graph)
    assert len(graph.read(lambda tx: changes(tx, first=1000)).items) == len(migrated)
    model, key, alias = sorted(aliases)[0]
    (fact,) = who_trained(graph, model, key.split("@", 1)[1])
    run_id = fact.run_id
    Client(graph, actor="tester").register_model(model, run_id=run_id, aliases=[alias])
    open_now = graph.read(lambda tx: [r["key"] for r in tx.run(
        "MATCH (:Model {name: $model})-[e:ALIAS {alias: $alias}]->(v) WHERE e.until IS NULL "
        "RETURN v.key AS key", model=model, alias=alias)])
    assert open_now == [key]  # the same run's version again: the same tenure goes on
