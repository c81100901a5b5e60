"""``kb diff``: what changed about a model between two instants — versions, deployments,
owners, aliases — and the data upstream of production at each end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from kb.errors import InvalidInput

from .app import JSON_OPTION, app, console, emit, open_graph
from .listing import listing

WHEN_HELP = "2026-03-01, 2026-03-01T09:30 (UTC unless it says), 7d, 12h ago, or now."


def _person(handle: str | None) -> str | None:
    return f"person:{handle}" if handle else None


def _version(model: str, version: str | None) -> str | None:
    return f"model:{model}@{version}" if version is not None else None


def _data(keys: Any) -> list[str]:
    return [f"dataset:{k}" for k in keys]


def diff_json(d: Any) -> dict[str, Any]:
    """The diff with every entity it names as a ref."""
    m = d.model

    def deployments(items: Any) -> list[dict[str, Any]]:
        return [{"ref": f"deployment:{x.id}", "environment": x.environment,
                 "model_version": _version(m, x.version), "at": x.at, "by": _person(x.by)}
                for x in items]

    def owners(items: Any) -> list[dict[str, Any]]:
        return [{"ref": f"{x.kind.lower()}:{x.key}", "role": x.role, "at": x.at,
                 "by": _person(x.by)} for x in items]

    return {
        "model": f"model:{m}", "from": d.start, "to": d.end,
        "versions_added": [{"ref": _version(m, v.version), "at": v.at,
                            "run": f"run:{v.run_id}" if v.run_id else None,
                            "trained_by": _person(v.trained_by)} for v in d.versions_added],
        "deployments_started": deployments(d.deployments_started),
        "deployments_retired": deployments(d.deployments_retired),
        "owners_added": owners(d.owners_added), "owners_removed": owners(d.owners_removed),
        "aliases_moved": [{"alias": a.alias, "from": _version(m, a.from_version),
                           "to": _version(m, a.to_version), "at": a.at, "by": _person(a.by)}
                          for a in d.aliases_moved],
        "production": {"from": [_version(m, v) for v in d.production_before],
                       "to": [_version(m, v) for v in d.production_after]},
        "data": {"from": _data(d.data_before), "to": _data(d.data_after),
                 "added": _data(d.data_added), "removed": _data(d.data_removed)},
    }


def _at(when: datetime | None) -> str:
    """A UTC instant to the minute, ISO 8601, short enough for a table at 80 columns."""
    return "" if when is None else when.strftime("%Y-%m-%dT%H:%MZ")


def _short(ref: str | None) -> str:
    return (ref or "").partition(":")[2]


def render_diff(data: dict[str, Any]) -> None:
    console.print(f"{data['model']} from {_at(data['from'])} to {_at(data['to'])}",
                  style="bold", soft_wrap=True)
    listing("versions added", ["version", "at", "run", "trained by"],
            [(v["ref"], _at(v["at"]), v["run"], _short(v["trained_by"]))
             for v in data["versions_added"]])
    for title, key in (("deployments started", "deployments_started"),
                       ("deployments retired", "deployments_retired")):
        listing(title, ["deployment", "environment", "version", "at", "by"],
                [(d["ref"], d["environment"], d["model_version"], _at(d["at"]),
                  _short(d["by"])) for d in data[key]])
    for title, key in (("owners added", "owners_added"), ("owners removed", "owners_removed")):
        listing(title, ["owner", "role", "at", "by"],
                [(o["ref"], o["role"], _at(o["at"]), _short(o["by"])) for o in data[key]])
    listing("aliases moved", ["alias", "from", "to", "at", "by"],
            [(a["alias"], a["from"] or "(new)", a["to"] or "(removed)", _at(a["at"]),
              _short(a["by"])) for a in data["aliases_moved"]])
    prod, dat = data["production"], data["data"]
    listing("in production", ["at", "model versions"],
            [(_at(data["from"]), ", ".join(prod["from"]) or "none"),
             (_at(data["to"]), ", ".join(prod["to"]) or "none")])
    listing("data upstream of production", ["change", "dataset version"],
            [("added", k) for k in dat["added"]] + [("removed", k) for k in dat["removed"]])


@app.command("diff")
def diff_cmd(
    entity: str = typer.Argument(..., help="The model: model:NAME (or NAME)."),
    start: str = typer.Option("30d", "--from", help=f"From when (default 30d ago): {WHEN_HELP}"),
    end: str = typer.Option("now", "--to", help=f"To when (default now): {WHEN_HELP}"),
    as_json: bool = JSON_OPTION,
) -> None:
    """What changed about a model between two instants: versions added (trainer, run),
    deployments started and retired, owners added and removed, aliases moved, and the
    dataset versions upstream of production at --from against --to."""
    from kb.domain.when import parse_instant
    from kb.graph.diff import diff

    kind, _, name = entity.rpartition(":")
    if kind not in ("", "model") or not name.strip() or "@" in name:
        raise InvalidInput("entity", "kb diff compares a model: model:NAME", entity)
    since, until = parse_instant(start, "--from"), parse_instant(end, "--to")
    if since > until:
        raise InvalidInput("--from", f"must not be after --to ({until.isoformat()})", start)
    graph = open_graph()
    try:
        answer = diff(graph, name.strip(), since, until)
    finally:
        graph.close()
    emit(diff_json(answer), as_json, render_diff)
