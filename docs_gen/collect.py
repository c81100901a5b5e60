"""Read the graph through ``kb.graph.pages`` and shape plain page models.

Everything a template sees is sorted and formatted here, so the same graph always gives
the same page models, and the same page models always render the same bytes.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from itertools import islice
from typing import Any

from kb.domain.answers import DeploymentFact, ImpactItem
from kb.domain.changes import ChangeFact
from kb.domain.keys import split_versioned
from kb.graph import Graph
from kb.graph import pages as reads
from kb.graph.ownership import Orphan
from kb.graph.properties import read_json

from . import changes, reproduce
from .pages import CHANGES, FOLDERS, HOME, INDEXES, PRODUCTION, Page, entity_path
from .slugs import mermaid_id, version_anchor

log = logging.getLogger(__name__)

#: Rows a page lists before it summarises the rest as a count.
VERSIONS_SHOWN = 25
LINEAGE_VERSIONS = 5
#: Model versions a datasheet's impact lists, nearest first, before it gives the count.
IMPACT_SHOWN = 50
DATASHEET_SECTIONS = ("motivation", "composition", "collection", "preprocessing", "uses",
                      "distribution", "maintenance")


def when(value: Any) -> str | None:
    """A timestamp as shown on pages: minutes, UTC, no locale."""
    if isinstance(value, datetime):
        return _minute(value, value.tzinfo)
    return None if value is None else str(value)


# Many stamps repeat (a batch stamps its writes alike). The zone is part of the key:
# equal instants in two offsets compare equal but show different wall-clock times.
@lru_cache(maxsize=65536)
def _minute(value: datetime, zone: tzinfo | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def version_order(version: str | None) -> tuple[int, int, str]:
    """Numeric versions in number order, then the rest by text."""
    text = version or ""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _latest(*values: Any) -> datetime | None:
    stamps = [v for v in values if isinstance(v, datetime)]
    return max(stamps) if stamps else None


def _map(value: Any) -> dict[str, Any]:
    """A decoded JSON property, or an empty map when it is absent (or not a map)."""
    return value if isinstance(value, dict) else {}


# Runs' params and metrics arrive as their JSON text (``kb.graph.pages``), so many runs
# logging the same map share one decoding here.
@lru_cache(maxsize=4096)
def _sorted_items(raw: str | None) -> list[tuple[str, Any]]:
    """A JSON-held map's items in key order (read only)."""
    return sorted(_map(read_json(raw)).items())


def _owners(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    current = [o for o in rows if o["until"] is None]
    past = [o for o in rows if o["until"] is not None]
    key = lambda o: (o["kind"], o["key"], o["role"] or "")  # noqa: E731
    return {
        "current": sorted(({**o, "since": when(o["since"])} for o in current), key=key),
        "past": sorted(({**o, "since": when(o["since"]), "until": when(o["until"])}
                        for o in past), key=key),
    }


def _notes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda n: (when(n["createdAt"]) or "", n["id"]))
    return [{**n, "createdAt": when(n["createdAt"])} for n in rows]


def _history(found: dict[str, Any] | None,
             subject: Callable[[ChangeFact], dict[str, Any]] = lambda c: {}
             ) -> list[dict[str, Any]]:
    """A page's History section: its newest changes (``reads.page_history``), each with
    when, who (``person`` when kb has their page), the path it came by and what it did;
    ``subject`` names a change of a version or deployment on its model's or dataset's page.
    """
    if not found:
        return []
    people = found["people"]
    return [{"at": when(c.at), "actor": c.actor, "person": c.actor in people,
             "path": c.path, "summary": changes.summary(c), **subject(c)}
            for c in found["changes"]]


def _version_of(key: str) -> str:
    return split_versioned(key)[1]


# -- models -------------------------------------------------------------------------------

#: Hops of derived data above a version's inputs that cards list and draw; the datasheets
#: hold the rest of the chain.
LINEAGE_HOPS = 3
#: Metrics a card charts, in key order; its metrics table lists every one.
CHARTS_SHOWN = 8


def _version_row(row: dict[str, Any]) -> dict[str, Any]:
    v, run = row["version"], row["run"] or {}
    deployments = sorted(
        ({**d, "deployedAt": when(d["deployedAt"]), "retiredAt": when(d["retiredAt"]),
          "_at": d["deployedAt"]} for d in row["deployments"]),
        key=lambda d: (d["deployedAt"] or "", d["id"]))
    inputs = sorted(row["inputs"], key=lambda i: (i["role"] or "", i["key"]))
    env = row["environment"] or {}
    return {
        "version": v["version"],
        "key": v["key"],
        "anchor": version_anchor(v["version"]),
        "uri": v.get("uri"),
        "framework": v.get("framework"),
        "aliases": sorted(v.get("aliases") or []),
        "created": when(v.get("createdAt")),
        "trained_at": when(run.get("endedAt") or run.get("startedAt") or v.get("createdAt")),
        "trained_by": row["trainedBy"],
        "trainer_active": row.get("trainerActive"),
        "run_id": run.get("id"),
        "run_name": run.get("name"),
        "run_status": run.get("status"),
        "started": when(run.get("startedAt")),
        "ended": when(run.get("endedAt")),
        "experiment": row["experiment"],
        "tracker_url": run.get("trackerUrl"),
        "params": _sorted_items(run.get("params")),
        "metrics": _sorted_items(run.get("metrics")),
        "command": run.get("command"),
        "seed": run.get("seed"),
        "code": row["code"],
        "environment": {**env, "packages": sorted(env.get("packages") or [])} if env else None,
        "inputs": inputs,
        "deployments": deployments,
        "active": [d for d in deployments if d["status"] == "ACTIVE"],
        "_updated": _latest(v.get("updatedAt"), run.get("updatedAt"),
                            *(d["_at"] for d in deployments)),
    }


