"""The plain-record fast path answers exactly what graphql-core's own executor answers."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import strawberry
from api_support import Api, api_config, seed_history

from kb.api.execution import KbExecutionContext, plain_record_plan
from kb.api.schema import build_schema
from kb.config import Config

QUERIES = [
    """{ lineage(id: "dataset:customers@2024-05", direction: DOWNSTREAM, depth: 5) {
           root truncated isPartial
           nodes { __typename id label key name }
           edges { type from: source to: target source @include(if: false) } } }""",
    """query($up: Boolean!) { lineage(id: "model:churn@2", direction: BOTH, depth: 3) {
           nodes { key ... on LineageNode { label name @skip(if: $up) } }
           edges { ...E } } }
       fragment E on LineageEdge { source target type }""",
    """{ impact(dataset: "customers") { kind key model version environment status deployedAt
           hops path { id key name label } } }""",
    """{ whoTrained(model: "churn") { version personHandle commit
           inputs { dataset version digest uri role } params { key value }
           metrics { k: key v: value } person { name } } }""",
    """{ whoTrained(model: "churn") { version createdAt aliases personHandle personActive
           runId startedAt seed dirty inputs { dataset version } params { key value } } }""",
    # One record type under two selections, with lists nested in each item: the layout
    # kept per selection must never serve the other.
    """{ a: impact(dataset: "customers") { key path { key } }
         b: impact(dataset: "customers") { hops path { name k: key __typename } }
         c: lineage(id: "model:churn@2", direction: BOTH, depth: 3) { nodes { key } } }""",
]


@pytest.fixture
def apis(graph, client) -> tuple[Api, Api]:
    seed_history(client)
    stock = Api(graph, dataclasses.replace(api_config(), api_fast_lists=False))
    return Api(graph), stock


@pytest.mark.parametrize("query", QUERIES)
def test_fast_path_answers_like_graphql_core(apis, query, caplog):
    fast, stock = apis
    variables = {"up": True}
    with caplog.at_level(logging.DEBUG, logger="kb.api.execution"):
        a = fast.post(query, variables).json()
        took_fast_path = len(caplog.records)
        b = stock.post(query, variables).json()
    assert not a.get("errors"), a
    assert a == b
    # On by default, and KB_API_FAST_LISTS=false really leaves it to graphql-core.
    assert took_fast_path > 0
    assert len(caplog.records) == took_fast_path


def test_the_switch_is_read_from_the_environment():
    assert Config.from_env({}).api_fast_lists
    assert not Config.from_env({"KB_API_FAST_LISTS": "false"}).api_fast_lists
    assert build_schema(Config(api_fast_lists=False)).execution_context_class is not (
        KbExecutionContext)


def test_only_plain_records_take_the_fast_path():
    schema = build_schema()._schema
    assert plain_record_plan(schema.get_type("LineageNode"))
    assert plain_record_plan(schema.get_type("KeyValue"))
    assert plain_record_plan(schema.get_type("ImpactItem"))  # its path holds plain records
    # A field with a resolver (Training.person, DeploymentFact.id) is not in the plan: a
    # selection that names it keeps the resolver path; the other fields are plain.
    training = plain_record_plan(schema.get_type("Training"))
    assert training and "version" in training and "inputs" in training
    assert "person" not in training and "modelVersion" not in training
    deployment = plain_record_plan(schema.get_type("DeploymentFact"))
    assert deployment and "id" not in deployment


@strawberry.type
class _Item:
    key: str
    note: str | None


@strawberry.type
class _Query:
    @strawberry.field
    def items(self) -> list[_Item]:
        return [_Item(key="a", note=None), _Item(key=None, note="x")]  # type: ignore[arg-type]


def test_a_null_where_non_null_is_declared_is_reported_as_graphql_core_does():
    query = "{ items { key note } }"
    fast = strawberry.Schema(_Query, execution_context_class=KbExecutionContext)
    stock = strawberry.Schema(_Query)
    a, b = fast.execute_sync(query), stock.execute_sync(query)
    assert a.data == b.data is None
    assert [(e.message, e.path) for e in a.errors] == [(e.message, e.path) for e in b.errors]
    assert a.errors[0].path == ["items", 1, "key"]
