"""kb's questions from Python: ``import kb; kb.who_trained("churn")``.

Each function checks its arguments, calls the same ``kb.graph`` function the CLI and the
API call, and returns the records of ``kb.read.answers`` / ``kb.read.entities``. They read
through the graph the SDK writes with (``kb.connect(...)``, or the environment), and raise
kb's errors (``InvalidInput`` naming the argument, ``NotFound``) and never a driver's.
Lists are ``Results``: the first page is read at once (so a bad name fails at the call),
the rest as they are used.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from kb.domain import Label, Ref, RunStatus, parse_ref, split_versioned
from kb.domain.keys import KIND_LABEL
from kb.domain.paging import Page, page_size
from kb.domain.when import parse_instant, utc
from kb.errors import InvalidInput
from kb.graph import Graph
from kb.graph import deployments as graph_deployments
from kb.graph import impact as graph_impact
from kb.graph import lineage as graph_lineage
from kb.graph import show as graph_show
from kb.graph import who_trained as graph_who_trained
from kb.graph.compare import compare_runs as graph_compare_runs
from kb.graph.history import entity_history
from kb.graph.ownership import handover as graph_handover
from kb.graph.ownership import orphans as graph_orphans
from kb.graph.search import SEARCHABLE
from kb.graph.search import search as graph_search

from .answers import (
    DeploymentFact,
    HandoverItem,
    ImpactItem,
    LineageGraph,
    Orphan,
    RunComparison,
    RunSummary,
    SearchHit,
    Training,
    comparison,
    deployment_fact,
    handover_item,
    impact_item,
    orphan,
    run_summary,
    training,
)
from .changes import Change, change
from .entities import ENTITY, entity

# The paged reads of the root lists; once ``kb.graph.runs.runs_page`` lands (same
# signature), importing it from there instead is the whole change.
from .fetch import nodes_page, runs_page
from .results import Results

#: Items read per page of a list, unless ``page_size`` says otherwise.
PAGE = 100


def _graph() -> Graph:
    """The graph the SDK's writes use: ``kb.connect(...)``'s, or the environment's."""
    from kb.ingest.sdk import client

    return client().graph


def _instant(value: Any, field: str) -> datetime | None:
    """A ``datetime`` (naive is UTC), a ``date`` (its first instant) or the CLI's text
    forms (``2026-03-01``, ``2026-03-01T09:30``, ``7d``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return utc(datetime.combine(value, time()))
    if isinstance(value, str):
        return parse_instant(value, field)
    raise InvalidInput(field, "must be a datetime, a date or text like 2026-03-01 or 7d",
                       value)


def _name(value: Any, field: str, kind: str) -> str:
    """A name given bare or as its ref (``person:alice``)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"must be a {kind} name", value)
    return value.strip().removeprefix(f"{kind}:")


def _optional(value: Any, field: str, kind: str) -> str | None:
    return None if value is None else _name(value, field, kind)


def _ref(value: Any, field: str = "ref") -> Ref:
    if isinstance(value, Ref):
        return value
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a reference like model:churn@7", value)
    return parse_ref(value.strip(), default="model", field=field)


def _size(value: Any) -> int:
    size = page_size(value, PAGE, "page_size")
    if size < 1:
        raise InvalidInput("page_size", "must be at least 1", value)
    return size


def _paged(fetch_page: Any, record: type) -> Results[Any]:
    results: Results[Any] = Results(fetch_page, record)
    results.first(1)  # the first page now, so a bad argument fails at the call
    return results


# -- questions ------------------------------------------------------------------------------
def who_trained(model: str, version: str | int | None = None, *, as_of: Any = None
                ) -> Results[Training]:
    """Who trained each version of ``model`` (newest first), or only ``version``
    (``kb.who_trained("churn", version=3)``, or ``"churn@3"``): person, run, data, code,
    parameters and metrics; with ``as_of``, as things stood then."""
    name = _name(model, "model", "model")
    if version is None and "@" in name:
        name, version = split_versioned(name)
    if version is not None and (isinstance(version, bool)
                                or not isinstance(version, str | int)):
        raise InvalidInput("version", "must be a version number like 3, or a name", version)
    when = _instant(as_of, "as_of")
    facts = graph_who_trained(_graph(), name, None if version is None else str(version), when)
    return Results.of([training(f) for f in facts], Training)


