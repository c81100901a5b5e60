"""The graph model (kb/domain/model.py): complete, consistent, and what the writer, the
row layout and the API types follow."""

from __future__ import annotations

import pytest

from graphql import build_schema, get_named_type, is_leaf_type
from kb.api.schema import sdl
from kb.api.types import TYPES
from kb.domain import KEY_PROPERTY, Batch, Label, Rel, model, validate
from kb.graph.plan import (
    DEFAULTS,
    EMBEDDED,
    LINK_PROPERTIES,
    LINKS,
    NODE_ORDER,
    PROPERTIES,
    Plan,
    build_plan,
    full_shape,
    row_layout,
)

USED = (Label.RUN, Rel.USED, Label.DATASET_VERSION)


def test_every_label_has_one_entry_and_every_name_one_meaning():
    assert len(model.ENTITIES) == len(model.ENTITY)
    assert set(model.ENTITY) == set(Label) == set(NODE_ORDER) == set(KEY_PROPERTY)
    stamps = {p.name for p in model.STAMPS}
    for entity in model.ENTITIES:
        names = [p.name for p in entity.props]
        assert len(names) == len(set(names)), entity.label
        assert not (set(names) | stamps) & {entity.key}, entity.label
        assert not set(names) & stamps, entity.label
        assert set(entity.parts) <= set(names), entity.label
        for prop in entity.props:
            assert prop.default is None or prop.upsert, (entity.label, prop.name)
    triples = [link.triple for link in model.LINKS]
    assert len(triples) == len(set(triples))


def test_the_writer_tables_follow_the_model():
    run = model.ENTITY[Label.RUN]
    assert "source" not in PROPERTIES[Label.RUN]  # claimed by run_sources, not upserted
    assert PROPERTIES[Label.RUN] == tuple(p.name for p in run.props if p.upsert)
    assert DEFAULTS == {Label.RUN: {"kind": "training", "status": "COMPLETED"}}
    assert LINK_PROPERTIES == {USED: ("role",)}
    # Ownership and alias tenures have statements of their own.
    tenures = {link.triple for link in model.LINKS if link.rel in (Rel.OWNS, Rel.ALIAS)}
    assert tenures and not tenures & LINKS
    assert {link.triple for link in model.LINKS} - tenures == LINKS


def test_an_unknown_property_is_refused_naming_it():
    plan = Plan()
    plan.node(Label.RUN, "r1", {"nmae": "typo"})
    with pytest.raises(ValueError, match=r"Run\.nmae is not a property"):
        plan.node_rows(Label.RUN)


def _batch() -> Batch:
    return validate(Batch, {
        "runs": [
            {"id": "r1", "person": "alice", "experiment": "churn", "status": "FAILED",
             "started_at": "2024-05-01T10:00:00+02:00", "params": {"lr": 0.1},
             "inputs": [{"dataset": "customers", "version": "1", "role": "train"},
                        {"dataset": "events", "version": "2"}]},
            {"id": "r2", "parent": "r1"},
        ],
        "model_versions": [{"model": "churn", "version": "3", "run_id": "r1",
                            "created_at": "2024-05-02T00:00:00Z"}],
    })


@pytest.mark.parametrize("shaped", [False, True], ids=["small", "shaped"])
def test_rows_hold_each_value_where_their_layout_says(shaped):
    plan = build_plan(_batch())
    shape, rows = plan._node_rows(Label.RUN, shaped)
    layout = row_layout(Label.RUN, shape)
    if not shaped:
        assert shape == full_shape(Label.RUN)
    by_key = {row[layout.key]: row for row in rows}
    r1 = by_key["r1"]
    assert len(r1) == layout.default(layout.defaults[-1]) + 1  # the defaults end the row
    assert r1[layout.created] is None
    assert r1[layout.value("status")] == "FAILED"
    assert r1[layout.value("startedAt")] == "2024-05-01T08:00:00+00:00"
    assert r1[layout.value("params")] == '{"lr":0.1}'
    assert r1[layout.default("status")] == "COMPLETED"  # applies only where none is stored
    assert r1[layout.link((Label.PERSON, Rel.TRAINED, Label.RUN))] == ["alice"]
    used = {item[layout.link_key(USED)]: item[layout.link_value(USED, "role")]
            for item in r1[layout.link(USED)]}
    assert used == {"customers@1": "train", "events@2": None}
    assert layout.link_key((Label.PERSON, Rel.TRAINED, Label.RUN)) is None
    # r2 is a record (it takes the defaults); its parent link waits for LINK.
    assert by_key["r2"][layout.default("kind")] == "training"
    if shaped:
        assert "command" not in layout.values
        with pytest.raises(KeyError, match="Run rows of this shape carry no property"):
            layout.value("command")


