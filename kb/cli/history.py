"""``kb history`` and ``kb changes``: who changed what, when, and through which path.

One line per change, newest first, at most the terminal's width: its time (UTC), actor,
path, operation and a summary of what it did ("status RUNNING → COMPLETED", "+ owner
person:bob", "alias champion → churn@3"). Both read ``kb.graph.history``, as the API does.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC
from typing import Any

import typer
from rich.cells import cell_len
from rich.text import Text

from kb.errors import InvalidInput

from .app import JSON_OPTION, app, console, inert, open_graph, print_json
from .ask import ENTITY_HELP

#: The most characters of one value a summary shows (``kb history --json`` has all).
VALUE_CHARS = 24
#: The most characters of an actor's name a line shows.
ACTOR_CHARS = 12
#: The most changes one page lists.
MAX_FIRST = 1000

KIND_OPTION = typer.Option(
    [], "--kind", help="Only changes that touched this (repeatable): created, properties, "
    "links, ownership, aliases, status, deleted, erased, migrated.")


def ref_text(kind: str, key: str) -> str:
    """``model:churn@3``: the ref ``kb show`` takes for a record's entity."""
    from kb.domain import Label, Ref

    try:
        return str(Ref(Label(kind), key))
    except ValueError:  # not an entity's kind: named as it is recorded
        return f"{kind.lower()}:{key}"


def _short(text: str, chars: int) -> str:
    """``text`` terminal-safe and at most ``chars`` long, cut with an ellipsis."""
    text = inert(text).replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= chars else text[:chars - 1] + "…"


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return _short(value, VALUE_CHARS)
    return _short(json.dumps(value, ensure_ascii=False, separators=(",", ":")), VALUE_CHARS)


def _link(link: Any) -> str:
    ref = _short(ref_text(link.kind, link.key), 60)
    sign = "+" if link.action == "add" else "−"
    if link.rel == "OWNS":
        return f"{sign} {_short(str(link.props.get('role') or 'owner'), VALUE_CHARS)} {ref}"
    arrow = link.rel if link.direction == "out" else f"←{link.rel}"
    return f"{sign} {arrow} {ref}"


def _aliases(links: list[Any]) -> list[str]:
    """Alias moves, one part each: ``alias champion churn@1 → churn@2``."""
    closed: dict[str, str] = {}
    added: dict[str, str] = {}
    for x in links:
        version = _short(ref_text(x.kind, x.key).partition(":")[2], 40)
        (added if x.action == "add" else closed)[str(x.props.get("alias", ""))] = version
    parts = []
    for alias in dict.fromkeys([*added, *closed]):
        name = _short(alias, VALUE_CHARS)
        if alias in added:
            before = f"{closed[alias]} " if alias in closed else ""
            parts.append(f"alias {name} {before}→ {added[alias]}")
        else:
            parts.append(f"alias {name} off {closed[alias]}")
    return parts


def summary(change: Any) -> str:
    """What a change did, in one line of parts: its links, then its fields."""
    head = {"create": "created", "delete": "deleted"}.get(change.op)
    if change.op == "erase":  # names what was erased; its values are gone
        head = "erased " + ", ".join(_short(n, VALUE_CHARS) for n in sorted(change.fields))
    if change.reason:
        head = f"{head or change.op} (reason: {_short(change.reason, 60)})"
    parts = [head] if head else []
    parts += _aliases([x for x in change.links if x.rel == "ALIAS"])
    parts += [_link(x) for x in change.links if x.rel != "ALIAS"]
    for name, (before, after) in sorted(change.fields.items()):
        if change.op == "erase":
            break
        if change.op == "create":
            parts.append(f"{name} {_value(after)}")
        elif before is None and after is None:  # a change whose values were erased
            parts.append(f"{name} changed, value erased")
        else:
            parts.append(f"{name} {_value(before)} → {_value(after)}")
    return "; ".join(parts)


def _fit(text: str, width: int) -> str:
    """``text`` cut with an ellipsis to ``width`` terminal cells."""
    if cell_len(text) <= width:
        return text
    while text and cell_len(text) > width - 1:
        text = text[:-1]
    return text + "…"


def line(change: Any, *, with_ref: bool) -> Text:
    """One change as one line of at most the console's width."""
    at = change.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = (f"{at} {_short(change.actor or '-', ACTOR_CHARS)} {_short(change.path, 12)} "
            f"{_short(change.op, 8)}")
    if with_ref:
        head += " " + _short(ref_text(change.kind, change.key), 40)
    rest = summary(change)
    text = Text(_fit(head, console.width), no_wrap=True, overflow="ignore")
    room = console.width - cell_len(text.plain) - 1
    if rest and room > 1:
        text.append(" ")
        text.append(_fit(rest, room), style="")
    return text


