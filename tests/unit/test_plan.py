from kb.domain import Batch, Label, Rel, validate
from kb.graph import prepare
from kb.graph.plan import SMALL_BATCH_ROWS, build_plan, encode_map


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


def test_a_batch_over_the_small_size_is_not_small():
    people = [{"handle": f"p{i}"} for i in range(SMALL_BATCH_ROWS)]
    assert build_plan(validate(Batch, {"people": people})).small
    batch = validate(Batch, {"people": [*people, {"handle": "bob", "email": "bob@example.com"}]})
    plan = build_plan(batch)
    assert not plan.small  # what its rows then write: tests/integration/test_upserts.py
    assert plan.nodes[Label.PERSON]["bob"] == {"email": "bob@example.com"}
    assert plan.nodes[Label.PERSON]["p0"] == {}


def test_unknown_values_are_left_out_and_only_records_take_defaults():
    batch = validate(Batch, {"runs": [{"id": "r1", "person": "alice", "parent": "r0"}]})
    plan = build_plan(batch)
    r1 = plan.nodes[Label.RUN]["r1"]
    assert not {"command", "seed", "status", "kind"} & r1.keys()  # unknown: left as stored
    # r1, a record, takes the defaults of what it does not state; its parent, a stub, none.
    assert plan.records[Label.RUN] == {"r1"}
    assert plan.nodes[Label.RUN]["r0"] == {}


def test_each_link_is_written_once():
    batch = validate(Batch, {
        "runs": [{"id": "r1", "person": "alice", "experiment": "churn",
                  "inputs": [{"dataset": "customers", "version": "1", "role": "train"}]}],
        "model_versions": [{"model": "churn", "version": "1", "run_id": "r1"}],
    })
    plan = build_plan(batch)
    assert plan.link_rows((Label.PERSON, Rel.TRAINED, Label.RUN)) == [
        {"a": "alice", "b": "r1", "props": {}}]
    assert plan.link_rows((Label.RUN, Rel.USED, Label.DATASET_VERSION)) == [
        {"a": "r1", "b": "customers@1", "props": {"role": "train"}}]
    assert plan.link_rows((Label.RUN, Rel.PRODUCED, Label.MODEL_VERSION)) == [
        {"a": "r1", "b": "churn@1", "props": {}}]
    # Each rides with the node rows of its later-written end, none in a statement of its own.
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
