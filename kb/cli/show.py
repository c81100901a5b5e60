"""``kb show``: one entity, grouped — its properties, its owners, for a model its versions,
for an experiment or a person its runs, for a run its params and metrics, then its other
links as refs."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from .app import JSON_OPTION, app, console, emit, open_graph
from .ask import ENTITY_HELP
from .listing import listing

#: Runs listed under an experiment or a person; the rest are counted.
RUNS_SHOWN = 15
#: Metrics shown per row: beyond these a row says how many more (``kb compare`` has all).
METRICS_SHOWN = 3
_HIDDEN = ("links", "ref", "label", "params", "metrics")


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def metrics_text(metrics: dict[str, Any], keys: list[str] | None = None) -> str:
    """``auc 0.8894; f1 0.592 (+1)``: the name and value as two words, so that a narrow
    column wraps between them rather than sending the row to a card."""
    order = [k for k in (keys or []) if k in metrics] + sorted(set(metrics) - set(keys or []))
    shown = [f"{k} {_number(metrics[k])}" for k in order[:METRICS_SHOWN]]
    more = len(metrics) - len(shown)
    return "; ".join(shown) + (f" (+{more})" if more > 0 else "")


def _main_metrics(rows: list[dict[str, Any]]) -> list[str]:
    """The metrics most rows have, so the column compares like with like."""
    counts: dict[str, int] = {}
    for metrics in rows:
        for k in metrics:
            counts[k] = counts.get(k, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))


def _owners(owners: tuple[Any, ...] | None) -> str:
    if owners is None:
        return ""
    text = ", ".join(f"{o.kind}:{o.key}" + ("" if o.active else " (left)") for o in owners)
    return text if any(o.active for o in owners) else (text + "; " if text else "") + \
        "NO ACTIVE OWNER"


def _gather(graph: Any, ref: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The sections beyond the entity's own properties, read from their own readers."""
    from kb.domain import Label
    from kb.graph import deployments, who_trained
    from kb.graph.ownership import OWNERS_OF, owners_of
    from kb.graph.runs import list_runs

    extra: dict[str, Any] = {}
    if ref.label in OWNERS_OF:
        extra["owners"] = owners_of(graph, ref.label, [ref.key]).get(ref.key, ())
    if ref.label is Label.MODEL:
        extra["versions"] = who_trained(graph, ref.key)
        extra["deployments"] = deployments(graph, model=ref.key)
    elif ref.label is Label.EXPERIMENT:
        extra["runs"] = list_runs(graph, experiment=ref.key, limit=RUNS_SHOWN)
    elif ref.label is Label.PERSON:
        extra["runs"] = list_runs(graph, person=ref.key, limit=RUNS_SHOWN)
    return extra


def _versions(data: dict[str, Any], extra: dict[str, Any]) -> None:
    facts = extra["versions"]
    where: dict[str, list[str]] = {}
    for d in extra["deployments"]:
        where.setdefault(d.version, []).append(d.environment)
    keys = _main_metrics([f.metrics for f in facts])
    listing(f"versions ({len(facts)})",
            ["version", "aliases", "status", "trained by", "metrics", "deployed"],
            [(f"model:{f.model}@{f.version}", list(f.aliases), (f.run_status or "").lower(),
              (f.person or "") + (" (left)" if f.person_active is False else ""),
              metrics_text(f.metrics, keys), sorted(where.get(f.version, [])))
             for f in facts])


def _runs(data: dict[str, Any], extra: dict[str, Any], total: int, by: str) -> None:
    sheets = extra["runs"]
    keys = _main_metrics([s.metrics for s in sheets])
    console.print(Text(f"runs ({total}), newest first", style="bold"))
    if by == "person":
        # A person's runs by experiment: what they were working on.
        groups: dict[str, list[Any]] = {}
        for s in sheets:
            groups.setdefault(s.experiment or "", []).append(s)
        for experiment, runs in groups.items():
            listing(f"experiment:{experiment}" if experiment else "no experiment",
                    ["run", "status", "started", "metrics"],
                    [(f"run:{s.id}", (s.status or "").lower(), s.started_at,
                      metrics_text(s.metrics, keys)) for s in runs])
    else:
        listing("", ["run", "status", "by", "metrics"],
                [(f"run:{s.id}", (s.status or "").lower(), s.person,
                  metrics_text(s.metrics, keys)) for s in sheets])
    if total > len(sheets):
        key = data["ref"].partition(":")[2]
        console.print(f"{len(sheets)} of {total} shown; all of them: "
                      f"kb runs --{by} {key} --first {total}", style="yellow", soft_wrap=True)


#: Link groups a section already shows, per label.
_SHOWN_LINKS = {"Model": {"<-OWNS", "<-VERSION_OF"}, "Experiment": {"<-OWNS", "<-PART_OF"},
                "Person": {"TRAINED->"}, "Dataset": {"<-OWNS"}, "Deployment": {"<-OWNS"}}


def render_show(data: dict[str, Any], extra: dict[str, Any]) -> None:
    from .ask import _kv

    props = {k: v for k, v in data.items() if k not in _HIDDEN}
    listing(data["ref"], ["property", "value"],
            [(k, _kv(v) if isinstance(v, dict) else v) for k, v in sorted(props.items())])
    for name in ("params", "metrics"):
        if isinstance(data.get(name), dict) and data[name]:
            listing(name, ["key", "value"], [(k, _number(v))
                                            for k, v in sorted(data[name].items())])
    if "owners" in extra:
        text = _owners(extra["owners"])
        style = "" if any(o.active for o in extra["owners"]) else "bold red"
        console.print(Text("owners: ", style="bold"), Text(text, style=style), sep="",
                      soft_wrap=True)
    if "versions" in extra:
        _versions(data, extra)
    if "runs" in extra:
        link = "<-PART_OF" if data["label"] == "Experiment" else "TRAINED->"
        total = data["links"].get(link, {}).get("count", len(extra["runs"]))
        _runs(data, extra, total, "experiment" if link == "<-PART_OF" else "person")
    shown = _SHOWN_LINKS.get(data["label"], set())
    rows = []
    for name, link in data["links"].items():
        if name in shown:
            continue
        more = link["count"] - len(link["refs"])
        rows.append((name, link["count"],
                     ", ".join(link["refs"]) + (f" (+{more} more)" if more > 0 else "")))
    listing("links", ["relationship", "count", "refs"], rows)


def _owner_json(owners: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{"ref": f"{o.kind}:{o.key}", "active": o.active} for o in owners]


@app.command("show", epilog=ENTITY_HELP)
def show_cmd(
    entity: str = typer.Argument(..., help="The entity; a bare name is a model."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Everything kb holds about ENTITY, grouped: properties, owners, versions or runs,
    and what it links to, every one a ref you can show in turn."""
    from kb.domain import parse_ref
    from kb.graph import show

    ref = parse_ref(entity, default="model")
    graph = open_graph()
    try:
        data = show(graph, ref)
        extra = {} if as_json else _gather(graph, ref, data)
    finally:
        graph.close()
    if as_json:
        emit(data, True, lambda _: None)
        return
    render_show(data, extra)
