"""OpenLineage validation, naming and merging, without a database."""

from __future__ import annotations

import itertools
import json
import unicodedata

import pytest

from kb.errors import InvalidInput
from kb.ingest.openlineage import (
    UNVERSIONED,
    BatchBuilder,
    build,
    dataset_ref,
    fold,
    parse_event,
    qualified,
    run_fields,
)

RUN = "0190a0b2-5f2e-7c1a-9a55-3a1f0c2b9d11"


def event(event_type: str = "START", time: str = "2024-05-01T10:00:00Z", **extra) -> dict:
    raw = {
        "eventType": event_type,
        "eventTime": time,
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.20.0/integration/airflow",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": RUN, "facets": {}},
        "job": {"namespace": "etl", "name": "clean_customers", "facets": {}},
        "inputs": [{"namespace": "postgres://db:5432", "name": "public.customers"}],
        "outputs": [],
    }
    raw.update(extra)
    return raw


def test_valid_event_parses_with_times_in_utc():
    ev = parse_event(event(time="2024-05-01T12:00:00+02:00"))
    assert ev.event_time.isoformat() == "2024-05-01T10:00:00+00:00"
    assert ev.experiment == "etl/clean_customers"
    assert ev.run_id == RUN


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda e: e["run"].pop("runId"), "event.run"),
    (lambda e: e.update(eventTime="yesterday at noon"), "event.eventTime"),
    (lambda e: e.update(eventType="FINISHED"), "event.eventType"),
    (lambda e: e["job"].update(name=42), "event.job.name"),
    (lambda e: e.update(inputs={"namespace": "x"}), "event.inputs"),
    (lambda e: e.pop("producer"), "event"),
    (lambda e: e["run"]["facets"].update(errorMessage={"message": 3}),
     "event.run.facets.errorMessage.message"),
])
def test_malformed_events_name_the_field(mutate, field):
    raw = event()
    mutate(raw)
    with pytest.raises(InvalidInput) as info:
        parse_event(raw)
    assert info.value.field == field


def test_older_events_and_custom_facets_are_accepted():
    raw = event()
    raw.pop("schemaURL")
    raw["run"]["facets"]["acme_cost"] = {"dollars": 3.5}
    raw["job"]["facets"]["airflow"] = {"dag": {"dag_id": "x"}}
    raw["inputs"][0]["facets"] = {"dataQualityMetrics": {"rowCount": 10}}
    assert parse_event(raw).event_type == "START"


def test_names_follow_the_namespace_rule():
    assert qualified("default", "train") == "train"
    assert qualified("s3://bucket", "raw/events") == "s3://bucket/raw/events"
    item = {"namespace": "ns", "name": "t", "facets": {"version": {"datasetVersion": "v@3"}}}
    assert dataset_ref(item) == ("ns/t", "v%403")
    assert dataset_ref({"namespace": "ns", "name": "t"}) == ("ns/t", UNVERSIONED)


def _events():
    params = {"executionParameters": {"parameters": [{"key": "lr", "value": "0.1"}]}}
    later = {"executionParameters": {"parameters": [{"key": "lr", "value": "0.2"}]}}
    return [
        parse_event(event("START", "2024-05-01T10:00:00Z", run={"runId": RUN, "facets": params})),
        parse_event(event("RUNNING", "2024-05-01T10:05:00Z")),
        parse_event(event("COMPLETE", "2024-05-01T10:30:00Z",
                          run={"runId": RUN, "facets": later})),
        parse_event(event("OTHER", "2024-05-01T11:00:00Z")),
    ]


