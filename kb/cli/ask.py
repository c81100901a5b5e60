"""kb CLI: the questions — who-trained, lineage, impact, prod, show.

Each command reads through kb.graph only, prints a table for people and JSON with
``--json``; heavy imports happen inside the commands so ``kb --help`` stays quick.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from kb.errors import InvalidInput

from .app import JSON_OPTION, app, console, emit, open_graph, table
from .listing import listing

#: The entity naming scheme, repeated in the help of every command that takes an entity.
ENTITY_HELP = (
    "Entities are named kind:key — person:alice, team:vision, dataset:customers, "
    "dataset:customers@2024-05, model:churn, model:churn@7, experiment:churn, run:<id>, "
    "deployment:<id>, note:<id>, code:<repo>@<commit>, env:<digest>."
)


#: ``--as-of`` of every question that can be asked of the past.
AS_OF_OPTION = typer.Option(None, "--as-of", help="Answer as things stood then: 2026-03-01, "
                            "2026-03-01T09:30 (UTC unless it says), or 7d, 12h, 2w ago.")


def as_of_instant(text: str | None) -> Any:
    """The instant ``--as-of`` names, or None (now)."""
    from kb.domain.when import optional_instant

    return optional_instant(text, "--as-of")


def as_of_title(title: str, when: Any) -> str:
    """A table title, saying the instant when there is one."""
    return title if when is None else f"{title} as of {when.isoformat()}"


def plain_data(value: Any) -> Any:
    """Answer records as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    return value


def named(kind: str, key: str | None) -> str | None:
    """``kind:key``, or None when there is no key."""
    return f"{kind}:{key}" if key else None


def training_json(fact: Any) -> dict[str, Any]:
    """A who-trained fact with every entity it names as a ref."""
    data = plain_data(fact)
    data.pop("run_id")
    data.pop("environment_digest")
    return {**data, "ref": f"model:{fact.model}@{fact.version}",
            "model": f"model:{fact.model}", "person": named("person", fact.person),
            "run": named("run", fact.run_id),
            "experiment": named("experiment", fact.experiment),
            "environment": named("env", fact.environment_digest),
            "inputs": [{"ref": f"dataset:{i.dataset}@{i.version}", "digest": i.digest,
                        "uri": i.uri, "role": i.role} for i in fact.inputs]}


def deployment_json(fact: Any) -> dict[str, Any]:
    """A deployment fact with every entity it names as a ref."""
    data = plain_data(fact)
    data.pop("run_id")
    return {**data, "ref": f"deployment:{fact.id}", "model": f"model:{fact.model}",
            "owners": [{"ref": f"{o.kind.lower()}:{o.key}", "role": o.role,
                        "active": o.active is not False} for o in fact.owners],
            "model_version": f"model:{fact.model}@{fact.version}",
            "deployed_by": named("person", fact.deployed_by),
            "trained_by": named("person", fact.trained_by), "run": named("run", fact.run_id)}


def owners_text(owners: Any) -> str:
    """``bob, team:ml``, a departed person marked, and no active owner said loudly."""
    names = [(o.key if o.kind == "Person" else f"{o.kind.lower()}:{o.key}")
             + (" (left)" if o.active is False else "") for o in owners]
    if not any(o.active is not False for o in owners):
        names.append("NO ACTIVE OWNER")
    return ", ".join(names)


def _person(handle: str | None, active: bool | None) -> str:
    if handle is None:
        return ""
    return f"{handle} (left)" if active is False else handle


_DIRS = {"UPSTREAM": ("UPSTREAM",), "DOWNSTREAM": ("DOWNSTREAM",),
         "BOTH": ("UPSTREAM", "DOWNSTREAM")}


def _kv(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items()))


