"""What records refuse, whoever writes them: sizes, look-alike names, hostile text, times."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from kb.domain import (
    CodeVersionRecord,
    DatasetRecord,
    DatasetVersionRecord,
    DeploymentRecord,
    EnvironmentRecord,
    ExperimentRecord,
    ModelRecord,
    ModelVersionRecord,
    NoteRecord,
    OwnershipRecord,
    PersonRecord,
    RunRecord,
    SchemaField,
    TeamRecord,
    limits,
    parse_ref,
    validate,
)
from kb.errors import InvalidInput
from kb.ingest import BatchBuilder, capture

NOTE = {"id": "n1", "about": parse_ref("model:churn"), "body": "ok"}
DV = {"dataset": "d", "version": "1"}
DEPLOY = {"id": "d1", "model": "m", "version": "1", "environment": "prod"}
# Every text field of every record, with the least its record needs besides it.
TEXT_FIELDS = [
    (PersonRecord, {"handle": "alice"}, "name", limits.NAME),
    (TeamRecord, {"name": "t"}, "description", limits.LONG_TEXT),
    (DatasetRecord, {"name": "d"}, "description", limits.LONG_TEXT),
    (DatasetRecord, {"name": "d"}, "domain", limits.SHORT_TEXT),
    (DatasetRecord, {"name": "d"}, "license", limits.SHORT_TEXT),
    (DatasetVersionRecord, DV, "uri", limits.SHORT_TEXT),
    (DatasetVersionRecord, DV, "digest", limits.SHORT_TEXT),
    (DatasetVersionRecord, DV, "description", limits.LONG_TEXT),
    (SchemaField, {"name": "c"}, "type", limits.SHORT_TEXT),
    (SchemaField, {"name": "c"}, "description", limits.SHORT_TEXT),
    (ExperimentRecord, {"name": "e"}, "description", limits.LONG_TEXT),
    (CodeVersionRecord, {"repo": "r", "commit": "c"}, "branch", limits.SHORT_TEXT),
    (EnvironmentRecord, {"digest": "e"}, "python", limits.SHORT_TEXT),
    (EnvironmentRecord, {"digest": "e"}, "platform", limits.SHORT_TEXT),
    (EnvironmentRecord, {"digest": "e"}, "accelerator", limits.SHORT_TEXT),
    (ModelVersionRecord, {"model": "m"}, "uri", limits.SHORT_TEXT),
    (ModelVersionRecord, {"model": "m"}, "framework", limits.SHORT_TEXT),
    (ModelVersionRecord, {"model": "m"}, "description", limits.LONG_TEXT),
    (RunRecord, {"id": "r"}, "name", limits.NAME),
    (RunRecord, {"id": "r"}, "kind", limits.NAME),
    (RunRecord, {"id": "r"}, "command", limits.COMMAND),
    (RunRecord, {"id": "r"}, "tracker_url", limits.SHORT_TEXT),
    (RunRecord, {"id": "r"}, "error", limits.SHORT_TEXT),
    (RunRecord, {"id": "r"}, "producer", limits.SHORT_TEXT),
    (RunRecord, {"id": "r"}, "merge_state", limits.MERGE_STATE),
    (ModelRecord, {"name": "m"}, "description", limits.LONG_TEXT),
    (ModelRecord, {"name": "m"}, "task", limits.SHORT_TEXT),
    (ModelRecord, {"name": "m"}, "intended_use", limits.LONG_TEXT),
    (ModelRecord, {"name": "m"}, "limitations", limits.LONG_TEXT),
    (ModelRecord, {"name": "m"}, "license", limits.SHORT_TEXT),
    (ModelRecord, {"name": "m"}, "base_model", limits.SHORT_TEXT),
    (DeploymentRecord, DEPLOY, "endpoint", limits.SHORT_TEXT),
    (NoteRecord, NOTE, "body", limits.NOTE_BODY),
]
NAME_FIELDS = [
    (PersonRecord, {}, "handle"), (TeamRecord, {}, "name"), (DatasetRecord, {}, "name"),
    (DatasetVersionRecord, {"version": "1"}, "dataset"),
    (DatasetVersionRecord, {"dataset": "d"}, "version"),
    (SchemaField, {}, "name"), (ExperimentRecord, {}, "name"),
    (CodeVersionRecord, {"commit": "c"}, "repo"), (CodeVersionRecord, {"repo": "r"}, "commit"),
    (EnvironmentRecord, {}, "digest"), (ModelRecord, {}, "name"),
    (ModelVersionRecord, {}, "model"), (ModelVersionRecord, {"model": "m"}, "version"),
    (ModelVersionRecord, {"model": "m"}, "run_id"),
    (RunRecord, {}, "id"), (RunRecord, {"id": "r"}, "experiment"),
    (RunRecord, {"id": "r"}, "person"), (RunRecord, {"id": "r"}, "parent"),
    (DeploymentRecord, {**DEPLOY, "id": None}, "id"),
    (DeploymentRecord, {**DEPLOY, "environment": None}, "environment"),
    (DeploymentRecord, DEPLOY, "deployed_by"),
    (NoteRecord, {**NOTE, "id": None}, "id"), (NoteRecord, NOTE, "author"),
]


def invalid(model, data, prefix="x") -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        validate(model, data, prefix=prefix)
    return err.value


def test_the_issue_s_fifty_megabyte_description_is_refused_by_its_size() -> None:
    err = invalid(ModelRecord, {"name": "churn", "description": "x" * 52_428_800},
                  prefix="model")
    assert err.message == "model.description: at most 65,536 characters, got 52,428,800"


@pytest.mark.parametrize(("model", "base", "field", "limit"), TEXT_FIELDS,
                         ids=[f"{m.__name__}.{f}" for m, _, f, _ in TEXT_FIELDS])
def test_every_text_field_is_bounded(model, base, field, limit) -> None:
    assert getattr(validate(model, {**base, field: "a" * limit}), field) == "a" * limit
    err = invalid(model, {**base, field: "a" * (limit + 1)})
    assert err.field == f"x.{field}"
    assert err.problem == f"at most {limit:,} characters, got {limit + 1:,}"


@pytest.mark.parametrize(("model", "data", "field", "limit"), [
    (PersonRecord, {"handle": "a"}, "teams", limits.TEAMS),
    (DatasetVersionRecord, DV, "schema_fields", limits.SCHEMA_FIELDS),
    (EnvironmentRecord, {"digest": "e"}, "packages", limits.PACKAGES),
    (ModelVersionRecord, {"model": "m"}, "aliases", limits.ALIASES),
    (RunRecord, {"id": "r"}, "inputs", limits.DATASET_LINKS),
])
def test_lists_are_bounded(model, data, field, limit) -> None:
    item = {"schema_fields": {"name": "c"}, "inputs": DV}.get(field, "a")
    err = invalid(model, {**data, field: [item] * (limit + 1)})
    assert (err.field, err.problem) == (f"x.{field}", f"at most {limit:,} items, got "
                                                       f"{limit + 1:,}")


def test_list_items_and_datasheet_sections_are_bounded_too() -> None:
    long = "a" * (limits.SHORT_TEXT + 1)
    assert invalid(EnvironmentRecord, {"digest": "e", "packages": ["ok", long]}
                   ).field == "x.packages.1"
    assert invalid(ModelVersionRecord, {"model": "m", "aliases": ["a" * 201]}
                   ).field == "x.aliases.0"
    err = invalid(DatasetRecord, {"name": "d", "datasheet": {
        "uses": "a" * (limits.LONG_TEXT + 1)}})
    assert err.field == "x.datasheet.uses" and err.problem.startswith("at most 65,536")


def test_params_and_metrics_are_bounded_in_count_key_and_value() -> None:
    many = {f"k{i}": i for i in range(limits.MAP_ENTRIES + 1)}
    assert invalid(RunRecord, {"id": "r", "params": many}).problem == (
        "at most 1,000 items, got 1,001")
    assert invalid(RunRecord, {"id": "r", "metrics": many}).field == "x.metrics"
    err = invalid(RunRecord, {"id": "r", "params": {"opt": "a" * (limits.PARAM_VALUE + 1)}})
    assert err.problem == "param 'opt': at most 8,192 characters, got 8,193"
    err = invalid(RunRecord, {"id": "r", "metrics": {"k" * (limits.MAP_KEY + 1): 1.0}})
    assert err.field == "x.metrics" and "at most 250 characters" in err.problem
    assert validate(RunRecord, {"id": "r", "params": {"k" * limits.MAP_KEY: 1}}).params


HIDDEN = ["\u200b", "\u200d", "\ufeff", "\u200e", "\u202e", "\u2066", "\u2028", "\u00ad", "\x1b"]


@pytest.mark.parametrize("char", HIDDEN, ids=[f"U+{ord(c):04X}" for c in HIDDEN])
@pytest.mark.parametrize(("model", "data", "field"), NAME_FIELDS,
                         ids=[f"{m.__name__}.{f}" for m, _, f in NAME_FIELDS])
def test_names_refuse_invisible_and_bidirectional_characters(model, data, field, char) -> None:
    value = f"ab{char}c" if field != "handle" else f"al{char}ice"
    err = invalid(model, {**{k: v for k, v in data.items() if v is not None}, field: value})
    assert err.field == f"x.{field}"
    assert f"U+{ord(char):04X}" in err.problem and "(at position 2)" in err.problem


@pytest.mark.parametrize(("model", "data", "field"), NAME_FIELDS,
                         ids=[f"{m.__name__}.{f}" for m, _, f in NAME_FIELDS])
def test_names_are_at_most_200_characters(model, data, field) -> None:
    data = {k: v for k, v in data.items() if v is not None}
    assert getattr(validate(model, {**data, field: "a" * 200}), field) == "a" * 200
    assert invalid(model, {**data, field: "a" * 201}).problem == (
        "at most 200 characters, got 201")


def test_names_are_nfc_so_look_alikes_are_one_name() -> None:
    nfd = unicodedata.normalize("NFD", "café-ünïcode")
    assert nfd != "café-ünïcode"
    assert validate(TeamRecord, {"name": nfd}).name == "café-ünïcode"
    assert validate(RunRecord, {"id": "r", "params": {nfd: 1}}).params == {"café-ünïcode": 1}
    assert validate(PersonRecord, {"handle": "a", "name": nfd}).name == "café-ünïcode"
    # Letters of other scripts stay names: only what cannot be seen is refused.
    assert validate(TeamRecord, {"name": "データ 科学"}).name == "データ 科学"


def test_references_obey_the_rules_of_names() -> None:
    err = invalid(OwnershipRecord, {"asset": parse_ref("model:churn"),
                                    "owner": parse_ref("person:al\u200bice")}, prefix="own")
    assert err.field == "own.owner" and "U+200B" in err.problem
    err = invalid(NoteRecord, {**NOTE, "about": parse_ref("model:churn@7\u202e")})
    assert err.field == "x.about"
    nfd = unicodedata.normalize("NFD", "modèle")
    note = validate(NoteRecord, {**NOTE, "about": parse_ref(f"model:{nfd}@1")})
    assert note.about.key == "modèle@1"
    assert invalid(OwnershipRecord, {"asset": parse_ref("model:churn"),
                                     "owner": parse_ref("person:a"),
                                     "role": "own\u200ber"}).field == "x.role"


def test_free_text_keeps_newlines_and_tabs_but_no_trojan_source() -> None:
    command = "python train.py \\\n\t--lr 0.1\r\n--epochs 3"
    assert validate(RunRecord, {"id": "r", "command": command}).command == (
        "python train.py \\\n\t--lr 0.1\n--epochs 3")
    # An access check that reads as a comment ends: the override makes the text lie.
    trojan = 'if admin: # \u202e } \u2066 begin admins only'
    err = invalid(RunRecord, {"id": "r", "command": trojan})
    assert err.field == "x.command" and "U+202E RIGHT-TO-LEFT OVERRIDE" in err.problem
    assert invalid(ModelRecord, {"name": "m", "description": "a\x1b[2Jb"}).field == (
        "x.description")
    assert invalid(NoteRecord, {**NOTE, "body": "a\rb"}).field == "x.body"
    assert invalid(DatasetRecord, {"name": "d", "description": "\ud800"}).field == (
        "x.description")
    # Right-to-left prose keeps its marks.
    assert validate(TeamRecord, {"name": "t", "description": "שלום\u200f!"}).description


def test_a_run_cannot_end_before_it_starts() -> None:
    err = invalid(RunRecord, {"id": "r", "started_at": "2024-05-01T10:00:00Z",
                              "ended_at": "2024-05-01T09:59:59Z"}, prefix="run")
    assert err.field == "run.ended_at"
    assert "must not be before started_at (2024-05-01T10:00:00+00:00)" in err.problem
    same = validate(RunRecord, {"id": "r", "started_at": "2024-05-01T12:00:00+02:00",
                                "ended_at": "2024-05-01T10:00:00Z"})
    assert same.ended_at == same.started_at


def test_a_run_s_source_is_its_writer_s_and_accept_names_known_sources() -> None:
    b = BatchBuilder(None, source="cli")
    assert b.run(id="r", accept=["openlineage"]).source == "cli"
    with pytest.raises(InvalidInput) as err:
        b.run(id="r", source="openlineage")
    assert err.value.field == "run.source"
    with pytest.raises(InvalidInput) as err:
        b.run(id="r", accept=["airflow"])
    assert err.value.field == "run.accept.0"


def test_retiring_a_deployment_names_it_by_the_rules_of_names() -> None:
    with pytest.raises(InvalidInput) as err:
        BatchBuilder(None).retire("dep\u200b1")
    assert err.value.field == "deployment"


def test_a_captured_command_line_always_fits_a_run(monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["train.py", "--tag", "\x1b[31mred\u202e",
                                      "x" * limits.COMMAND])
    command = capture.command_line()
    assert len(command) == limits.COMMAND and command.endswith("…")
    assert "\\u001b[31mred\\u202e" in command
    assert validate(RunRecord, {"id": "r", "command": command}).command == command