def lineage(ref: str | Ref, *, direction: str = "BOTH", depth: int = 3,
            as_of: Any = None) -> LineageGraph:
    """What ``ref`` came from (``direction="UPSTREAM"``), what came of it
    (``"DOWNSTREAM"``) or both, ``depth`` relationships away (1 to 10); a bare name is a
    model. ``truncated`` says a node had more neighbours than one hop reads."""
    if not isinstance(direction, str):
        raise InvalidInput("direction", "must be UPSTREAM, DOWNSTREAM or BOTH", direction)
    return graph_lineage(_graph(), _ref(ref), direction=direction, depth=depth,
                         as_of=_instant(as_of, "as_of"))


def impact(dataset: str, version: str | int | None = None, *, as_of: Any = None
           ) -> Results[ImpactItem]:
    """Every model version and active deployment downstream of ``dataset`` (every version,
    or only ``version``; ``"customers@2024-05"`` works too), nearest first."""
    name = _name(dataset, "dataset", "dataset")
    if version is None and "@" in name:
        name, _, version = name.rpartition("@")
        if not name or not version:
            raise InvalidInput("dataset", "expected DATASET or DATASET@VERSION", dataset)
    if version is not None and (isinstance(version, bool) or not isinstance(version, str | int)
                                or not str(version).strip()):
        raise InvalidInput("version", "must be a dataset version", version)
    items = graph_impact(_graph(), name, None if version is None else str(version),
                         as_of=_instant(as_of, "as_of"))
    return Results.of([impact_item(i) for i in items], ImpactItem)


def deployments(*, environment: str | None = None, status: str | None = "ACTIVE",
                model: str | None = None, as_of: Any = None) -> Results[DeploymentFact]:
    """What runs where: deployments by ``environment`` and ``model``, ACTIVE by default
    (``status=None`` gives every status); with ``as_of``, those live then."""
    if environment is not None and not isinstance(environment, str):
        raise InvalidInput("environment", "must be an environment name", environment)
    facts = graph_deployments(_graph(), environment=environment, status=status,
                              model=_optional(model, "model", "model"),
                              as_of=_instant(as_of, "as_of"))
    return Results.of([deployment_fact(f) for f in facts], DeploymentFact)


def handover(person: str, *, as_of: Any = None) -> Results[HandoverItem]:
    """What ``person`` owns, trained or deployed, ``at_risk`` where nobody else would know."""
    items = graph_handover(_graph(), _name(person, "person", "person"),
                           _instant(as_of, "as_of"))
    return Results.of([handover_item(i) for i in items], HandoverItem)


def orphans(*, as_of: Any = None) -> Results[Orphan]:
    """Assets with no active owner: those whose owner left, then those never owned, each
    led by what feeds production."""
    items = graph_orphans(_graph(), _instant(as_of, "as_of"))
    return Results.of([orphan(o) for o in items], Orphan)


def compare_runs(a: str, b: str) -> RunComparison:
    """The params, metrics, input data, commit and environment that differ between two runs."""
    return comparison(graph_compare_runs(_graph(), _name(a, "a", "run"), _name(b, "b", "run")))


def _labels(types: Iterable[Any] | None) -> list[Label] | None:
    if types is None:
        return None
    if isinstance(types, str | Label):
        types = [types]
    kinds = {k: label for k, label in KIND_LABEL.items() if label in SEARCHABLE}
    out = []
    for t in types:
        label = t if isinstance(t, Label) else kinds.get(str(t).lower())
        if label is None or label not in SEARCHABLE:
            raise InvalidInput("types", "must name kinds among " + ", ".join(sorted(kinds)), t)
        out.append(label)
    return out


def search(text: str, *, types: Iterable[str] | None = None, first: int = 20
           ) -> Results[SearchHit]:
    """Names, descriptions and notes matching ``text``, best first (at most ``first``,
    100 at most); ``types`` keeps some kinds (``["model", "dataset"]``)."""
    if not isinstance(text, str):
        raise InvalidInput("text", "must be text to search for", text)
    if isinstance(first, bool) or not isinstance(first, int):
        raise InvalidInput("first", "must be a whole number from 1 to 100", first)
    hits = graph_search(_graph(), text, types=_labels(types), limit=first)
    return Results.of([SearchHit(h.score, entity(h.label, h.props)) for h in hits], SearchHit)


