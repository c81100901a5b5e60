"""kb's questions from Python: ``import kb; kb.who_trained("churn")``.

Each function checks its arguments, calls the same ``kb.graph`` function the CLI and the
API call, and returns the records of ``kb.read.answers`` / ``kb.read.entities``. They read
through the graph the SDK writes with (``kb.connect(...)``, or the environment), and raise
kb's errors (``InvalidInput`` naming the argument, ``NotFound``) and never a driver's. A
question answered whole is a ``Results`` of one page; an entity's history is paged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kb.domain import Label, Ref, split_versioned
from kb.domain.answers import LineageNeighbour
from kb.domain.keys import KIND_LABEL
from kb.domain.paging import Page
from kb.errors import InvalidInput
from kb.graph import deployments as graph_deployments
from kb.graph import impact as graph_impact
from kb.graph import lineage as graph_lineage
from kb.graph import show as graph_show
from kb.graph import who_trained as graph_who_trained
from kb.graph.compare import compare_runs as graph_compare_runs
from kb.graph.history import entity_history
from kb.graph.lineage import neighbours as graph_neighbours
from kb.graph.ownership import handover as graph_handover
from kb.graph.ownership import orphans as graph_orphans
from kb.graph.search import SEARCHABLE
from kb.graph.search import search as graph_search
from kb.graph.training import who_trained_page

from .answers import (
    DeploymentFact,
    HandoverItem,
    ImpactItem,
    LineageGraph,
    Orphan,
    RunComparison,
    SearchHit,
    Training,
    comparison,
    deployment_fact,
    handover_item,
    impact_item,
    orphan,
    training,
)
from .arguments import (
    PAGE,
    as_ref,
    checked_name,
    default_graph,
    instant,
    optional_name,
    page_length,
    paged,
)
from .changes import Change, change
from .entities import entity
from .results import Results


# -- questions ------------------------------------------------------------------------------
def who_trained(model: str, version: str | int | None = None, *, as_of: Any = None
                ) -> Results[Training]:
    """Who trained each version of ``model`` (newest first), or only ``version``
    (``kb.who_trained("churn", version=3)``, or ``"churn@3"``): person, run, data, code,
    parameters and metrics; with ``as_of``, as things stood then."""
    name = checked_name(model, "model", "model")
    if version is None and "@" in name:
        name, version = split_versioned(name)
    if version is not None and (isinstance(version, bool)
                                or not isinstance(version, str | int)):
        raise InvalidInput("version", "must be a version number like 3, or a name", version)
    when = instant(as_of, "as_of")
    if version is None:
        def page(after: str | None) -> Page[Training]:
            found = who_trained_page(default_graph(), name, first=PAGE, after=after,
                                     as_of=when)
            return Page(tuple(training(f) for f in found.items), found.end_cursor,
                        found.has_next)
        return paged(page, Training)
    facts = graph_who_trained(default_graph(), name, str(version), when)
    return Results.of([training(f) for f in facts], Training)


def lineage(ref: str | Ref, *, direction: str = "BOTH", depth: int = 3,
            as_of: Any = None) -> LineageGraph:
    """What ``ref`` came from (``direction="UPSTREAM"``), what came of it
    (``"DOWNSTREAM"``) or both, ``depth`` relationships away (1 to 10); a bare name is a
    model. ``truncated`` says a node had more neighbours than one hop reads."""
    if not isinstance(direction, str):
        raise InvalidInput("direction", "must be UPSTREAM, DOWNSTREAM or BOTH", direction)
    return graph_lineage(default_graph(), as_ref(ref), direction=direction, depth=depth,
                         as_of=instant(as_of, "as_of"))


def lineage_neighbours(ref: str | Ref, direction: str, *, after: str | None = None,
                       as_of: Any = None) -> Results[LineageNeighbour]:
    """Every neighbour of ``ref`` along the lineage path, ``"UPSTREAM"`` or
    ``"DOWNSTREAM"``, in the order a walk shows them; give a ``LineageCut``'s
    ``end_cursor`` as ``after`` to list what a cut walk left out."""
    start, when = as_ref(ref), instant(as_of, "as_of")

    def page(cursor: str | None) -> Page[LineageNeighbour]:
        return graph_neighbours(default_graph(), start, direction, first=PAGE,
                                after=after if cursor is None else cursor, as_of=when)

    return paged(page, LineageNeighbour)


def impact(dataset: str, version: str | int | None = None, *, as_of: Any = None
           ) -> Results[ImpactItem]:
    """Every model version and active deployment downstream of ``dataset`` (every version,
    or only ``version``; ``"customers@2024-05"`` works too), nearest first."""
    name = checked_name(dataset, "dataset", "dataset")
    if version is None and "@" in name:
        name, _, version = name.rpartition("@")
        if not name or not version:
            raise InvalidInput("dataset", "expected DATASET or DATASET@VERSION", dataset)
    if version is not None and (isinstance(version, bool) or not isinstance(version, str | int)
                                or not str(version).strip()):
        raise InvalidInput("version", "must be a dataset version", version)
    items = graph_impact(default_graph(), name, None if version is None else str(version),
                         as_of=instant(as_of, "as_of"))
    return Results.of([impact_item(i) for i in items], ImpactItem)


def deployments(*, environment: str | None = None, status: str | None = "ACTIVE",
                model: str | None = None, as_of: Any = None) -> Results[DeploymentFact]:
    """What runs where: deployments by ``environment`` and ``model``, ACTIVE by default
    (``status=None`` gives every status); with ``as_of``, those live then."""
    if environment is not None and not isinstance(environment, str):
        raise InvalidInput("environment", "must be an environment name", environment)
    facts = graph_deployments(default_graph(), environment=environment, status=status,
                              model=optional_name(model, "model", "model"),
                              as_of=instant(as_of, "as_of"))
    return Results.of([deployment_fact(f) for f in facts], DeploymentFact)


def handover(person: str, *, as_of: Any = None) -> Results[HandoverItem]:
    """What ``person`` owns, trained or deployed, ``at_risk`` where nobody else would know."""
    items = graph_handover(default_graph(), checked_name(person, "person", "person"),
                           instant(as_of, "as_of"))
    return Results.of([handover_item(i) for i in items], HandoverItem)


def orphans(*, as_of: Any = None) -> Results[Orphan]:
    """Assets with no active owner: those whose owner left, then those never owned, each
    led by what feeds production."""
    items = graph_orphans(default_graph(), instant(as_of, "as_of"))
    return Results.of([orphan(o) for o in items], Orphan)


def compare_runs(a: str, b: str) -> RunComparison:
    """The params, metrics, input data, commit and environment that differ between two runs."""
    return comparison(graph_compare_runs(default_graph(), checked_name(a, "a", "run"),
                                         checked_name(b, "b", "run")))


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
    hits = graph_search(default_graph(), text, types=_labels(types), limit=first)
    return Results.of([SearchHit(h.score, entity(h.label, h.props)) for h in hits], SearchHit)


def show(ref: str | Ref) -> Any:
    """Everything kb holds about one entity (``"model:churn"``, ``"run:r-1"``,
    ``"dataset:customers@2024-05"``; a bare name is a model): its record, with ``links``."""
    target = as_ref(ref)
    data = graph_show(default_graph(), target)
    return entity(target.label, data, data["links"])


def history(ref: str | Ref, *, kinds: Iterable[str] = (), page_size: int = 20
            ) -> Results[Change]:
    """An entity's change records, newest first (a model's with its versions' and their
    deployments'): who changed what, when, through which path."""
    target = as_ref(ref)
    size = page_length(page_size)
    chosen = [kinds] if isinstance(kinds, str) else list(kinds)

    def page(after: str | None) -> Page[Change]:
        found = default_graph().read(entity_history, target.label, target.key, first=size,
                              after=after, kinds=chosen)
        return Page(tuple(change(f) for f in found.items), found.end_cursor, found.has_next)

    return paged(page, Change)