def _upstream(keys: Iterable[str], parents: dict[str, list[str]], hops: int
              ) -> tuple[set[tuple[str, str]], set[str]]:
    """Dataset-version derivation edges (src, dst) up to ``hops`` above ``keys``, and the
    dataset versions one hop further that are left out."""
    edges: set[tuple[str, str]] = set()
    level, seen = set(keys), set(keys)
    for _ in range(hops):
        above = set()
        for key in level:
            for src in parents.get(key, []):
                edges.add((src, key))
                above.add(src)
        level = above - seen
        seen |= above
    beyond = {src for key in level for src in parents.get(key, [])} - seen
    return edges, beyond


def _sources(key: str, parents: dict[str, list[str]]) -> dict[str, Any]:
    """What a dataset version was derived from, nearest first, up to ``LINEAGE_HOPS``."""
    edges, beyond = _upstream([key], parents, LINEAGE_HOPS)
    chain, todo = [], [key]
    seen = {key}
    while todo:
        nxt = []
        for k in todo:
            for src in parents.get(k, []):
                if (src, k) in edges and src not in seen:
                    seen.add(src)
                    chain.append({"key": src, "dataset": _dataset_of(src)})
                    nxt.append(src)
        todo = sorted(nxt)
    return {"chain": chain, "more": bool(beyond)}


def _lineage(model: str, versions: list[dict[str, Any]], parents: dict[str, list[str]]
             ) -> dict[str, Any]:
    """Nodes and edges of the card's diagram: raw data -> derived data -> versions ->
    serving, for the deployed versions and the newest, ``LINEAGE_HOPS`` of derivations
    deep; each node names the page it links to."""
    deployed = [v for v in versions if v["active"]]
    shown = deployed + [v for v in versions if not v["active"]][
        :max(0, LINEAGE_VERSIONS - len(deployed))]
    edges: set[tuple[str, str, str]] = set()
    for v in shown:
        for i in v["inputs"]:
            edges.add((f"d:{i['key']}", f"m:{v['key']}", i["role"] or ""))
        for d in v["active"]:
            edges.add((f"m:{v['key']}", f"x:{d['id']}", ""))
    data_keys = {i["key"] for v in shown for i in v["inputs"]}
    derived, beyond = _upstream(data_keys, parents, LINEAGE_HOPS)
    for src, dst in derived:
        edges.add((f"d:{src}", f"d:{dst}", "derived"))
    labels: dict[str, str] = {}
    targets: dict[str, str] = {}
    for v in shown:
        labels[f"m:{v['key']}"] = f"{model} v{v['version']}"
        targets[f"m:{v['key']}"] = "#" + v["anchor"]
        for d in v["active"]:
            labels[f"x:{d['id']}"] = f"{d['environment']}: {d['endpoint'] or d['id']}"
            targets[f"x:{d['id']}"] = PRODUCTION
    for a, b, _ in edges:
        for n in (a, b):
            if n.startswith("d:"):
                labels[n] = n[2:]
                targets[n] = entity_path("Dataset", _dataset_of(n[2:]))
    order = sorted(labels)
    ids = {n: i for i, n in enumerate(order)}
    names = [mermaid_id(n[0], i) for i, n in enumerate(order)]
    return {
        "nodes": [{"id": names[i], "kind": n[0], "label": labels[n], "target": targets[n]}
                  for i, n in enumerate(order)],
        "edges": [(names[a], names[b], role)
                  for a, b, role in sorted((ids[a], ids[b], role) for a, b, role in edges)],
        "shown": len(shown),
        "omitted": max(0, len(versions) - len(shown)),
        "beyond": len(beyond),
    }


