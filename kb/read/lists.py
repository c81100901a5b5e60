"""kb's lists from Python: runs, models, datasets, experiments, people, teams.

Each is a ``Results`` read a page at a time through the same ``kb.graph`` reads the CLI
and the API list with; the first page is read at the call, the rest as they are used.
"""

from __future__ import annotations

from typing import Any

from kb.domain import Label, RunStatus
from kb.domain.paging import Page
from kb.errors import InvalidInput

from .answers import RunSummary, run_summary
from .arguments import (
    PAGE,
    default_graph,
    instant,
    optional_name,
    page_length,
    paged,
)
from .entities import ENTITY, entity
from .fetch import nodes_page, runs_page
from .results import Results


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
    filters = {"person": optional_name(person, "person", "person"),
               "experiment": optional_name(experiment, "experiment", "experiment"),
               "model": optional_name(model, "model", "model"),
               "dataset": optional_name(dataset, "dataset", "dataset"),
               "status": _status(status), "since": instant(since, "since")}
    size = page_length(page_size)

    def page(after: str | None) -> Page[RunSummary]:
        found = runs_page(default_graph(), **filters, first=size, after=after)
        return Page(tuple(run_summary(s) for s in found.items), found.end_cursor,
                    found.has_next)

    return paged(page, RunSummary)


def _nodes(kind: str, label: Label, filters: dict[str, Any], size: Any) -> Results[Any]:
    first = page_length(size)

    def page(after: str | None) -> Page[Any]:
        found = nodes_page(default_graph(), kind, filters, first=first, after=after)
        return Page(tuple(entity(label, p) for p in found.items), found.end_cursor,
                    found.has_next)

    return paged(page, ENTITY[label])


def models(*, owner: str | None = None, team: str | None = None, page_size: int = PAGE
           ) -> Results[Any]:
    """Models by name; ``owner`` (a person) or ``team`` keeps those they own now."""
    return _nodes("models", Label.MODEL, {"owner": optional_name(owner, "owner", "person"),
                                          "team": optional_name(team, "team", "team")}, page_size)


def datasets(*, owner: str | None = None, team: str | None = None, page_size: int = PAGE
             ) -> Results[Any]:
    """Datasets by name; ``owner`` or ``team`` keeps those they own now."""
    return _nodes("datasets", Label.DATASET, {"owner": optional_name(owner, "owner", "person"),
                                              "team": optional_name(team, "team", "team")},
                  page_size)


def experiments(*, owner: str | None = None, team: str | None = None, page_size: int = PAGE
                ) -> Results[Any]:
    """Experiments by name; ``owner`` or ``team`` keeps those they own now."""
    return _nodes("experiments", Label.EXPERIMENT,
                  {"owner": optional_name(owner, "owner", "person"),
                   "team": optional_name(team, "team", "team")}, page_size)


def people(*, team: str | None = None, active: bool | None = None, page_size: int = PAGE
           ) -> Results[Any]:
    """People by handle; ``team`` keeps its members, ``active`` those here (True) or
    gone (False)."""
    if active is not None and not isinstance(active, bool):
        raise InvalidInput("active", "must be True, False or None", active)
    return _nodes("people", Label.PERSON, {"team": optional_name(team, "team", "team"),
                                           "active": active}, page_size)


def teams(*, page_size: int = PAGE) -> Results[Any]:
    """Teams by name."""
    return _nodes("teams", Label.TEAM, {}, page_size)
