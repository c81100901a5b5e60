from kb.domain import Batch, Label, Rel, validate
from kb.graph import prepare
from kb.graph.plan import (
    DEFAULTS,
    EMBEDDED,
    PROPERTIES,
    SMALL_BATCH_ROWS,
    build_plan,
    encode_map,
    full_shape,
)


def test_params_encode_canonically():
    assert encode_map({"b": 1, "a": 0.5}) == '{"a":0.5,"b":1}'
    assert encode_map({"z": {"y": 1, "x": [True, None]}, "a": "é"}) == (
        '{"a":"é","z":{"x":[true,null],"y":1}}')


def test_integers_beyond_64_bits_still_encode():
    assert encode_map({"seed": 2**70, "a": 1}) == '{"a":1,"seed":1180591620717411303424}'


def test_referenced_entities_become_deduplicated_stubs():
    batch = validate(Batch, {
        "runs": [
            {"id": "r1", "person": "alice", "experiment": "churn",
             "inputs": [{"dataset": "customers", "version": "1", "role": "train"}]},
            {"id": "r2", "person": "alice", "experiment": "churn",
             "inputs": [{"dataset": "customers", "version": "1", "role": "test"}]},
        ],
    })
    plan = build_plan(batch)
    assert list(plan.nodes[Label.PERSON]) == ["alice"]
    assert plan.nodes[Label.DATASET_VERSION]["customers@1"] == {
        "dataset": "customers", "version": "1"}
    used = plan.link_rows((Label.RUN, Rel.USED, Label.DATASET_VERSION))
    assert {(r["a"], r["props"]["role"]) for r in used} == {("r1", "train"), ("r2", "test")}


def test_rows_hold_only_the_columns_some_row_knows():
    people = [{"handle": f"p{i}"} for i in range(SMALL_BATCH_ROWS)]
    batch = validate(Batch, {"people": [*people, {"handle": "bob", "email": "bob@example.com"}]})
    plan = build_plan(batch)
    assert not plan.small
    (links, props), rows = plan.node_rows(Label.PERSON)
    assert links == () and props == (PROPERTIES[Label.PERSON].index("email"),)
    assert rows[0] == ["p0", None, None] and rows[-1] == ["bob", None, "bob@example.com"]


def test_small_batches_hold_every_column_with_unknown_values_as_null():
    batch = validate(Batch, {"runs": [{"id": "r1", "person": "alice", "parent": "r0"}]})
    plan = build_plan(batch)
    assert plan.small  # one statement text per set of labels
    shape, rows = plan.node_rows(Label.RUN)
    assert shape == full_shape(Label.RUN)
    first = 2 + len(EMBEDDED[Label.RUN])
    last = first + len(PROPERTIES[Label.RUN])
    row = {r[0]: r for r in rows}
    values = dict(zip(PROPERTIES[Label.RUN], row["r1"][first:last], strict=True))
    assert values["command"] is None and values["seed"] is None  # unknown: left as stored
    assert values["status"] is None and values["kind"] is None
    # What a run without them takes; the parent, a stub, states nothing.
    assert row["r1"][last:] == ["training", "COMPLETED"] == list(DEFAULTS[Label.RUN].values())
    assert row["r0"][last:] == [None, None]


def test_links_ride_with_the_later_written_end():
    batch = validate(Batch, {
        "runs": [{"id": "r1", "person": "alice", "experiment": "churn",
                  "inputs": [{"dataset": "customers", "version": "1", "role": "train"}]}],
        "model_versions": [{"model": "churn", "version": "1", "run_id": "r1"}],
    })
    plan = build_plan(batch)
    _, (run,) = plan.node_rows(Label.RUN)
    links = dict(zip(EMBEDDED[Label.RUN], run[2:], strict=False))
    assert links[(Label.PERSON, Rel.TRAINED, Label.RUN)] == ["alice"]
    assert links[(Label.RUN, Rel.USED, Label.DATASET_VERSION)] == [["customers@1", "train"]]
    _, (mv,) = plan.node_rows(Label.MODEL_VERSION)
    produced = EMBEDDED[Label.MODEL_VERSION].index((Label.RUN, Rel.PRODUCED, Label.MODEL_VERSION))
    assert mv[2 + produced] == ["r1"]
    assert plan.loose_link_rows() == {}


def test_derivation_becomes_a_run():
    batch = validate(Batch, {"dataset_versions": [{
        "dataset": "features", "version": "3",
        "derived_from": [{"dataset": "clean", "version": "3"}]}]})
    plan = build_plan(batch)
    run = "derive:features@3"
    assert plan.nodes[Label.RUN][run]["kind"] == "derivation"
    assert plan.link_rows((Label.RUN, Rel.USED, Label.DATASET_VERSION))[0]["b"] == "clean@3"
    assert plan.link_rows((Label.RUN, Rel.PRODUCED, Label.DATASET_VERSION))[0]["b"] == (
        "features@3")


def test_prepared_plans_carry_the_rows_the_transaction_would_build():
    batch = validate(Batch, {
        "runs": [{"id": "r1", "person": "alice", "experiment": "churn", "parent": "r0",
                  "started_at": "2024-05-01T10:00:00+02:00", "params": {"lr": 0.1},
                  "inputs": [{"dataset": "customers", "version": "1", "role": "train"}]}],
        "model_versions": [{"model": "churn", "version": "3", "run_id": "r1"}],
    })
    prepared = prepare(batch)
    assert prepared is not None and prepared._laid_out is not None
    lazy = build_plan(batch)
    for label in Label:
        assert prepared.node_rows(label) == lazy.node_rows(label)
    assert prepared.loose_link_rows() == lazy.loose_link_rows()
    assert (Label.RUN, Rel.CHILD_OF, Label.RUN) in prepared.loose_link_rows()


def test_batches_that_number_versions_are_planned_in_their_transaction():
    batch = validate(Batch, {"model_versions": [{"model": "churn", "run_id": "r1"}]})
    assert prepare(batch) is None
