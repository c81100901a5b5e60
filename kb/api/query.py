"""The root ``Query``: entities by key, ``node(id:)``, the root lists and the questions.

Every question is one function in kb.graph, shared with the CLI and the site. Those written
as a ``Question`` (whoTrained, impact) are awaited on the event loop (``_ask``); the others
run in a worker thread, so the blocking driver never holds the loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import strawberry
from starlette.concurrency import run_in_threadpool

from kb.domain import Label, Ref, from_global_id, parse_ref, to_global_id, versioned_key
from kb.domain.paging import page_size
from kb.errors import InvalidInput, NotFound
from kb.graph import deployments as graph_deployments
from kb.graph import lineage as graph_lineage
from kb.graph.compare import compare_runs
from kb.graph.diff import diff as graph_diff
from kb.graph.driver import Question
from kb.graph.entities import kind_name
from kb.graph.lineage import asking_impact
from kb.graph.lineage import neighbours as graph_neighbours
from kb.graph.nodes import ROOTS, root_count, root_page
from kb.graph.ownership import handover as graph_handover
from kb.graph.ownership import orphans as graph_orphans
from kb.graph.runs import runs_count, runs_page
from kb.graph.search import search as graph_search
from kb.graph.training import asking_who_trained, asking_who_trained_page

from .answers import (
    DeploymentFact,
    Direction,
    HandoverItem,
    ImpactItem,
    LineageGraph,
    LineageNeighbours,
    LineageWay,
    ModelDiff,
    Orphan,
    RunComparison,
    SearchHit,
    Training,
    comparison,
    deployment_fact,
    handover_item,
    impact_item,
    lineage_graph,
    lineage_neighbours,
    model_diff,
    orphan,
    training,
)
from .common import (
    AFTER_ID,
    FIRST_ITEMS,
    Connection,
    Node,
    items_after,
    keyset_connection,
    list_size,
)
from .context import Info
from .history import ChangeConnection, ChangeKind, changes_between
from .types import (
    Dataset,
    DatasetVersion,
    Deployment,
    DeploymentStatus,
    EntityKind,
    Experiment,
    Model,
    ModelVersion,
    Person,
    Run,
    RunStatus,
    Team,
    build,
)

FIRST = strawberry.argument(description="Page size, 100 at most.")
AFTER = strawberry.argument(description="The endCursor of the previous page.")
#: The default page of the questions, which returned every answer before taking ``first``.
ANSWERS = 100
AS_OF = strawberry.argument(description="An instant: answer as things stood then "
                              "(default: now).")
T = TypeVar("T")
AsOf = Annotated[datetime | None, AS_OF]
After = Annotated[strawberry.ID | None, AFTER_ID]
AsOf = Annotated[datetime | None, strawberry.argument(
    description="Answer as the graph stood at this instant (UTC unless it says).")]
First = Annotated[int, FIRST_ITEMS]


def _answers(items: list[Any], first: int, after: str | None, label_key: Any) -> list[Any]:
    """One page of a question's answer, in the answer's order: ``first`` items after the
    one whose id is ``after`` (``label_key`` gives an item's label and key)."""
    size = list_size(first)
    return items_after(items, after, lambda i: to_global_id(*label_key(i)))[:size]


async def get_entity(info: Info, label: Label, key: str) -> Any:
    props = await info.context.loaders.node(label).load(key)
    if props is None:
        raise NotFound(kind_name(label), key)
    return build(label, props)


def read_ref(text: str, field: str = "id") -> Ref:
    """A global id, or an entity reference such as ``dataset:customers@2024-05``."""
    if not text or not text.strip():
        raise InvalidInput(field, "must be a node id or a reference like model:churn@7", text)
    if ":" in text:
        return parse_ref(text.strip(), field=field)
    return from_global_id(text.strip())


_ROOT_LABELS = {"models": Label.MODEL, "datasets": Label.DATASET, "people": Label.PERSON,
                "teams": Label.TEAM, "experiments": Label.EXPERIMENT}


async def _page(info: Info, kind: str, first: int | None, after: str | None,
                **filters: Any) -> Connection[Any]:
    """A keyset page of a root list; ``totalCount`` is read only when selected."""
    size = page_size(20 if first is None else first)
    found = await info.context.loaders.read(root_page, kind, filters, size, after)
    label = _ROOT_LABELS[kind]
    key = ROOTS[kind].key

    async def count() -> int:
        return await info.context.loaders.read(root_count, kind, filters)

    return keyset_connection(found, lambda p: build(label, p), lambda p: (p[key],), after,
                             count)


async def _runs(info: Info, first: int | None, after: str | None,
                filters: dict[str, Any]) -> Connection[Run]:
    graph = info.context.graph
    found = await _call(runs_page, graph, first=20 if first is None else first, after=after,
                        **filters)

    async def count() -> int:
        return await _call(runs_count, graph, **filters)

    return keyset_connection(found, lambda s: build(Label.RUN, s.properties),
                             lambda s: (s.started_at, s.id), after, count)


async def _call(fn: Any, *args: Any, **kw: Any) -> Any:
    return await run_in_threadpool(fn, *args, **kw)


async def _ask(info: Info, question: Question[T]) -> T:
    """A question's answer, read on the event loop (``AsyncGraph``), or in a worker
    thread where the app has no async twin of its graph."""
    aio = info.context.aio
    if aio is None:
        return await run_in_threadpool(info.context.graph.ask, question)
    return await aio.ask(question)


@strawberry.type
class Query:
    @strawberry.field(description="A person by handle.")
    async def person(self, info: Info, handle: str) -> Person | None:
        return await get_entity(info, Label.PERSON, handle)

    @strawberry.field
    async def team(self, info: Info, name: str) -> Team | None:
        return await get_entity(info, Label.TEAM, name)

    @strawberry.field
    async def dataset(self, info: Info, name: str) -> Dataset | None:
        return await get_entity(info, Label.DATASET, name)

    @strawberry.field
    async def dataset_version(self, info: Info, dataset: str, version: str
                              ) -> DatasetVersion | None:
        return await get_entity(info, Label.DATASET_VERSION, versioned_key(dataset, version))

    @strawberry.field
    async def experiment(self, info: Info, name: str) -> Experiment | None:
        return await get_entity(info, Label.EXPERIMENT, name)

    @strawberry.field
    async def model(self, info: Info, name: str) -> Model | None:
        return await get_entity(info, Label.MODEL, name)

    @strawberry.field(description="A model version by number, or the one carrying an alias.")
    async def model_version(self, info: Info, model: str, version: str | None = None,
                            alias: str | None = None) -> ModelVersion | None:
        if version is not None:
            return await get_entity(info, Label.MODEL_VERSION, versioned_key(model, version))
        if alias is None:
            raise InvalidInput("version", "give a version or an alias", None)
        await get_entity(info, Label.MODEL, model)
        versions = await info.context.loaders.related("Model.versions").load(model)
        for item in versions:
            if alias in (item.props.get("aliases") or []):
                return build(item.label, item.props)
        raise NotFound("model version", f"{model} with alias {alias}")

    @strawberry.field
    async def run(self, info: Info, id: str) -> Run | None:
        return await get_entity(info, Label.RUN, id)

    @strawberry.field
    async def deployment(self, info: Info, id: str) -> Deployment | None:
        return await get_entity(info, Label.DEPLOYMENT, id)

    @strawberry.field(description="Any entity by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        ref = from_global_id(str(id))
        return await get_entity(info, ref.label, ref.key)

    # -- lists -------------------------------------------------------------------------
    @strawberry.field
    async def models(self, info: Info, first: Annotated[int, FIRST] = 20,
                     after: Annotated[str | None, AFTER] = None, owner: str | None = None,
                     team: str | None = None) -> Connection[Model]:
        return await _page(info, "models", first, after, owner=owner, team=team)

    @strawberry.field
    async def datasets(self, info: Info, first: Annotated[int, FIRST] = 20,
                       after: Annotated[str | None, AFTER] = None, owner: str | None = None,
                       team: str | None = None) -> Connection[Dataset]:
        return await _page(info, "datasets", first, after, owner=owner, team=team)

    @strawberry.field
    async def experiments(self, info: Info, first: Annotated[int, FIRST] = 20,
                          after: Annotated[str | None, AFTER] = None,
                          owner: str | None = None, team: str | None = None
                          ) -> Connection[Experiment]:
        return await _page(info, "experiments", first, after, owner=owner, team=team)

    @strawberry.field
    async def people(self, info: Info, first: Annotated[int, FIRST] = 20,
                     after: Annotated[str | None, AFTER] = None, team: str | None = None,
                     active: bool | None = None) -> Connection[Person]:
        return await _page(info, "people", first, after, team=team, active=active)

    @strawberry.field
    async def teams(self, info: Info, first: Annotated[int, FIRST] = 20,
                    after: Annotated[str | None, AFTER] = None) -> Connection[Team]:
        return await _page(info, "teams", first, after)

    @strawberry.field(description="Runs, newest first (start time, then id; never started "
                      "last), starting from the most selective filter given.")
    async def runs(self, info: Info, first: Annotated[int, FIRST] = 20,
                   after: Annotated[str | None, AFTER] = None, since: datetime | None = None,
                   status: RunStatus | None = None, person: str | None = None,
                   experiment: str | None = None,
                   model: Annotated[str | None, strawberry.argument(
                       description="Only runs that produced a version of this model."
                   )] = None,
                   dataset: Annotated[str | None, strawberry.argument(
                       description="Only runs that read a version of this dataset.")] = None
                   ) -> Connection[Run]:
        return await _runs(info, first, after, {
            "since": since, "person": person, "status": status.value if status else None,
            "experiment": experiment, "model": model, "dataset": dataset})

    @strawberry.field(description="Every change from `since` to `until` (both included), "
                      "newest first; `actor` keeps one person's writes.")
    async def changes(self, info: Info, since: datetime | None = None,
                      until: datetime | None = None, actor: str | None = None,
                      kinds: Annotated[list[ChangeKind] | None, strawberry.argument(
                          description="Only changes that touched one of these.")] = None,
                      first: Annotated[int, FIRST] = 50,
                      after: Annotated[str | None, AFTER] = None) -> ChangeConnection:
        return await changes_between(info, since, until, actor, kinds, first, after)

    # -- the questions -------------------------------------------------------------------
    @strawberry.field(description="Who trained the version (or every version), on what "
                      "data; `after` takes the id of an answer.")
    async def who_trained(self, info: Info, model: str, version: str | None = None,
                          first: First = ANSWERS, after: After = None, as_of: AsOf = None
                          ) -> list[Training]:
        size = list_size(first)
        if version is None and after is None:
            # A first page reads only its own versions in full, however many the model has.
            first_page = await _ask(info, asking_who_trained_page(model, first=size,
                                                                  as_of=as_of))
            return [training(f) for f in first_page.items]
        facts = await _ask(info, asking_who_trained(model, version, as_of))
        page = _answers(facts, first, after, lambda f: (
            Label.MODEL_VERSION, versioned_key(f.model, f.version)))
        return [training(f) for f in page]

    @strawberry.field(description="Upstream and/or downstream neighbourhood; depth 10 at most.")
    async def lineage(self, info: Info, id: strawberry.ID,
                      direction: Direction = Direction.BOTH, depth: int = 3,
                      as_of: AsOf = None) -> LineageGraph:
        ref = read_ref(str(id))
        g = await _call(graph_lineage, info.context.graph, ref, direction=direction.value,
                        depth=depth, as_of=as_of)
        return lineage_graph(g)

    @strawberry.field(description="One node's neighbours along the lineage path, a page at a "
                      "time, in the order lineage shows them: a LineageCut's endCursor as "
                      "`after` lists what lineage left out. A dataset, model or experiment "
                      "lists its versions or runs.")
    async def lineage_neighbours(self, info: Info, id: strawberry.ID, direction: LineageWay,
                                 first: Annotated[int, FIRST] = 20,
                                 after: Annotated[str | None, AFTER] = None,
                                 as_of: AsOf = None) -> LineageNeighbours:
        ref = read_ref(str(id))
        found = await _call(graph_neighbours, info.context.graph, ref, direction.value,
                            first=first, after=after, as_of=as_of)
        return lineage_neighbours(found)

    @strawberry.field(description="Every downstream model version and active deployment, "
                      "nearest first; `after` takes the id of an answer.")
    async def impact(self, info: Info, dataset: str, version: str | None = None,
                     first: First = ANSWERS, after: After = None, as_of: AsOf = None
                     ) -> list[ImpactItem]:
        list_size(first)
        items = await _ask(info, asking_impact(dataset, version, as_of=as_of))
        page = _answers(items, first, after, lambda i: (
            Label.DEPLOYMENT if i.kind == "DEPLOYMENT" else Label.MODEL_VERSION, i.key))
        return [impact_item(i) for i in page]

    @strawberry.field(description="What changed about the model between `from` and `to`: "
                      "versions, deployments, owners, aliases, and the data upstream of "
                      "production at each end.")
    async def model_diff(self, info: Info, name: str,
                         start: Annotated[datetime, strawberry.argument(name="from")],
                         end: Annotated[datetime, strawberry.argument(name="to")]
                         ) -> ModelDiff:
        return model_diff(await _call(graph_diff, info.context.graph, name, start, end))

    @strawberry.field(description="What runs where; status null gives every status; "
                      "`after` takes the id of an answer.")
    async def deployments(self, info: Info, environment: str | None = None,
                          status: DeploymentStatus | None = DeploymentStatus.ACTIVE,
                          model: str | None = None, first: First = ANSWERS,
                          after: After = None, as_of: AsOf = None) -> list[DeploymentFact]:
        list_size(first)
        facts = await _call(graph_deployments, info.context.graph, environment=environment,
                            status=status.value if status else None, model=model,
                            as_of=as_of)
        page = _answers(facts, first, after, lambda d: (Label.DEPLOYMENT, d.id))
        return [deployment_fact(f) for f in page]

    @strawberry.field(description="What a person owns, trained or deployed, flagged at risk; "
                      "`after` takes the id of an answer.")
    async def handover(self, info: Info, person: str, first: First = ANSWERS,
                       after: After = None, as_of: AsOf = None) -> list[HandoverItem]:
        list_size(first)
        items = await _call(graph_handover, info.context.graph, person, as_of)
        page = _answers(items, first, after, lambda h: (Label(h.kind), h.key))
        return [handover_item(h) for h in page]

    @strawberry.field(description="Assets with no active owner: those whose owner left, then "
                      "those never owned, each led by what feeds production; `after` takes "
                      "the id of an answer.")
    async def orphans(self, info: Info, first: First = ANSWERS, after: After = None,
                      as_of: AsOf = None) -> list[Orphan]:
        list_size(first)
        items = await _call(graph_orphans, info.context.graph, as_of)
        page = _answers(items, first, after, lambda o: (Label(o.kind), o.key))
        return [orphan(o) for o in page]

    @strawberry.field(description="Full-text search over names, descriptions and notes.")
    async def search(self, info: Info, text: str, types: list[EntityKind] | None = None,
                     first: Annotated[int, FIRST] = 20) -> list[SearchHit]:
        labels = [Label(t.value) for t in types] if types else None
        hits = await _call(graph_search, info.context.graph, text, types=labels, limit=first)
        return [SearchHit(score=h.score, node=build(h.label, h.props)) for h in hits]

    @strawberry.field(description="Differences in params, metrics, data, commit, environment.")
    async def compare_runs(self, info: Info, a: str, b: str) -> RunComparison:
        return comparison(await _call(compare_runs, info.context.graph, a, b))