def _served(versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The version the card's metadata describes: the one serving production, else the
    one any environment serves, else the newest (``versions`` is newest first)."""
    for env in ("production", None):
        for v in versions:
            if any(env is None or d["environment"] == env for d in v["active"]):
                return v
    return versions[0] if versions else None


def _front_matter(model: dict[str, Any], served: dict[str, Any] | None, tags: list[str]
                  ) -> dict[str, Any]:
    """Hugging Face model-card metadata (of the served version, ``_served``), so the card
    can be reused outside the site, and the page title (the theme's;
    ``render.front_matter`` escapes it and the tags)."""
    meta: dict[str, Any] = {"title": model["name"], "tags": tags}
    if model.get("license"):
        meta["license"] = model["license"]
    if model.get("baseModel"):
        meta["base_model"] = model["baseModel"]
    if served:
        meta["datasets"] = sorted({i["dataset"] for i in served["inputs"]})
        meta["metrics"] = [k for k, _ in served["metrics"]]
        evals = [i for i in served["inputs"] if i["role"] in ("test", "validation")]
        data = evals[0] if evals else (served["inputs"][0] if served["inputs"] else None)
        if served["metrics"]:
            result: dict[str, Any] = {
                "task": {"type": model.get("task") or "other"},
                "metrics": [{"type": k, "name": k, "value": v} for k, v in served["metrics"]],
            }
            if data:
                result["dataset"] = {"name": data["dataset"], "type": data["dataset"],
                                     "revision": data["version"]}
            meta["model-index"] = [{"name": f"{model['name']}@{served['version']}",
                                    "results": [result]}]
    return meta


def _parents(derivations: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each derived dataset version's sources, sorted."""
    parents: dict[str, list[str]] = defaultdict(list)
    for d in derivations:
        parents[d["dst"]].append(d["src"])
    for srcs in parents.values():
        srcs.sort()
    return parents


def _runs_where(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each active deployment with the version it serves, production first."""
    rows = [{**d, "version": v["version"], "trained_by": v["trained_by"],
             "trainer_active": v["trainer_active"], "run_id": v["run_id"]}
            for v in versions for d in v["active"]]
    rows.sort(key=lambda d: (d["environment"] != "production", d["environment"] or "",
                             version_order(d["version"]), d["id"]))
    return rows


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _metrics_by_version(shown: list[dict[str, Any]]) -> dict[str, Any]:
    """Every shown version's metrics side by side, oldest first, as a table and as the
    chart's data (numbers only; the production versions marked)."""
    ordered = sorted(shown, key=lambda v: version_order(v["version"]))
    keys = sorted({k for v in ordered for k, _ in v["metrics"]})
    rows = []
    for v in ordered:
        values = dict(v["metrics"])
        rows.append({"version": v["version"], "anchor": v["anchor"],
                     "environments": sorted({d["environment"] for d in v["active"]}),
                     "values": [values.get(k) for k in keys]})
    charted = [k for k in keys if any(_number(r["values"][keys.index(k)]) is not None
                                      for r in rows)][:CHARTS_SHOWN]
    chart = {
        "versions": [r["version"] for r in rows],
        "production": [r["version"] for r in rows if "production" in r["environments"]],
        "deployed": [r["version"] for r in rows if r["environments"]],
        "metrics": [{"name": k, "values": [_number(r["values"][keys.index(k)])
                                           for r in rows]} for k in charted],
    }
    return {"keys": keys, "rows": rows, "chart": chart if charted else None,
            "uncharted": len(keys) - len(charted)}


def model_pages(data: dict[str, Any], parents: dict[str, list[str]] | None = None
                ) -> list[Page]:
    """Model cards; ``parents`` (from ``_parents``) or ``data["derivations"]`` for lineage."""
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in data["versions"]:
        by_model[row["model"]].append(_version_row(row))
    if parents is None:
        parents = _parents(data["derivations"])
    out = []
    for row in data["models"]:
        m = row["model"]
        name = m["name"]
        versions = sorted(by_model.get(name, []), key=lambda v: version_order(v["version"]),
                          reverse=True)
        # a full section for the newest and for every deployed version; the rest a row each
        shown = [v for i, v in enumerate(versions) if i < VERSIONS_SHOWN or v["active"]]
        older = [v for i, v in enumerate(versions) if i >= VERSIONS_SHOWN and not v["active"]]
        for v in shown:
            v["reproduce"] = reproduce.snippet(v["code"], v["command"])
            v["inputs"] = [{**i, "derived": _sources(i["key"], parents)} for i in v["inputs"]]
        latest = versions[0] if versions else None
        served = _served(versions)
        teams = sorted(set(row["teams"]))
        tags = [f"team: {t}" for t in teams] + ([f"task: {m['task']}"] if m.get("task") else [])
        history = sorted(
            ({**d, "version": v["version"]} for v in versions for d in v["deployments"]),
            key=lambda d: (d["deployedAt"] or "", d["id"]), reverse=True)
        notes = _notes(row["notes"])
        served_by = {d["id"]: v["version"] for v in versions for d in v["deployments"]}

        def subject(c: ChangeFact, served_by: dict[str, str] = served_by) -> dict[str, Any]:
            if c.kind == "ModelVersion":
                return {"version": _version_of(c.key)}
            if c.kind == "Deployment":
                return {"deployment": c.key, "version": served_by.get(c.key)}
            return {}

        updated = _latest(m.get("updatedAt"), *(v["_updated"] for v in versions))
        context = {
            "model": {k: m.get(k) for k in ("name", "description", "task", "intendedUse",
                                            "limitations", "license", "baseModel")},
            "owners": _owners(row["owners"]),
            "teams": teams,
            "runs_where": _runs_where(versions),
            "versions": shown,
            "older": older,
            "version_count": len(versions),
            "versions_shown": VERSIONS_SHOWN,
            "lineage_hops": LINEAGE_HOPS,
            "latest": latest,
            "metrics": _metrics_by_version(shown),
            "lineage": _lineage(name, versions, parents),
            "deployments": history,
            "notes": notes,
            "history": _history(data.get("history", {}).get(name), subject),
            "front_matter": _front_matter(m, served, tags),
            "updated": when(updated),
        }
        out.append(Page(entity_path("Model", name), "model.md.j2", context, "Model", name))
    return out


# -- datasets -----------------------------------------------------------------------------

def _dataset_of(key: str) -> str:
    return key.rpartition("@")[0]


def _impact(items: list[ImpactItem]) -> dict[str, Any]:
    """``lineage.impact``'s answer for a datasheet: the active deployments, production
    first, and the model versions, each nearest first, with its hops, the version of this
    dataset its shortest path starts from and the datasets the path runs through."""
    def shaped(item: ImpactItem) -> dict[str, Any]:
        data = [n.key for n in item.path if n.label == "DatasetVersion"]
        return {"key": item.key, "model": item.model, "version": item.version,
                "environment": item.environment, "hops": item.hops,
                "deployedAt": when(item.deployed_at),
                "start": data[0] if data else None,
                "through": [_dataset_of(k) for k in data[1:]]}
    deployments = sorted(
        (shaped(i) for i in items if i.kind == "DEPLOYMENT"),
        key=lambda d: (d["environment"] != "production", d["environment"] or "", d["hops"],
                       d["model"], version_order(d["version"]), d["key"]))
    versions = sorted(
        (shaped(i) for i in items if i.kind == "MODEL_VERSION"),
        key=lambda v: (v["hops"], v["model"], version_order(v["version"])))
    return {"deployments": deployments, "versions": versions[:IMPACT_SHOWN],
            "version_count": len(versions),
            "production": sum(d["environment"] == "production" for d in deployments)}


def dataset_pages(data: dict[str, Any]) -> list[Page]:
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in data["versions"]:
        v = row["version"]
        by_dataset[row["dataset"]].append({
            "version": v["version"], "key": v["key"], "digest": v.get("digest"),
            "uri": v.get("uri"), "rows": v.get("rows"), "created": when(v.get("createdAt")),
            "description": v.get("description"),
            "schema": _map(v.get("schema")).get("fields", []),
            "derived_from": sorted(row["derivedFrom"]),
            "derived_into": sorted(row["derivedInto"]),
            "run_count": row["runCount"],
            "recent_runs": [{**r, "startedAt": when(r["startedAt"])} for r in row["recentRuns"]],
            "_at": v.get("createdAt"), "_updated": v.get("updatedAt"),
        })
    impacts = data.get("impact", {})
    out = []
    for row in data["datasets"]:
        d = row["dataset"]
        name = d["name"]
        versions = sorted(by_dataset.get(name, []),
                          key=lambda v: (v["created"] or "", version_order(v["version"])),
                          reverse=True)
        sheet = _map(d.get("datasheet"))
        derived = sorted({_dataset_of(k) for v in versions for k in v["derived_into"]} - {name})
        upstream = sorted({_dataset_of(k) for v in versions for k in v["derived_from"]} - {name})
        context = {
            "dataset": {k: d.get(k) for k in ("name", "description", "domain", "license")},
            "datasheet": [(s, sheet.get(s)) for s in DATASHEET_SECTIONS],
            "owners": _owners(row["owners"]),
            "versions": versions,
            "impact": _impact(impacts.get(name, [])),
            "derived": derived,
            "upstream": upstream,
            "notes": _notes(row["notes"]),
            "history": _history(data.get("history", {}).get(name), lambda c: (
                {"data_version": _version_of(c.key)} if c.kind == "DatasetVersion" else {})),
            "front_matter": {"title": name,
                             "tags": [f"domain: {d['domain']}"] if d.get("domain") else []},
            "updated": when(_latest(d.get("updatedAt"), *(v["_updated"] for v in versions))),
        }
        out.append(Page(entity_path("Dataset", name), "dataset.md.j2", context, "Dataset", name))
    return out


# -- people, teams, production, home, indexes ------------------------------------------------

def person_pages(rows: list[dict[str, Any]]) -> list[Page]:
    out = []
    for row in rows:
        p = row["person"]
        departed = not p["active"]
        owned = sorted(row["owned"], key=lambda o: (o["kind"], o["key"], o["role"] or ""))
        current = [{**o, "since": when(o["since"])} for o in owned if o["until"] is None]
        context = {
            "person": {"handle": p["handle"], "name": p.get("name"), "email": p.get("email"),
                       "left": when(p.get("leftAt"))},
            "departed": departed,
            "teams": sorted(row["teams"]),
            "owned": current,
            "needs_owner": [o for o in current if o["others"] == 0] if departed else [],
            "past_owned": [{**o, "until": when(o["until"])} for o in owned
                           if o["until"] is not None],
            "run_count": row["runCount"],
            "recent_runs": [{**r, "startedAt": when(r["startedAt"]),
                             "produced": sorted(r["produced"])} for r in row["recentRuns"]],
            "deployed": [{**d, "deployedAt": when(d["deployedAt"])} for d in row["deployed"]],
            "work": _work(row.get("work")),
            "history": _history(row.get("history")),
            "front_matter": {"title": p.get("name") or p["handle"],
                             "tags": [f"team: {t}" for t in sorted(row["teams"])]},
            "updated": when(p.get("updatedAt")),
        }
        out.append(Page(entity_path("Person", p["handle"]), "person.md.j2", context, "Person",
                        p["handle"]))
    return out


def team_pages(rows: list[dict[str, Any]], model_index: list[dict[str, Any]]) -> list[Page]:
    latest = {m["name"]: _index_latest(m["versions"]) for m in model_index}
    out = []
    for row in rows:
        t = row["team"]
        context = {
            "team": {"name": t["name"], "description": t.get("description")},
            "members": sorted(row["members"], key=lambda m: m["handle"]),
            "owned": sorted(row["owned"], key=lambda o: (o["kind"], o["key"], o["role"] or "")),
            "models": [{"name": n, "latest": latest.get(n)} for n in sorted(set(row["models"]))],
            "member_owned": _member_owned(row.get("memberOwned", [])),
            "history": _history(row.get("history")),
            "front_matter": {"title": f"Team {t['name']}", "tags": [f"team: {t['name']}"]},
            "updated": when(t.get("updatedAt")),
        }
        out.append(Page(entity_path("Team", t["name"]), "team.md.j2", context, "Team",
                        t["name"]))
    return out


def _index_latest(versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not versions:
        return None
    top = max(versions, key=lambda v: version_order(v["version"]))
    return {"version": top["version"], "at": when(top["at"])}


def index_pages(rows: dict[str, list[dict[str, Any]]], kinds: Iterable[str]) -> list[Page]:
    out = []
    for kind in sorted(kinds):
        items = []
        for r in rows[kind]:
            item = {**r}
            if kind in ("Model", "Dataset"):
                item["count"] = len(r["versions"])
                item["latest"] = _index_latest(r["versions"])
                item["owners"] = sorted(r["owners"])
            items.append(item)
        key = "handle" if kind == "Person" else "name"
        items.sort(key=lambda i: i[key])
        context = {"kind": kind, "items": items}
        out.append(Page(INDEXES[kind], f"index_{FOLDERS[kind]}.md.j2", context, "Index", kind))
    return out


def _deployment(d: DeploymentFact) -> dict[str, Any]:
    return {"id": d.id, "model": d.model, "version": d.version,
            "environment": d.environment, "endpoint": d.endpoint, "status": d.status,
            "deployedAt": when(d.deployed_at), "retiredAt": when(d.retired_at),
            "deployedBy": d.deployed_by, "deployedByActive": d.deployed_by_active,
            "trainedBy": d.trained_by, "trainedByActive": d.trained_by_active,
            "owners": [{"kind": o.kind, "key": o.key, "active": o.active} for o in d.owners],
            "_at": d.deployed_at or datetime.min.replace(tzinfo=UTC)}


def production_page(facts: list[DeploymentFact]) -> Page:
    """``production.deployments``'s answer: what runs where now, then what was retired."""
    items = sorted((_deployment(d) for d in facts),
                   key=lambda d: (d["environment"] or "", d["model"] or "", d["_at"], d["id"]))
    active = [d for d in items if d["status"] == "ACTIVE"]
    retired = [d for d in items if d["status"] != "ACTIVE"]
    retired.sort(key=lambda d: (d["retiredAt"] or "", d["id"]), reverse=True)
    return Page(PRODUCTION, "production.md.j2", {"active": active, "retired": retired},
                "Production", None)


def _orphan(o: Orphan) -> dict[str, Any]:
    """An asset of ``ownership.orphans`` as the home page lists it; its former owners as
    (kind, key) pairs, so a team links to its page and a person to theirs."""
    former = [ref.partition(":") for ref in o.former_owner_refs]
    return {"kind": o.kind, "name": o.key, "feedsProduction": o.feeds_production,
            "formerOwners": [{"kind": kind.capitalize(), "key": key}
                             for kind, _, key in former]}


def home_page(data: dict[str, Any], deployments: list[DeploymentFact]) -> Page:
    production = [
        {"model": d.model, "version": d.version, "environment": d.environment,
         "deployedAt": when(d.deployed_at)}
        for d in deployments if d.status == "ACTIVE" and d.environment == "production"]
    production.sort(key=lambda d: (d["model"] or "", d["version"] or ""))
    counts = dict(data["counts"])
    updated = when(counts.pop("lastUpdated"))
    context = {
        "counts": counts,
        "production": production,
        "recent": [{**r, "at": when(r["at"])} for r in data["recent"]],
        # Owner left / never owned, each led by what reaches production.
        "orphans": sorted((_orphan(o) for o in data["orphans"] if o.kind in FOLDERS),
                          key=lambda o: (not o["feedsProduction"], o["kind"], o["name"])),
        "updated": updated,
    }
    return Page(HOME, "home.md.j2", context, "Home", None)


def changes_page(data: dict[str, Any]) -> Page:
    """``reads.recent_changes``'s answer, grouped by day (UTC), newest first; each change
    links to its entity's page where there is one."""
    targets = data["targets"]
    days: list[dict[str, Any]] = []
    for c in data["changes"]:
        at = c.at.astimezone(UTC)
        day = at.strftime("%Y-%m-%d")
        if not days or days[-1]["day"] != day:
            days.append({"day": day, "rows": []})
        target = targets.get((c.kind, c.key))
        days[-1]["rows"].append({
            "time": at.strftime("%H:%M UTC"), "kind": c.kind, "key": c.key,
            "target": ({"kind": target[0], "key": target[1], "version": target[2]}
                       if target else None),
            "actor": c.actor, "person": ("Person", c.actor) in targets, "path": c.path,
            "summary": changes.summary(c)})
    context = {"days": days, "count": len(data["changes"]), "shown": reads.RECENT_CHANGES,
               "front_matter": {"title": "Recent changes"}}
    return Page(CHANGES, "changes.md.j2", context, "Changes", None)


# -- whole site or a part of it ---------------------------------------------------------------

#: Entities per read: bounds what is held in memory, and lets reads overlap rendering.
CHUNK = 200
#: The kinds whose section indexes ``reads.indexes`` reads (experiments have their own).
_INDEXED = ("Model", "Dataset", "Person", "Team")
#: Reads in flight in each of the two lanes (model cards; everything else) while pages of
#: an earlier read are shaped and rendered: the server answers (and, on a fresh server,
#: plans each statement) on its own cores while this process renders.
AHEAD = 2

def _chunks(keys: list[str]) -> list[list[str]]:
    return [keys[i:i + CHUNK] for i in range(0, len(keys), CHUNK)]


def _prefetched(graph: Graph, jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]]
                ) -> Iterator[Any]:
    """Each job's ``graph.read`` result in order, with up to ``AHEAD`` reads running from
    the first ``next()`` on. Each read is its own transaction, as each page kind always was.
    """
    with ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="kb-docs-read") as pool:
        todo = iter(jobs)
        pending: deque[Future[Any]] = deque(
            pool.submit(graph.read, work, *args) for work, args in islice(todo, AHEAD))
        try:
            while pending:
                result = pending.popleft().result()
                job = next(todo, None)
                if job is not None:
                    pending.append(pool.submit(graph.read, job[0], *job[1]))
                yield result
        finally:
            for future in pending:
                future.cancel()