def test_fold_is_independent_of_order_and_duplicates():
    events = _events()
    states = set()
    for order in itertools.permutations(events + events[:2]):
        state: dict = {}
        for ev in order:
            fold(state, ev)
        states.add(json.dumps(state, sort_keys=True))
    assert len(states) == 1
    fields = run_fields(RUN, json.loads(states.pop()))
    assert fields["status"] == "COMPLETED"
    assert fields["started_at"].isoformat() == "2024-05-01T10:00:00+00:00"
    assert fields["ended_at"].isoformat() == "2024-05-01T10:30:00+00:00"
    assert fields["params"] == {"lr": "0.2"}
    # The job, not the run, has a name: it is the run's experiment, not a second copy.
    assert fields["experiment"] == "etl/clean_customers" and "name" not in fields


def test_a_failure_at_the_same_time_outranks_completion():
    state: dict = {}
    fold(state, parse_event(event("FAIL", "2024-05-01T10:30:00Z")))
    fold(state, parse_event(event("COMPLETE", "2024-05-01T10:30:00Z")))
    assert run_fields(RUN, state)["status"] == "FAILED"


def test_nominal_time_fills_in_only_when_event_times_are_absent():
    nominal = {"nominalTime": {"nominalStartTime": "2024-05-01T09:00:00Z",
                               "nominalEndTime": "2024-05-01T10:00:00Z"}}
    other = parse_event(event("OTHER", "2024-05-01T12:00:00Z",
                              run={"runId": RUN, "facets": nominal}))
    state = fold({}, other)
    assert run_fields(RUN, state)["started_at"].hour == 9
    fold(state, parse_event(event("START", "2024-05-01T09:30:00Z")))
    assert run_fields(RUN, state)["started_at"].minute == 30


def test_build_maps_facets_to_records():
    facets = {
        "errorMessage": {"message": "table missing", "programmingLanguage": "python",
                         "stackTrace": "Traceback..."},
        "parent": {"run": {"runId": "parent-run"}, "job": {"namespace": "etl", "name": "dag"}},
    }
    job_facets = {
        "sourceCodeLocation": {"type": "git", "url": "https://github.com/acme/etl/blob/x.py",
                               "repoUrl": "https://github.com/acme/etl.git", "version": "abc123",
                               "branch": "main"},
        "ownership": {"owners": [{"name": "user:alice", "type": "MAINTAINER"},
                                 {"name": "application:etl"}]},
    }
    raw = event("FAIL", run={"runId": RUN, "facets": facets},
                job={"namespace": "default", "name": "clean", "facets": job_facets},
                outputs=[{"namespace": "s3://lake", "name": "clean/customers", "facets": {
                    "schema": {"fields": [{"name": "id", "type": "int"}]},
                    "version": {"datasetVersion": "42"},
                    "ownership": {"owners": [{"name": "team:data"}]}}}])
    b = BatchBuilder(None)
    build(b, [parse_event(raw)], {})
    batch = b.batch()
    (run,) = batch.runs
    assert run.experiment == "clean" and run.kind == "pipeline"
    assert run.status.value == "FAILED" and run.error == "table missing"
    assert run.parent == "parent-run"
    assert run.code is not None and run.code.commit == "abc123"
    assert [(o.dataset, o.version) for o in run.dataset_outputs] == [("s3://lake/clean/customers",
                                                                      "42")]
    assert [(i.dataset, i.version) for i in run.inputs] == [
        ("postgres://db:5432/public.customers", UNVERSIONED)]
    (dv,) = batch.dataset_versions
    assert dv.schema_fields is not None and dv.schema_fields[0].name == "id"
    owners = {(str(o.owner), str(o.asset), o.role) for o in batch.ownerships}
    assert ("person:alice", "experiment:clean", "maintainer") in owners
    assert ("team:data", "dataset:s3://lake/clean/customers", "owner") in owners
    assert len(owners) == 2
    (note,) = batch.notes
    assert "table missing" in note.body and "Traceback" in note.body


