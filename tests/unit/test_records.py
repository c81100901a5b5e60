"""Record validation without a database: every problem names its field."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kb.domain import (
    DatasetRecord,
    DatasetVersionRecord,
    DeploymentRecord,
    Label,
    ModelVersionRecord,
    OwnershipRecord,
    PersonRecord,
    Ref,
    RunRecord,
    parse_ref,
    validate,
)
from kb.domain.answers import DatasetVersionFact, LineageNode
from kb.errors import InvalidInput
from kb.graph.training import newest_first
from kb.ingest import BatchBuilder


def invalid(model, data, prefix="x") -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        validate(model, data, prefix=prefix)
    return err.value


@pytest.mark.parametrize("handle", ["alice smith", "-alice", "", "   ", "al/ice", "a\nb"])
def test_bad_handles(handle: str) -> None:
    err = invalid(PersonRecord, {"handle": handle}, prefix="person")
    assert err.field == "person.handle"


@pytest.mark.parametrize("handle", ["alice", "a.liddell", "bob_2", "c-d+e"])
def test_good_handles(handle: str) -> None:
    assert validate(PersonRecord, {"handle": handle}).handle == handle


def test_email_must_look_like_one() -> None:
    assert invalid(PersonRecord, {"handle": "a", "email": "nope"}).field == "x.email"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_metrics_must_be_finite(value: float) -> None:
    err = invalid(RunRecord, {"id": "r", "metrics": {"auc": value}}, prefix="run")
    assert err.field == "run.metrics"
    assert "'auc'" in err.message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_numeric_params_must_be_finite(value: float) -> None:
    err = invalid(RunRecord, {"id": "r", "params": {"lr": value}}, prefix="run")
    assert err.field == "run.params"
    assert "'lr'" in err.message


def test_param_values_are_scalars_and_keys_are_text() -> None:
    assert invalid(RunRecord, {"id": "r", "params": {"lr": [1, 2]}}).field.startswith(
        "x.params.lr")
    assert invalid(RunRecord, {"id": "r", "params": {" ": 1}}).field == "x.params"
    ok = validate(RunRecord, {"id": "r", "params": {"lr": 0.1, "opt": "adam", "bn": True,
                                                    "clip": None}})
    assert ok.params == {"lr": 0.1, "opt": "adam", "bn": True, "clip": None}


@pytest.mark.parametrize(("data", "field"), [
    ({"dataset": "", "version": "1"}, "dv.dataset"),
    ({"dataset": "d", "version": "1@2"}, "dv.version"),
    ({"dataset": "d", "version": " "}, "dv.version"),
    ({"dataset": "d", "version": "1", "rows": -1}, "dv.rows"),
    ({"dataset": "d", "version": "1", "colour": "red"}, "dv.colour"),
])
def test_dataset_version_problems(data: dict, field: str) -> None:
    assert invalid(DatasetVersionRecord, data, prefix="dv").field == field


def test_names_are_stripped() -> None:
    rec = validate(DatasetVersionRecord, {"dataset": " customers ", "version": " 2024-05 "})
    assert rec.key == "customers@2024-05"


def test_datasheet_sections_are_a_closed_set() -> None:
    err = invalid(DatasetRecord, {"name": "d", "datasheet": {"gossip": "x"}}, prefix="dataset")
    assert err.field == "dataset.datasheet"
    assert "motivation" in err.message  # the fix: the allowed sections are listed
    assert validate(DatasetRecord, {"name": "d", "datasheet": {"uses": "x"}}).datasheet


def test_run_inputs_roles_are_a_closed_set() -> None:
    err = invalid(RunRecord, {"id": "r", "inputs": [{"dataset": "d", "version": "1",
                                                      "role": "snack"}]}, prefix="run")
    assert err.field == "run.inputs.0.role"


def test_timestamps_become_utc() -> None:
    naive = validate(RunRecord, {"id": "r", "started_at": "2026-01-02T03:04:05"})
    assert naive.started_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    paris = timezone(timedelta(hours=2))
    aware = validate(RunRecord, {"id": "r", "started_at": datetime(2026, 1, 2, 5, tzinfo=paris)})
    assert aware.started_at == datetime(2026, 1, 2, 3, tzinfo=UTC)
    assert aware.started_at.tzinfo == UTC


def test_deployment_environment_is_lowercased() -> None:
    rec = validate(DeploymentRecord, {"id": "d", "model": "m", "version": "1",
                                      "environment": "Production"})
    assert rec.environment == "production"


def test_model_version_key_needs_its_version() -> None:
    with pytest.raises(InvalidInput) as err:
        _ = ModelVersionRecord(model="churn").key
    assert err.value.field == "version"
    assert ModelVersionRecord(model="churn", version="7").key == "churn@7"


def test_owners_are_people_or_teams() -> None:
    err = invalid(OwnershipRecord, {"asset": parse_ref("model:churn"),
                                    "owner": parse_ref("dataset:x")}, prefix="own")
    assert err.field == "own.owner"
    rec = validate(OwnershipRecord, {"asset": parse_ref("model:churn"),
                                     "owner": parse_ref("team:ml")})
    assert rec.owner == Ref(Label.TEAM, "ml")


def test_builder_names_fields_and_keeps_nothing_bad() -> None:
    b = BatchBuilder()
    b.person("alice")
    with pytest.raises(InvalidInput) as err:
        b.run(id="r", inputs=["no-version"])
    assert err.value.field == "run.inputs.0"
    with pytest.raises(InvalidInput) as err:
        b.dataset_version("d", "1", derived_from=["d@1@"])
    assert err.value.field.startswith("dataset_version.derived_from")
    assert len(b) == 1
    assert b.batch().people[0].handle == "alice"


def test_versions_sort_newest_first() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    versions = [("2", early), ("10", early), ("1", late), ("beta", early), ("rc", late)]
    ordered = sorted(versions, key=lambda v: newest_first(*v))
    assert [v for v, _ in ordered] == ["10", "2", "1", "rc", "beta"]


def test_answers_are_frozen() -> None:
    node = LineageNode(id="x", label="Run", key="r", name="r")
    with pytest.raises(AttributeError):
        node.key = "other"  # type: ignore[misc]
    fact = DatasetVersionFact("d", "1", "sha256:x", None, "train")
    assert fact == DatasetVersionFact("d", "1", "sha256:x", None, "train")
    assert hash(fact) == hash(DatasetVersionFact("d", "1", "sha256:x", None, "train"))