def change_json(change: Any) -> dict[str, Any]:
    """A record as ``--json`` prints it, its entity and each link's as refs."""
    return {
        "id": change.id, "at": change.at.astimezone(UTC).isoformat(), "actor": change.actor,
        "path": change.path, "batch": change.batch, "ref": ref_text(change.kind, change.key),
        "op": change.op, "kinds": list(change.categories),
        **({"reason": change.reason} if change.reason else {}),
        "fields": {k: [b, a] for k, (b, a) in sorted(change.fields.items())},
        "links": [{"rel": x.rel, "direction": x.direction, "ref": ref_text(x.kind, x.key),
                   "action": x.action, "props": dict(x.props)} for x in change.links]}


def _print(page: Any, as_json: bool, *, with_ref: bool, again: list[str], empty: str) -> None:
    if as_json:
        print_json({"changes": [change_json(c) for c in page.items],
                    "next": page.end_cursor if page.has_next else None})
        return
    if not page.items:
        console.print(empty, style="dim")
    for change in page.items:
        console.print(line(change, with_ref=with_ref), soft_wrap=True)
    if page.has_next:
        command = shlex.join(["kb", *again, "--after", page.end_cursor])
        console.print(f"more: {command}", style="yellow", soft_wrap=True)


def _first(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise InvalidInput("first", f"must be between 1 and {MAX_FIRST}", first)
    return first


def _again(command: list[str], first: int, default: int, kinds: list[str]) -> list[str]:
    """The arguments that ask for the next page of the same list (with ``--after``)."""
    args = list(command)
    if first != default:
        args += ["--first", str(first)]
    for k in kinds:
        args += ["--kind", k]
    return args


@app.command("history", epilog=ENTITY_HELP)
def history_cmd(
    entity: str = typer.Argument(..., help="The entity; a bare name is a model."),
    first: int = typer.Option(20, "--first", help="How many changes, newest first."),
    kinds: list[str] = KIND_OPTION,
    after: str = typer.Option(None, "--after",
                              help="Continue after this cursor (printed under a page)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The changes of ENTITY, newest first: when, who, through which path, and what. A
    model's include its versions' and their deployments'; a dataset's its versions'."""
    from kb.domain import parse_ref
    from kb.graph.history import entity_history

    ref = parse_ref(entity, default="model")
    graph = open_graph()
    try:
        page = graph.read(entity_history, ref.label, ref.key, first=_first(first),
                          after=after, kinds=kinds)
    finally:
        graph.close()
    _print(page, as_json, with_ref=ref.label.value in ("Model", "Dataset"),
           again=_again(["history", str(ref)], first, 20, kinds),
           empty=f"no changes recorded for {ref}")


@app.command("changes")
def changes_cmd(
    since: str = typer.Option("7d", "--since", help="From this time: a date (2026-03-01), "
                              "a time (2026-03-01T09:30, UTC unless it says), or 7d, 12h."),
    until: str = typer.Option(None, "--until", help="Up to this time (same forms)."),
    by: str = typer.Option(None, "--by", help="Only this actor's writes."),
    kinds: list[str] = KIND_OPTION,
    first: int = typer.Option(50, "--first", help="How many changes, newest first."),
    after: str = typer.Option(None, "--after",
                              help="Continue after this cursor (printed under a page)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every change in a span of time (the last 7 days unless told), newest first, each
    naming its entity as a ref."""
    from kb.domain.when import parse_instant
    from kb.graph.history import changes

    start = parse_instant(since, "since")
    end = parse_instant(until, "until") if until is not None else None
    if end is not None and start > end:
        raise InvalidInput("since", "must not be later than --until", since)
    graph = open_graph()
    try:
        page = graph.read(changes, since=start, until=end, actor=by, kinds=kinds,
                          first=_first(first), after=after)
    finally:
        graph.close()
    # The next page's command pins the span: a relative --since read later would move it.
    command = ["changes", "--since", start.isoformat()]
    if end is not None:
        command += ["--until", end.isoformat()]
    if by is not None:
        command += ["--by", by]
    _print(page, as_json, with_ref=True, again=_again(command, first, 50, kinds),
           empty="no changes in that span")
