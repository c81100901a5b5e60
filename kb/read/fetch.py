"""One page of each root list, read through the ``kb.graph`` functions the CLI and the
API call: runs by ``kb.graph.runs.runs_page``, the other root lists by
``kb.graph.nodes.root_page``, both keyset paged."""

from __future__ import annotations

from typing import Any

from kb.domain.paging import Page
from kb.graph import Graph
from kb.graph.nodes import root_page
from kb.graph.runs import runs_page

__all__ = ["nodes_page", "runs_page"]


def nodes_page(graph: Graph, kind: str, filters: dict[str, Any], *, first: int = 20,
               after: str | None = None) -> Page[dict[str, Any]]:
    """One page of a root list (``models``, ``datasets``, ``experiments``, ``people``,
    ``teams``) as the API's root fields read it: each item a node's decoded properties."""
    return graph.read(root_page, kind, filters, first, after)
