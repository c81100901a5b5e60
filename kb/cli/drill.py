"""kb CLI: the handover drill — handover, orphans, search, compare, and the lists runs,
models, datasets and people. Every id is printed whole, as a ref ``kind:key`` that
``kb show`` accepts."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import Any

import typer

from kb.errors import InvalidInput

from .app import JSON_OPTION, app, console, emit, err_console, open_graph
from .ask import AS_OF_OPTION, ENTITY_HELP, as_of_instant, as_of_title, plain_data
from .listing import listing

FIRST_HELP = "How many to list at most."
MAX_FIRST = 500
KIND_OPTION = typer.Option(None, "--kind", "-k", help="Only this kind (repeatable): person, "
                           "team, dataset, model, experiment, note, run.")
RUNS_ARGUMENT = typer.Argument(..., help="Two or more run ids.")


def ref(label: Any, key: str) -> str:
    """``kind:key`` for a label (or its name) and a key, as ``kb show`` reads it."""
    from kb.domain import Label
    from kb.domain.keys import LABEL_KIND

    return f"{LABEL_KIND[Label(label)]}:{key}"


def _bare(value: str | None, kind: str) -> str | None:
    """A name given bare or as its ref (``person:alice``)."""
    return value.removeprefix(f"{kind}:") if value is not None else None


def _read(work: Any, *args: Any, **kw: Any) -> Any:
    graph = open_graph()
    try:
        return work(graph, *args, **kw)
    finally:
        graph.close()


@app.command("handover")
def handover_cmd(person: str = typer.Argument(..., help="The person's handle, e.g. alice."),
                 as_of: str = AS_OF_OPTION, as_json: bool = JSON_OPTION) -> None:
    """What PERSON holds (owns, trained, deployed), and what nobody else could take over."""
    from kb.graph.ownership import handover

    handle = _bare(person, "person")
    when = as_of_instant(as_of)
    items = _read(handover, handle, when)
    data = [{**plain_data(i), "ref": ref(i.kind, i.key), "at_risk": i.at_risk,
             "other_owners": list(i.other_owner_refs),
             "other_trainers": [f"person:{h}" for h in i.other_trainers]} for i in items]
    for d in data:
        del d["other_owner_refs"]

    def render(_: Any) -> None:
        listing(as_of_title(f"handover of person:{handle}", when),
                ["asset", "holds as", "roles", "other owners", "other trainers", "risk"],
                [(d["ref"], [r.lower() for r in d["relations"]], d["roles"],
                  d["other_owners"], d["other_trainers"], "at-risk" if d["at_risk"] else "")
                 for d in data])
        risky = sum(d["at_risk"] for d in data)
        if risky:
            console.print(f"{risky} held by nobody else active: hand them over first",
                          style="yellow")

    emit(data, as_json, render)


@app.command("orphans")
def orphans_cmd(as_of: str = AS_OF_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Models, datasets, experiments and active deployments with no active owner: those
    whose owner left, then those never owned, each led by what feeds production."""
    from kb.graph.ownership import orphans

    when = as_of_instant(as_of)
    items = _read(orphans, when)
    data = [{"ref": ref(i.kind, i.key), "kind": i.kind, "key": i.key, "reason": i.reason,
             "feeds_production": i.feeds_production,
             "former_owners": list(i.former_owner_refs), "last_owned_at": i.last_owned_at}
            for i in items]

    def render(_: Any) -> None:
        left = [d for d in data if d["reason"] == "OWNER_LEFT"]
        never = [d for d in data if d["reason"] != "OWNER_LEFT"]
        listing(as_of_title(f"owner left ({len(left)})", when),
                ["asset", "production", "former owners", "last owned"],
                [(d["ref"], "yes" if d["feeds_production"] else "",
                  d["former_owners"], d["last_owned_at"]) for d in left])
        listing(f"no owner on record ({len(never)})", ["asset", "production"],
                [(d["ref"], "yes" if d["feeds_production"] else "")
                 for d in never])
        fed = sum(d["feeds_production"] for d in data)
        if fed:
            console.print(f"{fed} of them reach an active production deployment: give "
                          "them an owner first (kb own ASSET --owner HANDLE)", style="yellow")

    emit(data, as_json, render)


