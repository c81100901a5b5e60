"""The portable export's line format: what each line may hold, and how a bad one is named."""

from __future__ import annotations

import json

import pytest

from kb.domain import Label, portable
from kb.domain.portable import (
    ChangeLine,
    LinkLine,
    NodeLine,
    check_supported,
    dumps,
    parse_header,
    parse_line,
)
from kb.errors import InvalidInput

NODE = {"type": "node", "label": "Run", "key": "r1",
        "props": {"name": "first", "seed": 7, "startedAt": "2024-01-02T03:04:05.123456789Z",
                  "params": '{"lr":0.1}', "paramKeys": ["lr"], "updatedBy": "alice"}}
LINK = {"type": "link", "rel": "OWNS", "from": {"label": "Person", "key": "alice"},
        "to": {"label": "Model", "key": "churn"},
        "props": {"role": "owner", "since": "2024-01-01T00:00:00Z"}}
CHANGE = {"type": "change", "times": ["at", "now.leftAt"],
          "props": {"id": "b/0/01/Person/alice", "at": "2024-01-01T00:00:00Z", "kind": "Person",
                    "key": "alice", "op": "update", "fields": ["leftAt"],
                    "now.leftAt": "2024-02-01T00:00:00Z", "categories": ["status"]}}


def refused(data: object, number: int = 5) -> InvalidInput:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(InvalidInput) as exc:
        parse_line(number, text)
    return exc.value


def spoilt(base: dict, path: str, value: object) -> dict:
    data = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    target = data
    for name in parents:
        target = target[name]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


def test_valid_lines_parse_into_their_types() -> None:
    assert isinstance(parse_line(2, json.dumps(NODE)), NodeLine)
    assert isinstance(parse_line(3, json.dumps(LINK)), LinkLine)
    assert isinstance(parse_line(4, json.dumps(CHANGE)), ChangeLine)


def test_lines_are_written_sorted_compact_and_as_utf8() -> None:
    text = dumps({"b": "é<x>", "a": [1, 2]})
    assert text == '{"a":[1,2],"b":"é<x>"}'
    assert dumps(json.loads(text)) == text


def test_the_header_holds_nothing_that_changes_between_exports() -> None:
    assert portable.header(2, tokens=False) == {"format": "kb-export", "version": 1,
                                                "schema": 2, "tokens": False}


@pytest.mark.parametrize(("data", "field"), [
    ("{not json", "line 5: line"),
    ({**NODE, "type": "edge"}, "line 5: type"),
    (spoilt(NODE, "label", "Wizard"), "line 5: label"),
    (spoilt(NODE, "key", KeyError), "line 5: key"),
    (spoilt(NODE, "key", " "), "line 5: key"),
    (spoilt(NODE, "key", "a\x1fb"), "line 5: key"),
    (spoilt(NODE, "props.seed", "seven"), "line 5: props.seed"),
    (spoilt(NODE, "props.seed", True), "line 5: props.seed"),
    (spoilt(NODE, "props.startedAt", "yesterday"), "line 5: props.startedAt"),
    (spoilt(NODE, "props.startedAt", "2024-02-31T00:00:00Z"), "line 5: props.startedAt"),
    (spoilt(NODE, "props.params", "[1, 2]"), "line 5: props.params"),
    (spoilt(NODE, "props.paramKeys", ["a", 1]), "line 5: props.paramKeys"),
    (spoilt(NODE, "props.password", "x"), "line 5: props.password"),
    (spoilt(NODE, "props.id", "r1"), "line 5: props.id"),
    (spoilt(NODE, "extra", 1), "line 5: extra"),
    (spoilt(LINK, "rel", "LIKES"), "line 5: rel"),
    (spoilt(LINK, "to.label", "Run"), "line 5: rel"),
    (spoilt(LINK, "from.key", ""), "line 5: from.key"),
    (spoilt(LINK, "props.since", KeyError), "line 5: props.since"),
    (spoilt(LINK, "props.alias", "champion"), "line 5: props.alias"),
    (spoilt(CHANGE, "props.id", KeyError), "line 5: props.id"),
    (spoilt(CHANGE, "props.kind", "Wizard"), "line 5: props.kind"),
    (spoilt(CHANGE, "times", ["now.leftAt"]), "line 5: times"),
    (spoilt(CHANGE, "times", ["at", "op"]), "line 5: times"),
    (spoilt(CHANGE, "props.fields", [{"a": 1}]), "line 5: props.fields"),
    ({"type": "token", "props": {"id": "t1", "hash": "kb_secret"}}, "line 5: props.hash"),
    ({"type": "token", "props": {"id": "t1", "secret": "kb_x"}}, "line 5: props.secret"),
])
def test_a_bad_line_is_refused_naming_the_line_and_field(data: object, field: str) -> None:
    assert refused(data).field == field


def test_change_values_in_dotted_names_are_read_as_names() -> None:
    # ``now.leftAt`` is one property name, not a path.
    data = json.loads(json.dumps(CHANGE))
    data["props"]["now.leftAt"] = "soon"
    assert refused(data).field == "line 5: props.now.leftAt"


def test_a_newer_format_or_schema_is_refused_naming_both_versions() -> None:
    head = parse_header(1, dumps(portable.header(2, tokens=False)))
    check_supported(1, head, 2)
    with pytest.raises(InvalidInput) as exc:
        check_supported(1, head, 1)
    assert exc.value.field == "line 1: schema"
    assert "schema 2" in exc.value.message and "(1)" in exc.value.message
    newer = parse_header(1, dumps({**portable.header(2, tokens=False),
                                   "version": portable.VERSION + 1}))
    with pytest.raises(InvalidInput) as exc:
        check_supported(1, newer, 2)
    assert exc.value.field == "line 1: version"


def test_a_file_must_start_with_its_header() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_header(1, json.dumps(NODE))
    assert exc.value.field == "line 1: format"


@pytest.mark.parametrize("text", [
    "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04Z",
    "2024-01-02T03:04:05.1+01:00[Europe/Paris]", "2024-01-02T03:04:05-05:30"])
def test_times_as_neo4j_writes_them_are_times(text: str) -> None:
    assert portable.is_time(text)


@pytest.mark.parametrize("text", ["2024-01-02", "2024-01-02T03:04:05", "03:04:05Z",
                                  "2024-13-02T03:04:05Z", 5])
def test_times_without_a_zone_or_a_date_are_not(text: object) -> None:
    assert not portable.is_time(text)


def test_import_batches_hold_one_section_each_in_the_files_order(monkeypatch) -> None:
    """Batches of one section may be written at once; a section waits for the one before
    (links need their nodes committed), so no batch may mix two."""
    import io

    from kb.graph import portable as io_portable

    monkeypatch.setattr(io_portable, "BATCH_LINES", 3)
    nodes = [dict(NODE, key=f"r{i}") for i in range(4)]
    lines = [{"format": "kb-export", "version": 1, "schema": 2, "tokens": False},
             *nodes, LINK, LINK, CHANGE, {"type": "end", "counts": {}}]
    text = "".join(json.dumps(line) + "\n" for line in lines).encode()
    batches = list(io_portable._batches(io.BytesIO(text)))
    assert [(b.section, b.size) for b in batches] == [
        ("node", 3), ("node", 1), ("link", 2), ("change", 1)]
    assert [row["key"] for b in batches[:2] for row in b.nodes[Label.RUN]] == [
        "r0", "r1", "r2", "r3"]