def show(ref: str | Ref) -> Any:
    """Everything kb holds about one entity (``"model:churn"``, ``"run:r-1"``,
    ``"dataset:customers@2024-05"``; a bare name is a model): its record, with ``links``."""
    target = _ref(ref)
    data = graph_show(_graph(), target)
    return entity(target.label, data, data["links"])


def history(ref: str | Ref, *, kinds: Iterable[str] = (), page_size: int = 20
            ) -> Results[Change]:
    """An entity's change records, newest first (a model's with its versions' and their
    deployments'): who changed what, when, through which path."""
    target = _ref(ref)
    size = _size(page_size)
    chosen = [kinds] if isinstance(kinds, str) else list(kinds)

    def page(after: str | None) -> Page[Change]:
        found = _graph().read(entity_history, target.label, target.key, first=size,
                              after=after, kinds=chosen)
        return Page(tuple(change(f) for f in found.items), found.end_cursor, found.has_next)

    return _paged(page, Change)


# -- lists ----------------------------------------------------------------------------------
def _status(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return RunStatus(str(value).upper()).value
    except ValueError:
        raise InvalidInput("status", "must be one of "
                           + ", ".join(s.value.lower() for s in RunStatus), value) from None


def runs(*, person: str | None = None, experiment: str | None = None,
         model: str | None = None, dataset: str | None = None, status: str | None = None,
         since: Any = None, page_size: int = PAGE) -> Results[RunSummary]:
    """Runs newest first, matching every filter given: trained by ``person``, in
    ``experiment``, producing a version of ``model``, reading a version of ``dataset``,
    in ``status`` (running, completed, failed, aborted), started at or after ``since``."""
    filters = {"person": _optional(person, "person", "person"),
               "experiment": _optional(experiment, "experiment", "experiment"),
               "model": _optional(model, "model", "model"),
               "dataset": _optional(dataset, "dataset", "dataset"),
               "status": _status(status), "since": _instant(since, "since")}
    size = _size(page_size)

    def page(after: str | None) -> Page[RunSummary]:
        found = runs_page(_graph(), **filters, first=size, after=after)
        return Page(tuple(run_summary(s) for s in found.items), found.end_cursor,
                    found.has_next)

    return _paged(page, RunSummary)


def _nodes(kind: str, label: Label, filters: dict[str, Any], size: Any) -> Results[Any]:
    first = _size(size)

    def page(after: str | None) -> Page[Any]:
        found = nodes_page(_graph(), kind, filters, first=first, after=after)
        return Page(tuple(entity(label, p) for p in found.items), found.end_cursor,
                    found.has_next)

    return _paged(page, ENTITY[label])


def models(*, owner: str | None = None, team: str | None = None, page_size: int = PAGE
           ) -> Results[Any]:
    """Models by name; ``owner`` (a person) or ``team`` keeps those they own now."""
    return _nodes("models", Label.MODEL, {"owner": _optional(owner, "owner", "person"),
                                          "team": _optional(team, "team", "team")}, page_size)


def datasets(*, owner: str | None = None, team: str | None = None, page_size: int = PAGE
             ) -> Results[Any]:
    """Datasets by name; ``owner`` or ``team`` keeps those they own now."""
    return _nodes("datasets", Label.DATASET, {"owner": _optional(owner, "owner", "person"),
                                              "team": _optional(team, "team", "team")},
                  page_size)


def experiments(*, owner: str | None = None, team: str | None = None, page_size: int = PAGE
                ) -> Results[Any]:
    """Experiments by name; ``owner`` or ``team`` keeps those they own now."""
    return _nodes("experiments", Label.EXPERIMENT,
                  {"owner": _optional(owner, "owner", "person"),
                   "team": _optional(team, "team", "team")}, page_size)


def people(*, team: str | None = None, active: bool | None = None, page_size: int = PAGE
           ) -> Results[Any]:
    """People by handle; ``team`` keeps its members, ``active`` those here (True) or
    gone (False)."""
    if active is not None and not isinstance(active, bool):
        raise InvalidInput("active", "must be True, False or None", active)
    return _nodes("people", Label.PERSON, {"team": _optional(team, "team", "team"),
                                           "active": active}, page_size)


def teams(*, page_size: int = PAGE) -> Results[Any]:
    """Teams by name."""
    return _nodes("teams", Label.TEAM, {}, page_size)
