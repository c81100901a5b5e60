"""The lineage writer's short wait for callers in flight, and the one-statement upsert's
cache (what the statements write: ``tests/integration/test_upserts.py``)."""

from __future__ import annotations

import asyncio
import time

import pytest

from kb.api.lineage_batching import Coalescer
from kb.domain import Label
from kb.graph.plan import full_shape
from kb.graph.statements import upsert_all


class _Echo(Coalescer[int, int]):
    linger = 0.2

    def __init__(self, graph: object) -> None:
        super().__init__(graph)  # type: ignore[arg-type]
        self.batches: list[list[int]] = []

    def run(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        time.sleep(0.02)
        return items


#: Only stops a hung test: a batch held back for callers that never come would wait
#: out ``linger`` and then this.
HANG = 30.0


def test_a_lone_caller_never_waits() -> None:
    async def main() -> list[list[int]]:
        echo = _Echo(None)
        echo.linger = 3600.0  # a batch held back for its caller would not come back
        for i in range(3):
            try:
                assert await asyncio.wait_for(echo.submit(i), HANG) == i
            except TimeoutError:
                pytest.fail(f"the lone caller's request {i} was held back for others")
        return echo.batches

    assert asyncio.run(main()) == [[0], [1], [2]]  # each request its own batch, at once


def test_callers_answered_together_come_back_together() -> None:
    async def caller(echo: _Echo, n: int) -> None:
        for i in range(3):
            await echo.submit(n * 10 + i)
            await asyncio.sleep(0.005 * n)  # the callers come back at different times

    async def main() -> list[list[int]]:
        echo = _Echo(None)
        await asyncio.gather(*(caller(echo, n) for n in range(4)))
        return echo.batches

    batches = asyncio.run(main())
    assert sorted(i for b in batches for i in b) == sorted(n * 10 + i for n in range(4)
                                                            for i in range(3))
    assert [len(b) for b in batches] == [4, 4, 4]


def test_an_upsert_statement_is_built_once_per_combination_of_labels() -> None:
    labels = (Label.DATASET, Label.DATASET_VERSION, Label.RUN)
    parts = tuple((label, full_shape(label)) for label in labels)
    assert upsert_all(parts) is upsert_all(parts)
