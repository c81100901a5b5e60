"""``kb delete`` and ``kb forget``: removing what was written by mistake, and erasing a
person's personal data; each one transaction, recorded (``kb.domain.erase``)."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from .app import JSON_OPTION, app, console, emit, err_console
from .ask import ENTITY_HELP
from .write import client

REASON_OPTION = typer.Option(None, "--reason", help="Why, kept in the change record.")
YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")


def _confirm(question: str, yes: bool) -> None:
    if not yes:  # names are validated: no control characters reach the prompt
        typer.confirm(question, abort=True, err=True)


@app.command("delete", epilog=ENTITY_HELP)
def delete_cmd(
    entity: str = typer.Argument(..., help="The entity, as kb show takes it (run:ID, "
                                 "model:churn@3, dataset:customers@2024-05, ...)."),
    cascade: bool = typer.Option(False, "--cascade", help="Also delete what cannot stand "
                                 "without it (versions, deployments, notes about it) and "
                                 "remove other entities' links to it."),
    reason: str = REASON_OPTION,
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove ENTITY, written by mistake, with its links, in one transaction. Refused,
    naming them, while other facts depend on it, unless --cascade. Its history stays,
    ending with a record of the delete (never its values). For a person, prefer kb forget."""
    from kb.domain import parse_ref

    ref = parse_ref(entity, field="entity")
    with client() as c:
        if not yes:  # a refusal or a missing entity is said before anything is asked
            _show_plan(ref, c.preview_delete(str(ref), cascade=cascade))
            _confirm(f"Delete {ref}? This cannot be undone.", yes)
        result = c.delete(str(ref), cascade=cascade, reason=reason)
    data = {"deleted": [str(r) for r in result.deleted],
            "unlinked": [{"ref": str(d.ref), "rel": d.rel, "direction": d.direction}
                         for d in result.unlinked],
            "batch": result.batch}

    def render(d: dict[str, Any]) -> None:
        console.print(Text(f"deleted {len(d['deleted'])}:", style="bold"))
        for gone in d["deleted"]:
            console.print(f"  {gone}", soft_wrap=True)
        for u in d["unlinked"]:
            arrow = f"-{u['rel']}->" if u["direction"] == "out" else f"<-{u['rel']}-"
            console.print(f"unlinked {ref} {arrow} {u['ref']}", soft_wrap=True)

    emit(data, as_json, render)


def _show_plan(ref: Any, plan: Any) -> None:
    err_console.print(f"This deletes {ref}" + (
        f" and {len(plan.deleted) - 1} more:" if len(plan.deleted) > 1 else "."), soft_wrap=True)
    for gone in plan.deleted[1:]:
        err_console.print(f"  {gone}", soft_wrap=True)
    if plan.unlinked:
        err_console.print(f"and removes {len(plan.unlinked)} link(s) of entities that stay:")
        for d in plan.unlinked:
            err_console.print(f"  {d.ref} ({d.rel})", soft_wrap=True)


@app.command("forget")
def forget_cmd(
    person: str = typer.Argument(..., help="The person, as person:HANDLE (or a bare handle)."),
    reason: str = REASON_OPTION,
    yes: bool = YES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Erase a person's personal data everywhere, history included, in one transaction:
    they become former-member-N, their name and email are removed, and every mention of
    their handle, name or email becomes the pseudonym. Their runs, notes, deployments,
    memberships and ownerships stay, attributed to the pseudonym."""
    from kb.domain import Label, parse_ref
    from kb.errors import InvalidInput

    ref = parse_ref(person, default="person", field="person")
    if ref.label is not Label.PERSON:
        raise InvalidInput("person", "kb forget erases a person; use kb delete for other "
                           "entities", person)
    _confirm(f"Erase the personal data of {ref}? This cannot be undone.", yes)
    with client() as c:
        result = c.forget(ref.key, reason=reason)
    data = {"pseudonym": f"person:{result.pseudonym}", "erased": list(result.erased),
            "rewritten": dict(result.rewritten),
            "mentions": [str(ref) for ref in result.mentions]}

    def render(d: dict[str, Any]) -> None:
        console.print(Text("forgotten:", style="bold"), f"now {d['pseudonym']}; erased "
                      f"{', '.join(d['erased'])}", soft_wrap=True)
        counts = ", ".join(f"{n} {what}" for what, n in d["rewritten"].items())
        console.print(f"rewritten: {counts}", soft_wrap=True)
        if d["mentions"]:
            console.print("free text that may still mention them (prose is not rewritten; "
                          "review it, then edit or kb delete it):", soft_wrap=True)
            for ref in d["mentions"]:
                console.print(f"  {ref}", soft_wrap=True)

    emit(data, as_json, render)
