"""Entity properties decoded by the graph model's kinds, whichever form the value came in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from neo4j.time import DateTime

from kb.domain import Label, Rel
from kb.domain.model import DATETIME, ENTITIES, JSON, STAMPS
from kb.graph.properties import KINDS, decode, decode_link, projection, read_json

AT = datetime(2026, 1, 15, 9, 30, 12, 345678, tzinfo=UTC)


def test_json_properties_decode_into_maps_and_the_rest_stays_as_stored() -> None:
    run = decode(Label.RUN, {"id": "r1", "params": '{"depth":6,"lr":0.1}', "metrics": None,
                             "seed": 7, "paramKeys": ["depth", "lr"], "status": "COMPLETED"})
    assert run == {"id": "r1", "params": {"depth": 6, "lr": 0.1}, "metrics": None, "seed": 7,
                   "paramKeys": ["depth", "lr"], "status": "COMPLETED"}


def test_a_timestamp_reads_alike_from_text_and_from_the_drivers_value() -> None:
    from_text = decode(Label.PERSON, {"handle": "alice", "leftAt": "2026-01-15T09:30:12.345678Z"})
    from_driver = decode(Label.PERSON, {"handle": "alice", "leftAt": DateTime.from_native(AT)})
    assert from_text == from_driver == {"handle": "alice", "leftAt": AT}
    assert from_text["leftAt"].utcoffset() is not None


def test_every_json_and_datetime_property_of_the_model_is_decoded() -> None:
    for entity in ENTITIES:
        for prop in (*entity.props, *STAMPS):
            if prop.kind is JSON:
                assert decode(entity.label, {prop.name: '{"a":1}'}) == {prop.name: {"a": 1}}
            elif prop.kind is DATETIME:
                assert decode(entity.label, {prop.name: "2026-01-15T09:30:12.345678Z"}) == {
                    prop.name: AT}
            else:
                assert KINDS[entity.label][prop.name] is prop.kind


def test_json_kept_as_text_when_asked_and_bad_json_left_as_text() -> None:
    raw = '{"auc":0.8}'
    assert decode(Label.RUN, {"metrics": raw}, as_text=("metrics",)) == {"metrics": raw}
    assert decode(Label.RUN, {"metrics": "not json"}) == {"metrics": "not json"}
    assert read_json(raw) == {"auc": 0.8}
    assert read_json(None) is None


def test_columns_the_model_does_not_hold_pass_through_as_plain_python() -> None:
    row = decode(Label.RUN, {"id": "r1", "person": "alice", "produced": ["churn@1"],
                             "at": DateTime.from_native(AT)})
    assert row == {"id": "r1", "person": "alice", "produced": ["churn@1"], "at": AT}


def test_link_properties_decode_by_the_links_kinds() -> None:
    owns = decode_link(Rel.OWNS, {"role": "owner", "since": "2026-01-15T09:30:12.345678Z",
                                  "until": None, "kind": "Person"})
    assert owns == {"role": "owner", "since": AT, "until": None, "kind": "Person"}
    assert decode_link(Rel.USED, {"role": "train"}) == {"role": "train"}


def test_a_projection_refuses_a_property_the_model_does_not_hold() -> None:
    with pytest.raises(KeyError, match=r"Run\.paramz"):
        projection("r", Label.RUN, ("id", "paramz"))