ZWSP, RLO = "\u200b", "\u202e"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda e: e["job"].update(name=f"clean{ZWSP}_customers"), "event.job.name"),
    (lambda e: e["job"].update(namespace=f"etl{RLO}"), "event.job.namespace"),
    (lambda e: e["run"].update(runId=f"{RUN}{ZWSP}"), "event.run.runId"),
    (lambda e: e["inputs"][0].update(name=f"public.{RLO}customers"), "event.inputs[0].name"),
    (lambda e: e.update(outputs=[{"namespace": "s3://b", "name": "out", "facets": {
        "version": {"datasetVersion": f"v{ZWSP}1"}}}]),
     "event.outputs[0].facets.version.datasetVersion"),
    (lambda e: e["run"]["facets"].update(parent={
        "run": {"runId": f"p{ZWSP}"}, "job": {"namespace": "etl", "name": "dag"}}),
     "event.run.facets.parent.run.runId"),
    (lambda e: e["job"].update(name="j" * 300), "event.job.name"),
])
def test_invisible_or_overlong_names_refuse_the_event_naming_its_field(mutate, field):
    raw = event()
    mutate(raw)
    with pytest.raises(InvalidInput) as info:
        parse_event(raw)
    assert info.value.field == field


def test_names_from_events_are_nfc():
    nfd = unicodedata.normalize("NFD", "clean_café")
    raw = event(job={"namespace": "etl", "name": nfd, "facets": {}},
                inputs=[{"namespace": "pg", "name": unicodedata.normalize("NFD", "señal")}])
    ev = parse_event(raw)
    assert ev.experiment == "etl/clean_café"
    b = BatchBuilder(None)
    build(b, [ev], {})
    (run,) = b.batch().runs
    assert run.experiment == "etl/clean_café"
    assert [i.dataset for i in run.inputs] == ["pg/señal"]


def test_an_event_whose_nominal_end_precedes_its_start_is_refused():
    nominal = {"nominalTime": {"nominalStartTime": "2024-05-01T10:00:00Z",
                               "nominalEndTime": "2024-05-01T09:00:00Z"}}
    with pytest.raises(InvalidInput) as info:
        parse_event(event("OTHER", run={"runId": RUN, "facets": nominal}))
    assert info.value.field == "event.run.facets.nominalTime.nominalEndTime"
    assert "before nominalStartTime" in info.value.problem


def test_events_whose_clocks_disagree_start_the_run_when_it_ended_in_any_order():
    ends = parse_event(event("COMPLETE", "2024-05-01T10:00:00Z"))
    starts_later = parse_event(event("START", "2024-05-01T10:07:00Z"))
    for order in ([ends, starts_later], [starts_later, ends]):
        state: dict = {}
        for ev in order:
            fold(state, ev)
        fields = run_fields(RUN, state)
        assert fields["started_at"] == fields["ended_at"]
        assert fields["ended_at"].isoformat() == "2024-05-01T10:00:00+00:00"
        b = BatchBuilder(None)
        build(b, order, {})  # the run's record takes it
        assert b.batch().runs[0].started_at == fields["started_at"]


def test_values_a_record_refuses_refuse_the_event_before_any_write():
    raw = event(inputs=[{"namespace": "pg", "name": "t", "facets": {
        "documentation": {"description": "x" * 70_000}}}])
    with pytest.raises(InvalidInput) as info:
        parse_event(raw)
    assert info.value.message == (
        "event: dataset.description: at most 65,536 characters, got 70,000")


def test_error_messages_keep_their_text_with_controls_escaped_and_a_short_summary():
    message = "\x1b[31mboom\x1b[0m " + "x" * 5000
    raw = event("FAIL", run={"runId": RUN, "facets": {"errorMessage": {
        "message": message, "programmingLanguage": "python", "stackTrace": "at \x1b[1mx"}}})
    b = BatchBuilder(None)
    build(b, [parse_event(raw)], {})
    batch = b.batch()
    (run,) = batch.runs
    assert run.error is not None and run.error.startswith("\\u001b[31mboom\\u001b[0m xx")
    assert len(run.error) == 4096 and run.error.endswith("…")
    (note,) = batch.notes
    assert "x" * 5000 in note.body and "at \\u001b[1mx" in note.body
