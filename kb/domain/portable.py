"""kb's portable export format: one JSON object per line, versioned (docs/EXPORT-FORMAT.md).

The lines, in this order: a header; every entity node; every link between entities;
every change record; API tokens when asked for; an end line with the count of each
section, so that a file cut short is refused. Each line is validated here against the
graph model (``model.py``) before anything is written: a known line type, a label or
type from the closed enums, a usable key, property names the model holds for that label
or link, values of the model's kind. Times are ISO text that Neo4j's ``datetime()``
parses back to the very same instant, nanoseconds and zone included.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kb.errors import InvalidInput

from .labels import Label, Rel
from .model import ENTITY, LINK_STAMPS, LINKS, STAMPS, Kind, Link, Prop

FORMAT = "kb-export"
#: The version of the line format this kb writes and the newest it reads.
VERSION = 1

#: The sections in the order they appear; a line of an earlier section after a later one
#: is refused, since links need their nodes written first.
SECTIONS = ("node", "link", "change", "token")

#: An API token's stored properties: the hash of its secret, never the secret itself.
TOKEN_PROPS: tuple[Prop, ...] = (
    Prop("id"), Prop("name"), Prop("hash"), Prop("scope"), Prop("actor"),
    Prop("createdAt", Kind.DATETIME), Prop("revokedAt", Kind.DATETIME),
    Prop("lastUsedAt", Kind.DATETIME))

#: Which properties identify one of several history links between one pair of nodes.
HISTORY_IDENTITY = ("role", "alias", "since")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Neo4j's datetime text: date, time, optional fraction, then Z or an offset, and an
# optional zone name in brackets.
_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(Z|[+-]\d{2}:\d{2}(?::\d{2})?)(?:\[[A-Za-z0-9_+\-/]+\])?")


def dumps(line: dict[str, Any]) -> str:
    """One line as written: sorted keys, UTF-8 as is, no spaces; byte-stable."""
    return json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def header(schema: int, *, tokens: bool) -> dict[str, Any]:
    """The first line. Nothing in it changes between two exports of one graph."""
    return {"format": FORMAT, "version": VERSION, "schema": schema, "tokens": tokens}


# -- the lines, as pydantic models -----------------------------------------------------

_STRICT = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Header(BaseModel):
    model_config = _STRICT

    format: Literal["kb-export"]
    version: int = Field(ge=1)
    schema_: int = Field(alias="schema", ge=1)
    tokens: bool = False


class Ref(BaseModel):
    """A link's end: its label and natural key."""

    model_config = _STRICT

    label: Label = Field(strict=False)
    key: str


class NodeLine(BaseModel):
    model_config = _STRICT

    type: Literal["node"]
    label: Label = Field(strict=False)
    key: str
    props: dict[str, Any]


class LinkLine(BaseModel):
    model_config = _STRICT

    type: Literal["link"]
    rel: Rel = Field(strict=False)
    source: Ref = Field(alias="from")
    target: Ref = Field(alias="to")
    props: dict[str, Any]


class ChangeLine(BaseModel):
    model_config = _STRICT

    type: Literal["change"]
    props: dict[str, Any]
    #: Which of ``props`` are times (a record's values may be of any kind).
    times: list[str] = []


class TokenLine(BaseModel):
    model_config = _STRICT

    type: Literal["token"]
    props: dict[str, Any]


class EndLine(BaseModel):
    model_config = _STRICT

    type: Literal["end"]
    counts: dict[str, int]


Line = NodeLine | LinkLine | ChangeLine | TokenLine | EndLine
_LINE_TYPES: dict[str, type[BaseModel]] = {
    "node": NodeLine, "link": LinkLine, "change": ChangeLine, "token": TokenLine,
    "end": EndLine}

# -- what the model allows ---------------------------------------------------------------

#: Each label's properties by name, stamps included (the key is the line's own field).
NODE_PROPS: dict[Label, dict[str, Prop]] = {
    label: {p.name: p for p in (*entity.props, *STAMPS)} for label, entity in ENTITY.items()}