def iter_pages(graph: Graph, *, entities: set[tuple[str, str]] | None = None,
               indexes: set[str] | None = None) -> Iterator[Page]:
    """Page models for the whole site, or only for ``entities`` and the listed indexes,
    as their reads arrive (models, datasets, people, teams, experiments, runs, indexes,
    production, home).

    ``indexes`` names the section indexes plus ``"Home"``, ``"Production"`` and
    ``"Changes"`` (the Recent changes page).
    """
    if entities is None:
        keys = {**graph.read(reads.names), **graph.read(reads.run_names)}
        want_indexes = set(INDEXES) | {"Home", "Production", "Changes"}
    else:
        keys = {kind: sorted({key for k, key in entities if k == kind}) for kind in FOLDERS}
        want_indexes = set(indexes or ())
    want_idx = bool(want_indexes & set(_INDEXED)) or bool(keys["Team"])
    want_deployments = bool(want_indexes & {"Home", "Production"})
    # Two lanes of reads: the model cards, and everything else (its first reads start
    # with the models, so a fresh server plans those statements while cards render).
    # Each job is a read; ``shape`` turns its result into pages, in the same order.
    jobs: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    shape: list[Callable[[Any], list[Page]]] = []
    state: dict[str, Any] = {}

    def keep(name: str, convert: Callable[[Any], Any] = lambda x: x
             ) -> Callable[[Any], list[Page]]:
        def store(result: Any) -> list[Page]:
            state[name] = convert(result)
            return []
        return store

    if keys["Model"]:
        jobs.append((reads.derivations, ()))
        shape.append(keep("parents", _parents))
    for chunk in _chunks(keys["Dataset"]):
        jobs.append((reads.datasets, (chunk,)))
        shape.append(dataset_pages)
    for chunk in _chunks(keys["Person"]):
        jobs.append((reads.people_at_work, (chunk,)))
        shape.append(person_pages)
    if want_idx:
        jobs.append((reads.indexes, ()))
        shape.append(keep("idx"))
    for chunk in _chunks(keys["Team"]):
        jobs.append((reads.teams_with_members, (chunk,)))
        shape.append(lambda rows: team_pages(rows, state["idx"]["Model"]))
    for chunk in _chunks(keys["Experiment"]):
        jobs.append((reads.experiments, (chunk,)))
        shape.append(lambda rows: _boosted(experiment_pages(rows)))
    if "Experiment" in want_indexes:
        jobs.append((reads.experiment_index, ()))
        shape.append(lambda rows: [experiment_index_page(rows)])
    for chunk in _chunks(keys["Run"]):
        jobs.append((reads.runs, (chunk,)))
        shape.append(run_pages)
    if want_deployments:
        jobs.append((reads.deployments, ()))
        shape.append(keep("deployments"))
    if "Home" in want_indexes:
        jobs.append((reads.home, ()))
        shape.append(lambda data: [home_page(data, state["deployments"])])
    if "Changes" in want_indexes:
        jobs.append((reads.recent_changes, ()))
        shape.append(lambda data: [changes_page(data)])
    others = zip(_prefetched(graph, jobs), shape, strict=True)
    if keys["Model"]:
        result, to_pages = next(others)  # the derivations, which every card's lineage needs
        to_pages(result)
        cards = _prefetched(graph, [(reads.models, (c,)) for c in _chunks(keys["Model"])])
        for data in cards:
            yield from _boosted(model_pages(data, state["parents"]))
    for result, to_pages in others:
        yield from to_pages(result)
    if want_idx:
        yield from index_pages(state["idx"], want_indexes & set(_INDEXED))
    if "Production" in want_indexes:
        yield production_page(state["deployments"])


