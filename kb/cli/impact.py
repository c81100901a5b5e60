"""``kb impact``: what a bad dataset (version) reaches, summed up first — production, the
other deployments, the model versions — then the owners to tell, then every path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from rich.text import Text

from kb.errors import InvalidInput

from .app import JSON_OPTION, app, console, emit, open_graph
from .listing import listing

PRODUCTION = "production"


def _owners_json(owners: dict[str, Any], models: list[str]) -> list[dict[str, Any]]:
    return [{"model": f"model:{m}",
             "owners": [{"ref": f"{o.kind}:{o.key}", "active": o.active}
                        for o in owners.get(m, ())],
             "active_owner": any(o.active for o in owners.get(m, ()))} for m in models]


def _item_json(item: Any) -> dict[str, Any]:
    from .trees import node_ref

    return {"kind": item.kind,
            "ref": (f"deployment:{item.key}" if item.kind == "DEPLOYMENT"
                    else f"model:{item.key}"),
            "model_version": f"model:{item.model}@{item.version}",
            "environment": item.environment, "status": item.status,
            "deployed_at": item.deployed_at, "hops": item.hops,
            "path": [node_ref(n) for n in item.path]}


def impact_json(start: str, items: list[Any], owners: dict[str, Any],
                as_of: datetime | None = None) -> dict[str, Any]:
    """Deployments in production first, then the other deployments, then model versions;
    ``as_of`` when the answer is as the graph stood then."""
    data = [_item_json(i) for i in items]
    rank = {True: 0, False: 1}
    deployments = sorted((d for d in data if d["kind"] == "DEPLOYMENT"),
                         key=lambda d: (rank[d["environment"] == PRODUCTION], d["hops"],
                                        d["environment"] or "", d["model_version"]))
    versions = [d for d in data if d["kind"] != "DEPLOYMENT"]
    models = sorted({i.model for i in items})
    data = {"start": start, "items": deployments + versions,
            "owners": _owners_json(owners, models)}
    return data if as_of is None else {**data, "as_of": as_of}


def _owner_text(owner: dict[str, Any]) -> str:
    return owner["ref"] + ("" if owner["active"] else " (left)")


def render_impact(data: dict[str, Any]) -> None:
    items = data["items"]
    deps = [d for d in items if d["kind"] == "DEPLOYMENT"]
    prod = [d for d in deps if d["environment"] == PRODUCTION]
    versions = [d for d in items if d["kind"] != "DEPLOYMENT"]
    as_of = data.get("as_of")
    then = "" if as_of is None else f" as of {as_of.isoformat()}"
    console.print(f"impact of {data['start']}{then}: {len(prod)} production "
                  f"deployment(s), {len(deps) - len(prod)} other "
                  f"{'active' if as_of is None else 'live'} deployment(s), "
                  f"{len(versions)} model version(s)", style="bold", soft_wrap=True)
    listing("in production now" if as_of is None else "in production then",
            ["model version", "deployment", "hops"],
            [(d["model_version"], d["ref"], d["hops"]) for d in prod])
    listing("other active deployments" if as_of is None else "other deployments live then",
            ["model version", "environment", "deployment", "hops"],
            [(d["model_version"], d["environment"], d["ref"], d["hops"])
             for d in deps if d["environment"] != PRODUCTION])
    in_prod = {d["model_version"].rpartition("@")[0] for d in prod}
    # Production's owners first: they are the ones to tell today.
    owners = sorted(data["owners"], key=lambda o: (o["model"] not in in_prod, o["model"]))
    listing("owners to notify", ["model", "owners"],
            [(o["model"] + (" (in production)" if o["model"] in in_prod else ""),
              ", ".join(_owner_text(x) for x in o["owners"])
              + ("" if o["active_owner"] else
                 ("; " if o["owners"] else "") + "NO ACTIVE OWNER"))
             for o in owners])
    orphaned = [o["model"] for o in owners if not o["active_owner"]]
    if orphaned:
        console.print(Text(f"no active owner: {', '.join(orphaned)} (kb orphans; kb own "
                           "MODEL --owner HANDLE)", style="bold red"), soft_wrap=True)
    # The last data and run before each version; --json has every path whole.
    listing("model versions downstream", ["model version", "hops", "by run ← on data"],
            [(d["model_version"], d["hops"], " ← ".join(reversed(d["path"][-3:-1])))
             for d in versions])
    if any(len(d["path"]) > 3 for d in versions):
        console.print("every path whole, from the dataset version: --json", style="dim")


@app.command("impact")
def impact_cmd(
    dataset: str = typer.Argument(..., help="DATASET or DATASET@VERSION."),
    as_of: str = typer.Option(None, "--as-of", help="As the graph stood then: 2026-03-01, "
                              "2026-03-01T09:30 (UTC unless it says), or 7d, 12h ago; "
                              "the owners to tell are today's."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every model version and active deployment that depends on DATASET, at any depth:
    production first, with the owners to tell."""
    from kb.domain.when import optional_instant
    from kb.graph import impact
    from kb.graph.ownership import model_owners

    name = dataset.removeprefix("dataset:")
    version = None
    if "@" in name:
        name, _, version = name.rpartition("@")
        if not name or not version:
            raise InvalidInput("dataset", "expected DATASET or DATASET@VERSION", dataset)
    when = optional_instant(as_of, "--as-of")
    graph = open_graph()
    try:
        items = impact(graph, name, version, as_of=when)
        owners = model_owners(graph, [i.model for i in items])
    finally:
        graph.close()
    start = f"dataset:{name}" + (f"@{version}" if version else "")
    emit(impact_json(start, items, owners, when), as_json, render_impact)
