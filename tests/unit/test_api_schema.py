"""The exported SDL is the contract; limits and cursors behave without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphql import parse
from kb.api.common import from_cursor, page_request, to_cursor
from kb.api.limits import LimitSettings, estimate
from kb.api.schema import build_schema, sdl
from kb.errors import InvalidInput
from kb.graph.search import lucene_query

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"
OPERATIONS = SCHEMA_FILE.parent / "operations"


def test_checked_in_schema_matches_the_code():
    assert SCHEMA_FILE.read_text() == sdl(), (
        "graphql/schema.graphql drifted from the code; regenerate it with "
        "`python -m kb.api.schema > graphql/schema.graphql` and review the diff")


def test_schema_names_tools_rely_on():
    text = sdl()
    for name in ("person(", "team(", "dataset(", "model(", "modelVersion(", "run(", "node(",
                 "search(", "whoTrained(", "lineage(", "impact(", "deployments(",
                 "handover(", "orphans(", "compareRuns(", "interface Node"):
        assert name in text, name


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
def test_operations_validate_against_the_schema(path):
    from graphql import validate

    schema = build_schema()._schema
    assert validate(schema, parse(path.read_text())) == []


def _estimate(query: str, variables=None, **settings):
    schema = build_schema()._schema
    doc = parse(query)
    return estimate(schema, doc.definitions[0], {}, variables or {},
                    LimitSettings(**settings))


def test_cost_multiplies_page_sizes_down_the_lists():
    est = _estimate("{ models(first: 10) { nodes { versions(first: 5) { deployments(first: 3)"
                    " { environment } } } } }")
    assert est.requests == 1 + 10 + 50
    assert est.nodes == 10 + 50 + 150
    assert est.errors == []


def test_defaults_and_variables_count():
    assert _estimate("{ models { totalCount } }").nodes == 20
    est = _estimate("query($n: Int) { runs(first: $n) { totalCount } }", {"n": 7})
    assert est.nodes == 7


def test_each_limit_is_named():
    deep = _estimate('{ model(name: "m") { versions { run { person { name } } } } }',
                     max_depth=3)
    assert [e.extensions["limit"] for e in deep.errors] == ["depth"]
    many = _estimate('{ a: model(name: "m") { name } b: model(name: "n") { name } }',
                     max_aliases=1)
    assert [e.extensions["limit"] for e in many.errors] == ["aliases"]
    page = _estimate("{ models(first: 1000) { totalCount } }")
    assert "pageSize" in [e.extensions["limit"] for e in page.errors]


def test_cursors_round_trip_and_reject_garbage():
    assert from_cursor(to_cursor(41)) == 42
    with pytest.raises(InvalidInput):
        from_cursor("!!!")
    with pytest.raises(InvalidInput):
        page_request(101, None)


def test_lucene_syntax_is_escaped():
    assert lucene_query("churn") == "(churn OR churn*)"
    assert lucene_query('a:b (c) "d" OR') == 'a\\:b \\(c\\) \\"d\\" (or OR or*)'


def test_lists_without_first_count_at_their_bound():
    """An ownership list takes first (100 by default) and every list multiplies the ones
    below it, so a cycle through ownership is over the node budget in a few turns."""
    est = _estimate('{ team(name: "t") { owns { asset { ... on Model { owners { role } } } } } }')
    assert est.nodes == 100 + 100 * 100
    turn = "owns { asset { ... on Model { owners { owner { ... on Team { %s } } } } } }"
    cycle = _estimate('{ team(name: "t") { %s } }' % (turn % (turn % "name")))
    assert "nodes" in {e.extensions["limit"] for e in cycle.errors}
    # A connection's page is counted once, on the connection.
    assert _estimate("{ models(first: 10) { nodes { name } edges { node { name } } } }"
                     ).nodes == 10
