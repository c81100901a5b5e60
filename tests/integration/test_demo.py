"""``kb demo`` against the real Neo4j: what it promises to load, and that loading is idempotent."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kb.graph import Graph
from kb.graph.stats import counts, deepest_derivation, fingerprint
from kb.ingest.demo import DEMO_ACTOR, demo_batches, load_demo

# Reads over the loaded demo, to check its promises independently of its own counts.
PEOPLE = """
MATCH (p:Person)
OPTIONAL MATCH (p)-[:MEMBER_OF]->(t:Team)
RETURN p.handle AS handle, p.name AS name, p.email AS email, p.active AS active,
       p.leftAt AS leftAt, collect(t.name) AS teams
"""
DEPARTED_OWNERS = """
MATCH (p:Person {active: false})-[e:OWNS]->(a) WHERE e.until IS NULL
RETURN p.handle AS handle, count(a) AS owned
"""
RUNS_PER_EXPERIMENT = """
MATCH (r:Run {kind: 'training'})-[:PART_OF]->(e:Experiment)
RETURN e.name AS experiment, count(r) AS runs,
       sum(CASE WHEN r.status = 'FAILED' THEN 1 ELSE 0 END) AS failed,
       sum(CASE WHEN r.status = 'FAILED' AND r.error IS NULL THEN 1 ELSE 0 END) AS silent
"""
RUN_ROLES = """
MATCH (:Run {kind: 'training'})-[u:USED]->(:DatasetVersion)
RETURN collect(DISTINCT u.role) AS roles
"""
MODEL_VERSIONS = """
MATCH (m:Model)
OPTIONAL MATCH (v:ModelVersion)-[:VERSION_OF]->(m)
OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v)
RETURN m.name AS model, m.intendedUse AS intendedUse, count(v) AS versions,
       count(r) AS produced
"""
DEPLOYMENTS = """
MATCH (p:Person)-[:DEPLOYED]->(d:Deployment)-[:SERVES]->(:ModelVersion)
RETURN d.environment AS environment, d.status AS status, count(d) AS n,
       count(DISTINCT p) AS deployers
"""
TRANSFERS = """
MATCH (:Person)-[e:OWNS]->(m:Model) WHERE e.until IS NOT NULL
RETURN m.name AS model
"""


def _rows(graph: Graph, query: str) -> list[dict]:
    def work(tx):
        return [r.data() for r in tx.run(query)]

    return graph.read(work)


@pytest.mark.slow  # loads the whole demo, twice
def test_demo_loads_its_promises_and_a_second_load_changes_nothing(graph: Graph) -> None:
    first = load_demo(graph)
    before = fingerprint(graph)

    people = _rows(graph, PEOPLE)
    assert len(people) >= 20
    assert all(p["name"] and p["email"] and p["teams"] for p in people)
    assert len({t for p in people for t in p["teams"]}) == 3
    departed = [p for p in people if p["leftAt"] is not None]
    assert len(departed) == 2
    assert all(p["active"] is False for p in departed)
    owners = {r["handle"]: r["owned"] for r in _rows(graph, DEPARTED_OWNERS)}
    assert set(owners) == {p["handle"] for p in departed}

    assert first["Dataset"] == 30
    assert first["DatasetVersion"] >= 60
    hops, chain = deepest_derivation(graph)
    assert hops >= 4, chain
    assert len(chain) == hops + 1

    per_experiment = _rows(graph, RUNS_PER_EXPERIMENT)
    assert len(per_experiment) == 10
    assert sum(r["runs"] for r in per_experiment) == 500
    assert sum(r["failed"] for r in per_experiment) > 0
    assert all(r["silent"] == 0 for r in per_experiment)
    roles = set(_rows(graph, RUN_ROLES)[0]["roles"])
    assert {"train", "validation", "test"} <= roles
    assert first["AT_COMMIT"] == first["IN_ENV"] == first["TRAINED"] == 500
    assert 2 <= first["Environment"] <= 3

    models = _rows(graph, MODEL_VERSIONS)
    assert len(models) == 15
    assert all(m["versions"] >= 2 and m["produced"] == m["versions"] and m["intendedUse"]
               for m in models)

    deployments = {(r["environment"], r["status"]): r for r in _rows(graph, DEPLOYMENTS)}
    assert {"staging", "production"} <= {env for env, _ in deployments}
    assert ("production", "RETIRED") in deployments
    assert ("staging", "RETIRED") in deployments
    assert ("production", "ACTIVE") in deployments
    assert sum(r["deployers"] for r in deployments.values()) > 3
    assert _rows(graph, TRANSFERS)
    assert first["Note"] >= 5

    second = load_demo(graph)
    assert second == first
    assert fingerprint(graph) == before


def test_demo_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    def runs(seed: int) -> list:
        return [r for b in demo_batches(seed) for r in b.builder.batch().runs]

    same = runs(7)
    assert [r.model_dump() for r in same] == [r.model_dump() for r in runs(7)]
    other = runs(8)
    assert len(other) == len(same)
    assert [r.id for r in other] != [r.id for r in same]


@pytest.mark.slow  # loads the whole demo through the CLI
def test_kb_demo_json(kb_env, clean_db) -> None:
    from kb.cli import app

    result = CliRunner().invoke(app, ["demo", "--json", "--seed", "3"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["seed"] == 3
    assert payload["counts"]["Run"] >= 500
    assert payload["counts"]["Model"] == 15

    graph = Graph.connect(clean_db.uri, clean_db.user, str(clean_db.password),
                          database=clean_db.database)
    try:
        assert counts(graph) == payload["counts"]
        stamped = _rows(graph, "MATCH (r:Run) RETURN collect(DISTINCT r.updatedBy) AS by")
        assert stamped[0]["by"] == [DEMO_ACTOR]
    finally:
        graph.close()
