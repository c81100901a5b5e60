"""Per-request dataloaders: each batch of keys is one ``graph.read``.

Created in ``get_context`` for every request, so caches never outlive the request and one
client's reads are never served to another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from kb.domain import Label
from kb.graph import Graph
from kb.graph.nodes import LIST_CAP, Linked, nodes_by_keys, related


class Loaders:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._nodes: dict[Label, DataLoader[str, dict[str, Any] | None]] = {}
        self._related: dict[tuple[str, tuple[Label, str] | None],
                            DataLoader[str, list[Linked]]] = {}

    async def read(self, work: Callable[..., Any], *args: Any) -> Any:
        """One unit of work off the event loop (the driver is blocking)."""
        return await run_in_threadpool(self.graph.read, work, *args)

    def node(self, label: Label) -> DataLoader[str, dict[str, Any] | None]:
        loader = self._nodes.get(label)
        if loader is None:
            async def load(keys: list[str]) -> list[dict[str, Any] | None]:
                found = await self.read(nodes_by_keys, label, list(keys))
                return [found.get(k) for k in keys]

            loader = self._nodes[label] = DataLoader(load_fn=load, max_batch_size=1000)
        return loader

    def related(self, relation: str, after: tuple[Label, str] | None = None
                ) -> DataLoader[str, list[Linked]]:
        """Neighbours per key, at most ``LIST_CAP``; with ``after`` (a neighbour's label
        and key) those that follow it, so every parent asking the same page shares a read."""
        loader = self._related.get((relation, after))
        if loader is None:
            async def load(keys: list[str]) -> list[list[Linked]]:
                found = await self.read(related, relation, list(keys), LIST_CAP, after)
                return [found.get(k, []) for k in keys]

            loader = self._related[(relation, after)] = DataLoader(load_fn=load,
                                                                  max_batch_size=1000)
        return loader