def collect(graph: Graph, *, entities: set[tuple[str, str]] | None = None,
            indexes: set[str] | None = None) -> list[Page]:
    """Every page model of ``iter_pages`` as a list."""
    return list(iter_pages(graph, entities=entities, indexes=indexes))


# -- runs and experiments -----------------------------------------------------------------

#: Runs an experiment's leaderboard ranks before it gives the count of the rest.
LEADERBOARD_SHOWN = 100
#: Param and metric columns a leaderboard shows (the most logged first).
LEADERBOARD_COLUMNS = 8
#: Child runs a run page lists before it gives the count.
CHILDREN_SHOWN = 100
#: A metric whose name holds one of these words is better when lower.
_LOWER_BETTER = re.compile(r"(?:^|[^a-z])(loss|error|err|rmse|mse|mae|mape|wer|cer|"
                           r"perplexity|ppl|latency|logloss|brier)(?:[^a-z]|$)", re.I)
OPEN_STATUSES = ("RUNNING", "SCHEDULED")
FAILED_STATUSES = ("FAILED", "ABORTED", "KILLED")


def lower_is_better(metric: str) -> bool:
    """Loss-like metrics (loss, error, rmse, mae, ...) rank lowest first; others highest."""
    return _LOWER_BETTER.search(metric) is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if value != value else float(value)  # NaN ranks with the unmeasured