#: Each allowed (from, type, to) triple and its properties, stamps included.
LINK_OF: dict[tuple[Label, Rel, Label], Link] = {link.triple: link for link in LINKS}
LINK_PROPS: dict[tuple[Label, Rel, Label], dict[str, Prop]] = {
    t: {p.name: p for p in (*link.props, *LINK_STAMPS)} for t, link in LINK_OF.items()}

TOKEN_PROP: dict[str, Prop] = {p.name: p for p in TOKEN_PROPS}

#: The names a change record's times may have: its own ``at``, and the before and after
#: values of every time property of the model.
CHANGE_TIMES: tuple[str, ...] = ("at", *sorted({
    prefix + name for props in NODE_PROPS.values() for name, p in props.items()
    if p.kind is Kind.DATETIME for prefix in ("was.", "now.")}))
_CHANGE_REQUIRED = ("id", "at", "kind", "key")


def time_names(props: dict[str, Prop]) -> tuple[str, ...]:
    return tuple(name for name, p in props.items() if p.kind is Kind.DATETIME)


# -- validation --------------------------------------------------------------------------


def refuse(number: int, field: str, problem: str, value: object = None) -> InvalidInput:
    return InvalidInput(f"line {number}: {field}", problem, value)


def parse_header(number: int, text: str | bytes) -> Header:
    try:
        data = orjson.loads(text)
    except ValueError:
        raise refuse(number, "line", "is not JSON") from None
    if not isinstance(data, dict) or "format" not in data:
        raise refuse(number, "format", f"the file must start with a {FORMAT!r} header line")
    try:
        head = Header.model_validate(data)
    except ValidationError as exc:
        raise _refusal(number, exc) from None
    return head


def check_supported(number: int, head: Header, schema: int) -> None:
    """Refuse a file written by a newer kb, naming both versions."""
    if head.version > VERSION:
        raise refuse(number, "version", f"the file's format version {head.version} is newer "
                     f"than this kb reads ({VERSION}); upgrade kb to import it")
    if head.schema_ > schema:
        raise refuse(number, "schema", f"the file's graph schema {head.schema_} is newer than "
                     f"this kb's ({schema}); upgrade kb to import it")


def parse_line(number: int, text: str | bytes) -> Line:
    """One line after the header, validated; ``InvalidInput`` names the line and field."""
    try:
        data = orjson.loads(text)
    except ValueError:
        raise refuse(number, "line", "is not JSON") from None
    if not isinstance(data, dict):
        raise refuse(number, "line", "must be a JSON object")
    kind = data.get("type")
    model = _LINE_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise refuse(number, "type", f"must be one of {', '.join(_LINE_TYPES)}", kind)
    try:
        line = model.model_validate(data)
    except ValidationError as exc:
        raise _refusal(number, exc) from None
    if isinstance(line, NodeLine):
        _check_key(number, "key", line.key)
        _check_props(number, line.props, NODE_PROPS[line.label], line.label.value)
        key_name = ENTITY[line.label].key
        if key_name in line.props:
            raise refuse(number, f"props.{key_name}", "is the key; give it as 'key' only")
    elif isinstance(line, LinkLine):
        triple = (line.source.label, line.rel, line.target.label)
        if triple not in LINK_OF:
            raise refuse(number, "rel", f"the graph model has no link ({triple[0].value})-"
                         f"[:{line.rel.value}]->({triple[2].value})")
        _check_key(number, "from.key", line.source.key)
        _check_key(number, "to.key", line.target.key)
        _check_props(number, line.props, LINK_PROPS[triple], line.rel.value)
        if LINK_OF[triple].history:
            for name in identity(line.rel):
                if name not in line.props:
                    raise refuse(number, f"props.{name}", f"is required: it tells one "
                                 f"{line.rel.value} link of this pair from another")
    elif isinstance(line, ChangeLine):
        _check_change(number, line)
    elif isinstance(line, TokenLine):
        _check_props(number, line.props, TOKEN_PROP, "ApiToken")
        for name in ("id", "hash"):
            if name not in line.props:
                raise refuse(number, f"props.{name}", "is required")
        _check_key(number, "props.id", line.props["id"])
        if not _SHA256.fullmatch(line.props["hash"]):
            raise refuse(number, "props.hash", "must be a sha256 hex digest (tokens travel "
                         "as hashes only)")
    return line