@app.command("owners", epilog=ENTITY_HELP)
def owners_cmd(asset: str = typer.Argument(..., help="A model, dataset, experiment or "
                                           "deployment, e.g. model:churn."),
               as_of: str = AS_OF_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Who owns ASSET (with --as-of: who owned it then), each marked if they had left."""
    from kb.domain import parse_ref
    from kb.graph.ownership import owners_of

    target = parse_ref(asset, default="model", field="ASSET")
    when = as_of_instant(as_of)
    found = _read(owners_of, target.label, [target.key], when)
    if target.key not in found:
        from kb.errors import NotFound

        raise NotFound(target.label.value.lower(), target.key)
    data = [{"ref": f"{o.kind}:{o.key}", "active": o.active} for o in found[target.key]]

    def render(_: Any) -> None:
        listing(as_of_title(f"owners of {target}", when), ["owner", "active"],
                [(d["ref"], "yes" if d["active"] else "left") for d in data])

    emit(data, as_json, render)


@app.command("search")
def search_cmd(text: str = typer.Argument(..., help="Words to look for."),
               kind: list[str] = KIND_OPTION,
               first: int = typer.Option(20, "--first", "-n", help=FIRST_HELP),
               as_json: bool = JSON_OPTION) -> None:
    """Names, descriptions and notes matching TEXT, best first."""
    from kb.domain.keys import KIND_LABEL
    from kb.graph.search import SEARCHABLE, search

    types = None
    if kind:
        kinds = {k: label for k, label in KIND_LABEL.items() if label in SEARCHABLE}
        unknown = [k for k in kind if k not in kinds]
        if unknown:
            raise InvalidInput("--kind", "must be one of " + ", ".join(sorted(kinds)),
                               unknown[0])
        types = [kinds[k] for k in kind]
    hits = _read(search, text, types=types, limit=first)
    data = [{"ref": ref(h.label, h.key), "kind": h.label.value, "key": h.key,
             "score": h.score, "name": h.props.get("name"),
             "description": h.props.get("description") or h.props.get("text")} for h in hits]
    emit(data, as_json, lambda _: listing(
        f"search: {text}", ["match", "name", "about"],
        [(d["ref"], d["name"] if d["name"] != d["key"] else "", d["description"])
         for d in data]))


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("--since", "must be a date or time like 2026-01-31 or "
                           "2026-01-31T09:00", text) from None
    # A stamp without a zone is taken as UTC, as kb stores every start time.
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _status(text: str | None) -> str | None:
    from kb.domain import RunStatus

    if text is None:
        return None
    try:
        return RunStatus(text.upper()).value
    except ValueError:
        raise InvalidInput("--status", "must be one of "
                           + ", ".join(s.value.lower() for s in RunStatus), text) from None


@app.command("runs")
def runs_cmd(experiment: str = typer.Option(None, "--experiment", "-e",
                                            help="Only this experiment."),
             person: str = typer.Option(None, "--person", "-p",
                                        help="Only runs this person trained."),
             status: str = typer.Option(None, "--status", "-s",
                                        help="running, completed, failed or aborted."),
             model: str = typer.Option(None, "--model", "-m",
                                       help="Only runs that produced a version of this model."),
             dataset: str = typer.Option(None, "--dataset", "-d",
                                         help="Only runs that used a version of this dataset."),
             since: str = typer.Option(None, "--since", help="Started at or after (ISO date)."),
             first: int = typer.Option(50, "--first", "--limit", "-n", help=FIRST_HELP),
             after: str = typer.Option(None, "--after", help="Continue after this cursor "
                                       "(printed when more runs follow)."),
             as_json: bool = JSON_OPTION) -> None:
    """Runs, newest first, matching every filter given, read a page at a time from the
    most selective filter; when more follow, the command that continues is printed."""
    from kb.graph.runs import runs_page

    filters = {"experiment": _bare(experiment, "experiment"),
               "person": _bare(person, "person"), "status": _status(status),
               "model": _bare(model, "model"), "dataset": _bare(dataset, "dataset"),
               "since": _since(since)}
    limit = _first(first)
    sheets: list[Any] = []
    cursor, more = after, False
    while len(sheets) < limit:
        page = _read(runs_page, **filters, first=min(100, limit - len(sheets)), after=cursor)
        sheets.extend(page.items)
        cursor, more = page.end_cursor, page.has_next
        if not more:
            break
    data = [run_json(s) for s in sheets]
    given = [arg for name, value in (
        ("experiment", experiment), ("person", person), ("status", status), ("model", model),
        ("dataset", dataset), ("since", since)) if value is not None
             for arg in (f"--{name}", value)]
    resume = (shlex.join(["kb", "runs", *given, "--first", str(limit), "--after", cursor])
              if more and cursor else None)

    def render(_: Any) -> None:
        listing("runs", ["run", "status", "started", "person", "experiment", "produced"],
                [(f"run:{s.id}", (s.status or "").lower(), s.started_at, s.person,
                  s.experiment, [f"model:{k}" for k in s.produced]) for s in sheets])
        if resume:
            console.print("more follow:", style="yellow")
            console.print("  " + resume, soft_wrap=True)

    emit(data, as_json, render)
    if as_json and resume:
        err_console.print(f"more follow: {resume}", soft_wrap=True)


def run_json(sheet: Any) -> dict[str, Any]:
    """A run sheet with every entity it names as a ref."""
    def named(kind: str, key: str | None) -> str | None:
        return f"{kind}:{key}" if key else None

    return {**plain_data(sheet), "ref": f"run:{sheet.id}",
            "person": named("person", sheet.person),
            "experiment": named("experiment", sheet.experiment),
            "produced": [f"model:{k}" for k in sheet.produced],
            "inputs": [f"dataset:{k}" for k in sheet.inputs],
            "environment": named("env", sheet.environment)}


def _first(first: int) -> int:
    if not 1 <= first <= MAX_FIRST:
        raise InvalidInput("--first", f"must be between 1 and {MAX_FIRST}", first)
    return first


def _root_page(kind: str, first: int, **filters: Any) -> tuple[int, list[dict[str, Any]]]:
    from kb.graph.nodes import root_count, root_page

    _first(first)

    def read(tx: Any) -> tuple[int, list[dict[str, Any]]]:
        return root_count(tx, kind, filters), list(root_page(tx, kind, filters, first).items)

    return _read(lambda graph: graph.read(read))


def _more(total: int, shown: int) -> None:
    if total > shown:
        console.print(f"{shown} of {total} shown; raise --first to see more", style="yellow")


@app.command("models")
def models_cmd(owner: str = typer.Option(None, "--owner", help="Only models this person owns."),
               team: str = typer.Option(None, "--team", help="Only models this team owns."),
               first: int = typer.Option(50, "--first", "-n", help=FIRST_HELP),
               as_json: bool = JSON_OPTION) -> None:
    """Models, by name."""
    total, rows = _root_page("models", first, owner=_bare(owner, "person"),
                             team=_bare(team, "team"))

    def render(_: Any) -> None:
        listing(f"models ({total})", ["model", "task", "description"],
                [(f"model:{r['name']}", r.get("task"), r.get("description")) for r in rows])
        _more(total, len(rows))

    emit({"total": total, "items": rows}, as_json, render)


@app.command("datasets")
def datasets_cmd(owner: str = typer.Option(None, "--owner", help="Only datasets this person owns."),
                 team: str = typer.Option(None, "--team", help="Only datasets this team owns."),
                 first: int = typer.Option(50, "--first", "-n", help=FIRST_HELP),
                 as_json: bool = JSON_OPTION) -> None:
    """Datasets, by name."""
    total, rows = _root_page("datasets", first, owner=_bare(owner, "person"),
                             team=_bare(team, "team"))

    def render(_: Any) -> None:
        listing(f"datasets ({total})", ["dataset", "description"],
                [(f"dataset:{r['name']}", r.get("description")) for r in rows])
        _more(total, len(rows))

    emit({"total": total, "items": rows}, as_json, render)


@app.command("people")
def people_cmd(team: str = typer.Option(None, "--team", help="Only members of this team."),
               active: bool = typer.Option(None, "--active/--left",
                                           help="Only people still here, or only those who left."),
               first: int = typer.Option(50, "--first", "-n", help=FIRST_HELP),
               as_json: bool = JSON_OPTION) -> None:
    """People, by handle."""
    total, rows = _root_page("people", first, team=_bare(team, "team"), active=active)

    def render(_: Any) -> None:
        listing(f"people ({total})", ["person", "name", "email", "left"],
                [(f"person:{r['handle']}", r.get("name"), r.get("email"), r.get("leftAt"))
                 for r in rows])
        _more(total, len(rows))

    emit({"total": total, "items": rows}, as_json, render)


def _comparison_rows(sheets: list[Any]) -> list[tuple[str, list[str], bool]]:
    """(field, one value per run, whether they differ) for every field any run has."""
    from .listing import cells

    fields: list[tuple[str, list[Any]]] = [
        ("status", [(s.status or "").lower() for s in sheets]),
        ("person", [s.person for s in sheets]),
        ("experiment", [s.experiment for s in sheets]),
        ("started", [s.started_at for s in sheets]),
        ("data", [[f"dataset:{k}" for k in s.inputs] for s in sheets]),
        ("repo", [s.repo for s in sheets]),
        ("commit", [s.commit for s in sheets]),
        ("dirty tree", [None if s.dirty is None else ("yes" if s.dirty else "no")
                        for s in sheets]),
        ("environment", [f"env:{s.environment}" if s.environment else None for s in sheets]),
        ("produced", [[f"model:{k}" for k in s.produced] for s in sheets]),
    ]
    for group, attr in (("param", "params"), ("metric", "metrics")):
        keys = sorted({k for s in sheets for k in getattr(s, attr)})
        fields += [(f"{group} {k}", [getattr(s, attr).get(k) for s in sheets]) for k in keys]
    rows = []
    for name, values in fields:
        texts = cells(values)
        if any(texts):
            rows.append((name, texts, len(set(texts)) > 1))
    return rows


def _letter(n: int) -> str:
    return chr(ord("A") + n) if n < 26 else f"R{n + 1}"


@app.command("compare")
def compare_cmd(runs: list[str] = RUNS_ARGUMENT,
                as_json: bool = JSON_OPTION) -> None:
    """RUNs side by side: params, metrics, data, commit, environment, dirty tree.

    What is the same in every run comes first, then what differs, run by letter.
    """
    from kb.graph.runs import run_sheets

    ids = [r.removeprefix("run:") for r in runs]
    if len(ids) < 2:
        raise InvalidInput("runs", "give at least two runs to compare", " ".join(runs))
    if len(set(ids)) != len(ids):
        raise InvalidInput("runs", "name each run once", " ".join(runs))
    sheets = _read(run_sheets, ids)
    rows = _comparison_rows(sheets)
    data = {"runs": [run_json(s) for s in sheets],
            "differ": [name for name, _, differs in rows if differs]}

    def render(_: Any) -> None:
        # Runs go by letter in the table, so that it stays side by side at 80 columns;
        # the legend gives each whole id.
        letters = [_letter(n) for n in range(len(ids))]
        for letter, run_id in zip(letters, ids, strict=True):
            console.print(f"{letter} = run:{run_id}", soft_wrap=True)
        same = [(name, values[0]) for name, values, differs in rows if not differs]
        listing("the same in every run", ["field", "value"], same)
        listing("what differs", ["field", *letters],
                [(name, *values) for name, values, differs in rows if differs])

    emit(data, as_json, render)