def _value(value: Any) -> str:
    """A param or metric value as shown: numbers as Python writes them, text as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def main_metric(runs: list[dict[str, Any]]) -> str | None:
    """The metric most runs logged (ties by name): the one a leaderboard ranks by."""
    counts: dict[str, int] = defaultdict(int)
    for r in runs:
        for k, v in r["metrics"].items():
            if _number(v) is not None:
                counts[k] += 1
    return min(counts, key=lambda k: (-counts[k], k)) if counts else None


def leaderboard(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs best first by the main metric (see ``main_metric`` and ``lower_is_better``);
    runs without it after, newest first; ties by start time, then id."""
    metric = main_metric(runs)
    lower = metric is not None and lower_is_better(metric)

    def score(r: dict[str, Any]) -> float | None:
        return _number(r["metrics"].get(metric)) if metric else None

    scored = sorted((r for r in runs if score(r) is not None), key=lambda r: (
        score(r) if lower else -(score(r) or 0.0), r["startedAt"] or "", r["id"]))
    unscored = sorted((r for r in runs if score(r) is None),
                      key=lambda r: (r["startedAt"] or "", r["id"]), reverse=True)
    ranked = scored + unscored
    shown = ranked[:LEADERBOARD_SHOWN]

    def columns(field: str, first: str | None) -> tuple[list[str], int]:
        counts: dict[str, int] = defaultdict(int)
        for r in runs:
            for k in r[field]:
                counts[k] += 1
        names = sorted(counts, key=lambda k: (k != first, -counts[k], k))
        return names[:LEADERBOARD_COLUMNS], max(0, len(names) - LEADERBOARD_COLUMNS)

    metric_cols, metric_hidden = columns("metrics", metric)
    param_cols, param_hidden = columns("params", None)
    rows = [{**r, "rank": i + 1 if i < len(scored) else None,
             "metric_cells": [_value(r["metrics"][k]) if k in r["metrics"] else ""
                              for k in metric_cols],
             "param_cells": [_value(r["params"][k]) if k in r["params"] else ""
                             for k in param_cols]}
            for i, r in enumerate(shown)]
    return {"metric": metric, "lower": lower, "rows": rows, "count": len(runs),
            "left_out": len(runs) - len(shown), "metrics": metric_cols,
            "params": param_cols, "hidden": metric_hidden + param_hidden,
            "scored": len(scored)}