def identity(rel: Rel) -> tuple[str, ...]:
    """The properties that identify one history link of type ``rel`` between a pair."""
    return ("alias", "since") if rel is Rel.ALIAS else ("role", "since")


def _check_key(number: int, field: str, key: str) -> None:
    if not key.strip():
        raise refuse(number, field, "must be a non-empty key")
    if _CONTROL.search(key):
        raise refuse(number, field, "must not hold control characters", key)


def _check_props(number: int, props: dict[str, Any], allowed: dict[str, Prop],
                 what: str) -> None:
    for name, value in props.items():
        prop = allowed.get(name)
        if prop is None:
            raise refuse(number, f"props.{name}", f"is not a property of {what} in kb's "
                         "graph model")
        problem = kind_problem(prop.kind, value)
        if problem:
            raise refuse(number, f"props.{name}", problem, value)


def kind_problem(kind: Kind, value: Any) -> str | None:
    """What is wrong with ``value`` as a value of ``kind``, or None."""
    if kind is Kind.TEXT:
        return None if isinstance(value, str) else "must be text"
    if kind is Kind.INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "must be an integer"
    if kind is Kind.FLOAT:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if kind is Kind.BOOLEAN:
        return None if isinstance(value, bool) else "must be true or false"
    if kind is Kind.DATETIME:
        return None if is_time(value) else "must be an ISO 8601 date and time with its zone"
    if kind is Kind.JSON:
        if not isinstance(value, str):
            return "must be a JSON map as text"
        try:
            ok = isinstance(json.loads(value), dict)
        except ValueError:
            ok = False
        return None if ok else "must be a JSON map as text"
    if kind is Kind.TEXT_LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of text"
    return f"holds a kind kb does not know ({kind})"


def is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    match = _DATETIME.fullmatch(value)
    if match is None:
        return False
    try:  # the calendar: no 31st of February
        datetime.fromisoformat(match[1][:19] if len(match[1]) > 19 else match[1])
    except ValueError:
        return False
    return True


def _storable(value: Any) -> bool:
    """What a Neo4j property can hold: a scalar, or a list of scalars of one kind."""
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return len({type(v) for v in value}) <= 1 and all(
            isinstance(v, str | bool | int | float) for v in value)
    return False


def _check_change(number: int, line: ChangeLine) -> None:
    props = line.props
    for name in _CHANGE_REQUIRED:
        if name not in props:
            raise refuse(number, f"props.{name}", "is required")
    for name in ("id", "key"):
        if not isinstance(props[name], str) or not props[name]:
            raise refuse(number, f"props.{name}", "must be non-empty text", props[name])
    if props["kind"] not in Label._value2member_map_:
        raise refuse(number, "props.kind", "must be a label of kb's graph model",
                     props["kind"])
    if "at" not in line.times:
        raise refuse(number, "times", "must name 'at'")
    for name, value in props.items():
        if not _storable(value):
            raise refuse(number, f"props.{name}", "must be text, a number, true or false, "
                         "or a list of one of them", value)
    for name in line.times:
        if name not in CHANGE_TIMES:
            raise refuse(number, "times", "names a property that is not a time of a change "
                         "record", name)
        if not is_time(props.get(name)):
            raise refuse(number, f"props.{name}", "must be an ISO 8601 date and time with "
                         "its zone", props.get(name))


def _refusal(number: int, exc: ValidationError) -> InvalidInput:
    """The first problem pydantic found, named by its field path."""
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "line"
    where = {"schema_": "schema"}.get(where, where)
    message = error["msg"]
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not a field of this line type"
    return refuse(number, where, message, error.get("input") if error["type"] not in (
        "missing", "extra_forbidden") else None)