def test_a_stub_row_states_no_defaults():
    plan = build_plan(validate(Batch, {"runs": [{"id": "r2", "parent": "r1"}]}))
    shape, rows = plan._node_rows(Label.RUN, False)
    layout = row_layout(Label.RUN, shape)
    stub = next(row for row in rows if row[layout.key] == "r1")
    assert [stub[layout.default(name)] for name in layout.defaults] == [None, None]


def test_created_at_stated_by_a_record_takes_its_column():
    plan = build_plan(_batch())
    shape, rows = plan._node_rows(Label.MODEL_VERSION, True)
    layout = row_layout(Label.MODEL_VERSION, shape)
    assert rows[0][layout.created] == "2024-05-02T00:00:00+00:00"
    assert rows[0][layout.link((Label.RUN, Rel.PRODUCED, Label.MODEL_VERSION))] == ["r1"]
    assert set(layout.links) <= set(EMBEDDED[Label.MODEL_VERSION])


# The API's names of stored properties it shows under another name.
RENAMED: dict[tuple[Label, str], str] = {
    (Label.RUN, "id"): "runId",
    (Label.DEPLOYMENT, "id"): "deploymentId",
    (Label.NOTE, "id"): "noteId",
    (Label.DATASET_VERSION, "dataset"): "datasetName",
    (Label.DATASET_VERSION, "schema"): "schemaFields",
    (Label.MODEL_VERSION, "model"): "modelName",
}
# Stored properties the API deliberately does not show: the keys lists serve queries
# inside the graph, the rest is the OpenLineage importer's and run_sources' bookkeeping.
NOT_EXPOSED: frozenset[tuple[Label, str]] = frozenset(
    (Label.RUN, name) for name in ("paramKeys", "metricKeys", "producer", "eventTime",
                                   "mergeState", "acceptSources", "source"))
# Scalar fields of the entity types that are computed, not stored.
NOT_STORED = frozenset({"id"})


def _api_name(label: Label, name: str) -> str:
    return RENAMED.get((label, name), name)


@pytest.fixture(scope="module")
def api_types():
    assert set(TYPES) == set(Label)
    schema = build_schema(sdl())
    return {label: schema.type_map[TYPES[label].__name__] for label in Label}


@pytest.mark.parametrize("label", list(Label), ids=str)
def test_every_property_of_the_model_is_on_the_api_type(label, api_types):
    entity = model.ENTITY[label]
    fields = api_types[label].fields
    missing = [name for name in (entity.key, *(p.name for p in entity.props))
               if (label, name) not in NOT_EXPOSED and _api_name(label, name) not in fields]
    assert not missing, (
        f"{label.value} properties {missing} are in kb/domain/model.py but not on the "
        f"GraphQL type: add them to kb/api/types.py (or to NOT_EXPOSED here, saying why)")


@pytest.mark.parametrize("label", list(Label), ids=str)
def test_every_stored_scalar_of_the_api_type_is_in_the_model(label, api_types):
    entity = model.ENTITY[label]
    stored = {_api_name(label, name) for name in
              (entity.key, *(p.name for p in entity.props), *(p.name for p in model.STAMPS))}
    scalars = {name for name, f in api_types[label].fields.items()
               if is_leaf_type(get_named_type(f.type)) and not f.args}
    unknown = scalars - stored - NOT_STORED
    assert not unknown, (
        f"the GraphQL type {label.value} shows {sorted(unknown)}, which the graph model "
        f"does not hold: add them to kb/domain/model.py (or to NOT_STORED here)")