def _run_row(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "startedAt": when(r.get("startedAt")), "endedAt": when(r.get("endedAt")),
            "params": dict(_sorted_items(r.get("params"))),
            "metrics": dict(_sorted_items(r.get("metrics")))}


def run_pages(rows: list[dict[str, Any]]) -> list[Page]:
    out = []
    for row in rows:
        r = row["run"]
        run_id = r["id"]
        env = row["environment"]
        children = row["children"]
        context = {
            "run": {k: r.get(k) for k in ("id", "name", "kind", "status", "command", "seed",
                                          "trackerUrl", "error", "producer")},
            "started": when(r.get("startedAt")),
            "ended": when(r.get("endedAt")),
            "unfinished": r.get("status") in OPEN_STATUSES,
            "failed": r.get("status") in FAILED_STATUSES,
            "trainer": row["trainer"],
            "experiment": row["experiment"],
            "params": _sorted_items(r.get("params")),
            "metrics": _sorted_items(r.get("metrics")),
            "inputs": row["inputs"],
            "models": row["models"],
            "datasets": row["datasets"],
            "code": row["code"],
            "environment": ({**env, "packages": sorted(env.get("packages") or [])}
                            if env else None),
            "reproduce": reproduce.snippet(row["code"], r.get("command")),
            "parent": row["parent"],
            "children": [{**c, "startedAt": when(c.get("startedAt"))}
                         for c in children[:CHILDREN_SHOWN]],
            "child_count": len(children),
            "notes": _notes(row["notes"]),
            "history": _history(row.get("history")),
            "front_matter": {"title": f"Run {r.get('name') or run_id}"},
            "updated": when(r.get("updatedAt")),
        }
        out.append(Page(entity_path("Run", run_id), "run.md.j2", context, "Run", run_id))
    return out