@app.command("who-trained")
def who_trained_cmd(
    model: str = typer.Argument(..., help="Model name, e.g. churn (or churn@7)."),
    version: str = typer.Option(None, "--version", "-v", help="Only this version."),
    as_of: str = AS_OF_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Who trained each version of MODEL, on which data, with which code and parameters."""
    from kb.domain import split_versioned
    from kb.graph import who_trained

    if model.startswith("model:"):
        model = model.removeprefix("model:")
    if version is None and "@" in model:
        model, version = split_versioned(model)
    when = as_of_instant(as_of)
    graph = open_graph()
    try:
        facts = who_trained(graph, model, version, when)
    finally:
        graph.close()

    def render(_: Any) -> None:
        table(as_of_title(f"who trained {model}", when),
              ["version", "person", "run", "status", "started", "inputs", "repository",
               "commit", "command", "seed", "environment", "params", "metrics"],
              [(f"model:{f.model}@{f.version}"
                + (f" [{', '.join(f.aliases)}]" if f.aliases else ""),
                _person(f.person, f.person_active), named("run", f.run_id),
                (f.run_status or "").lower(), f.started_at,
                [f"dataset:{i.dataset}@{i.version}"
                 + (f" ({', '.join(x for x in (i.role, i.digest) if x)})"
                    if i.role or i.digest else "") for i in f.inputs],
                f.repo, (f.commit or "") + (" (dirty)" if f.dirty else ""), f.command, f.seed,
                named("env", f.environment_digest), _kv(f.params), _kv(f.metrics))
               for f in facts])

    emit([training_json(f) for f in facts], as_json, render)


@app.command("lineage", epilog=ENTITY_HELP)
def lineage_cmd(
    entity: str = typer.Argument(..., help="What to start from; a bare name is a model."),
    up: bool = typer.Option(False, "--up", help="Only what it came from."),
    down: bool = typer.Option(False, "--down", help="Only what came of it."),
    depth: int = typer.Option(3, "--depth", "-d", help="Relationships to follow (1-10)."),
    limit: int = typer.Option(200, "--limit", help="Neighbours taken per node and hop."),
    breadth: int = typer.Option(10, "--breadth", "-b", help="Children shown per node in "
                                "the tree (--json has them all)."),
    as_of: str = typer.Option(None, "--as-of", help="As the graph stood then: 2026-03-01, "
                              "2026-03-01T09:30 (UTC unless it says), or 7d, 12h ago."),
    neighbours: bool = typer.Option(False, "--neighbours", help="List ENTITY's own "
                                    "neighbours (--up or --down), a page at a time, in the "
                                    "order lineage shows them."),
    after: str = typer.Option(None, "--after", help="With --neighbours: continue after this "
                              "cursor (lineage prints it for every node it cut)."),
    first: int = typer.Option(100, "--first", "-n", help="With --neighbours: how many "
                              "(100 at most)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The lineage of ENTITY as a tree of refs you can paste into ``kb show``: what it came
    from (upstream), what came of it (downstream), and the people who trained or deployed.
    A node with more neighbours than --limit is cut, and the command that lists the rest
    is printed."""
    from kb.domain import parse_ref
    from kb.domain.when import optional_instant
    from kb.graph import lineage

    from .trees import deployment_status, lineage_json, neighbours_command, print_lineage

    if up and down:
        raise InvalidInput("--up/--down", "give one of them, or neither for both")
    if breadth < 1:
        raise InvalidInput("--breadth", "must be at least 1", breadth)
    direction = "UPSTREAM" if up else "DOWNSTREAM" if down else "BOTH"
    ref = parse_ref(entity, default="model")
    when = optional_instant(as_of, "--as-of")
    if neighbours or after is not None:
        _neighbours(ref, direction, first, after, when, as_json)
        return
    graph = open_graph()
    try:
        answer = lineage(graph, ref, direction=direction, depth=depth, per_hop_limit=limit,
                         as_of=when)
        status = ({} if as_json else deployment_status(graph, answer) if when is None
                  else _status_then(graph, answer, when))
    finally:
        graph.close()

    def render(_: Any) -> None:
        then = "" if when is None else f" as of {when.isoformat()}"
        console.print(f"lineage of {ref} (depth {depth}){then}", style="bold",
                      soft_wrap=True)
        cut = print_lineage(answer, _DIRS[direction], breadth, status)
        if cut:
            console.print(f"{cut} node(s) have more than {breadth} shown; raise --breadth "
                          "to see them, or use --json for all", style="yellow")
        if answer.truncated:
            console.print(f"some nodes had more than {limit} neighbours; "
                          "raise --limit, or list the rest of each:", style="yellow")
        refs = lineage_json(answer)["truncated_at"]
        for cut in refs:
            way = cut["direction"].lower()
            console.print(f"{cut['ref']}: {cut['shown']} {way} neighbours shown; the rest:",
                          style="yellow", soft_wrap=True)
            console.print("  " + neighbours_command(cut["ref"], cut["direction"],
                                                    cut["end_cursor"], when), soft_wrap=True)

    data = lineage_json(answer)
    if when is not None:
        data = {**data, "as_of": when}
    emit(data, as_json, render)


def _neighbours(ref: Any, direction: str, first: int, after: str | None, when: Any,
                as_json: bool) -> None:
    """``kb lineage REF --neighbours``: one page of REF's neighbours along one direction,
    and the command that continues it."""
    from kb.domain.keys import LABEL_KIND
    from kb.graph.lineage import neighbours

    from .trees import neighbours_command, node_ref

    if direction == "BOTH":
        raise InvalidInput("--neighbours", "give --up or --down: one direction at a time")
    graph = open_graph()
    try:
        page = neighbours(graph, ref, direction, first=first, after=after, as_of=when)
    finally:
        graph.close()
    start = f"{LABEL_KIND[ref.label]}:{ref.key}"
    more = (neighbours_command(start, direction, page.end_cursor, when)
            if page.has_next and page.end_cursor else None)
    data = {"ref": start, "direction": direction,
            "neighbours": [{"ref": node_ref(n.node), "name": n.node.name, "link": n.edge.type}
                           for n in page.items],
            "end_cursor": page.end_cursor, "has_next": page.has_next}

    def render(_: Any) -> None:
        listing(f"{direction.lower()} neighbours of {start}", ["ref", "link"],
                [(n["ref"], n["link"]) for n in data["neighbours"]])
        if more:
            console.print("more follow:", style="yellow")
            console.print("  " + more, soft_wrap=True)

    emit(data, as_json, render)


def _status_then(graph: Any, answer: Any, when: Any) -> dict[str, str]:
    """``deployment:<id>`` → whether it served at ``when``, for a tree drawn as of then."""
    from kb.domain import Label
    from kb.graph.lineage import live_at

    found = live_at(graph, [n.key for n in answer.nodes
                            if n.label == Label.DEPLOYMENT.value], when)
    return {f"deployment:{k}": f"live in {env} then" if is_live else "not live then"
            for k, (env, is_live) in found.items()}


@app.command("prod")
def prod_cmd(
    environment: str = typer.Option(None, "--environment", "--env", "-e",
                                    help="Only this environment (e.g. production)."),
    model: str = typer.Option(None, "--model", "-m", help="Only this model."),
    all_: bool = typer.Option(False, "--all", help="Retired deployments too."),
    as_of: str = AS_OF_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """What runs where: active deployments, since when, deployed and trained by whom."""
    from kb.graph import deployments
    from kb.graph.production import environments

    when = as_of_instant(as_of)
    graph = open_graph()
    try:
        facts = deployments(graph, environment=environment, model=model,
                            status=None if all_ else "ACTIVE", as_of=when)
        known = environments(graph) if environment and not facts else []
    finally:
        graph.close()

    def render(_: Any) -> None:
        if environment and not facts and environment not in known:
            console.print(f"no deployment names the environment {environment!r}; the "
                          f"environments are: {', '.join(known) or 'none yet'}",
                          style="yellow")
            return
        envs = sorted({f.environment for f in facts},
                      key=lambda e: (e != "production", e))
        for env in envs:
            rows = [f for f in facts if f.environment == env]
            columns = ["model version", "since", "deployed by", "trained by", "owners"]
            listing(as_of_title(env, when), columns + (["status"] if all_ else []),
                    [(f"model:{f.model}@{f.version}", f.deployed_at,
                      _person(f.deployed_by, f.deployed_by_active),
                      _person(f.trained_by, f.trained_by_active), owners_text(f.owners),
                      *([f.status.lower()] if all_ else [])) for f in rows])
        if facts:
            console.print("deployment ids and endpoints: --json, or kb show "
                          "model:NAME@VERSION", style="dim", soft_wrap=True)
        gone = sorted({p for f in facts for p, a in ((f.deployed_by, f.deployed_by_active),
                                                      (f.trained_by, f.trained_by_active))
                       if p and a is False})
        if gone:
            console.print(f"people who left stand behind these: {', '.join(gone)}",
                          style="yellow")

    emit([deployment_json(f) for f in facts], as_json, render)
