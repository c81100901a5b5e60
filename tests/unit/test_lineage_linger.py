"""The lineage writer's short wait for callers in flight, and the one-statement upsert."""

from __future__ import annotations

import asyncio
import time

from kb.api.lineage_batching import Coalescer
from kb.domain import Label
from kb.graph.statements import UPSERT, rows_parameter, upsert_all


class _Echo(Coalescer[int, int]):
    linger = 0.2

    def __init__(self, graph: object) -> None:
        super().__init__(graph)  # type: ignore[arg-type]
        self.batches: list[list[int]] = []

    def run(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        time.sleep(0.02)
        return items


def test_a_lone_caller_never_waits() -> None:
    async def main() -> float:
        echo = _Echo(None)
        start = time.perf_counter()
        for i in range(3):
            assert await echo.submit(i) == i
        return time.perf_counter() - start

    assert asyncio.run(main()) < 0.2  # three batches, none lingered


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


def test_upsert_all_runs_each_label_body_in_order() -> None:
    labels = (Label.DATASET, Label.DATASET_VERSION, Label.RUN)
    statement = upsert_all(labels)
    assert upsert_all(labels) is statement  # built once per combination
    positions = [statement.index(f"UNWIND ${rows_parameter(label)} AS row") for label in labels]
    assert positions == sorted(positions)
    assert statement.count("CALL (now) {") == len(labels)
    assert "$rows " not in statement and UPSERT[Label.RUN].startswith("CYPHER replan=skip")