def experiment_pages(rows: list[dict[str, Any]]) -> list[Page]:
    out = []
    for row in rows:
        x = row["experiment"]
        name = x["name"]
        runs = [_run_row(r) for r in row["runs"]]
        statuses: dict[str, int] = defaultdict(int)
        for r in runs:
            statuses[r.get("status") or "not recorded"] += 1
        context = {
            "experiment": {"name": name, "description": x.get("description")},
            "owners": row["owners"],
            "statuses": sorted(statuses.items()),
            "board": leaderboard(runs),
            "notes": _notes(row["notes"]),
            "history": _history(row.get("history")),
            "front_matter": {"title": f"Experiment {name}"},
        }
        out.append(Page(entity_path("Experiment", name), "experiment.md.j2", context,
                        "Experiment", name))
    return out


def experiment_index_page(rows: list[dict[str, Any]]) -> Page:
    items = sorted(({**r, "last": when(r["last"]), "owners": sorted(r["owners"])}
                    for r in rows), key=lambda r: r["name"])
    return Page(INDEXES["Experiment"], "index_experiments.md.j2", {"items": items},
                "Index", "Experiment")


def _work(work: dict[str, Any] | None) -> dict[str, Any]:
    """What a person was working on: runs by experiment and status, failed then unfinished
    runs, recent runs, notes they wrote."""
    if not work:
        return {"by_experiment": [], "unsettled": [], "unsettled_count": 0, "recent": [],
                "notes": [], "note_count": 0}
    groups: dict[str | None, dict[str, Any]] = {}
    for g in work["byExperiment"]:
        e = groups.setdefault(g["experiment"], {"experiment": g["experiment"], "runs": 0,
                                                "statuses": {}, "_last": None})
        e["runs"] += g["runs"]
        e["statuses"][g["status"] or "not recorded"] = g["runs"]
        e["_last"] = _latest(e["_last"], g["last"])
    by_experiment = sorted(groups.values(), key=lambda e: (
        -(e["_last"].timestamp() if e["_last"] else float("-inf")), e["experiment"] or ""))
    for e in by_experiment:
        e["last"] = when(e.pop("_last"))
        e["statuses"] = sorted(e["statuses"].items(),
                               key=lambda s: (s[0] not in FAILED_STATUSES,
                                              s[0] not in OPEN_STATUSES, s[0]))
    unsettled = sorted(work["unsettled"], key=lambda r: (
        r.get("status") not in FAILED_STATUSES, -(r["startedAt"].timestamp()
                                                  if r.get("startedAt") else float("inf")),
        r["id"]))
    notes = [{**n, "createdAt": when(n.get("createdAt"))} for n in work["notes"]]
    return {
        "by_experiment": by_experiment,
        "unsettled": [{**r, "startedAt": when(r.get("startedAt")),
                       "endedAt": when(r.get("endedAt"))} for r in unsettled],
        "unsettled_count": work["unsettledCount"],
        "recent": [{**r, "startedAt": when(r.get("startedAt")),
                    "produced": sorted(r.get("produced") or [])} for r in work["recent"]],
        "notes": notes,
        "note_count": work["noteCount"],
    }


def _member_owned(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each member and what they own now, active members first, then the departed."""
    return sorted(rows, key=lambda m: (not m["active"], m["handle"]))


#: Search boost of a model card and an experiment page over other pages: an exact name
#: match of a model ranks above datasets and people that only mention it.
SEARCH_BOOST = {"Model": 4, "Experiment": 2}


def _boosted(pages: list[Page]) -> list[Page]:
    """The pages with material's per-page ``search: boost`` in their front matter."""
    for page in pages:
        boost = SEARCH_BOOST.get(page.kind)
        meta = page.context.get("front_matter")
        if boost and meta is not None:
            meta["search"] = {"boost": boost}
    return pages
