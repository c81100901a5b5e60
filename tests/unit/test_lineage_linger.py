"""The lineage writer's short wait for callers in flight, and the one-statement upsert."""

from __future__ import annotations

import asyncio
import time

from kb.api.lineage_batching import Coalescer
from kb.domain import Label, Rel
from kb.graph.plan import EMBEDDED, PROPERTIES, full_shape
from kb.graph.statements import rows_parameter, upsert_all


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
    parts = tuple((label, full_shape(label)) for label in labels)
    statement = upsert_all(parts)
    assert upsert_all(parts) is statement  # built once per combination
    positions = [statement.index(f"UNWIND ${rows_parameter(label)} AS row") for label in labels]
    assert positions == sorted(positions)
    assert statement.count("CALL (now) {") == len(labels)
    assert "$rows " not in statement and statement.startswith("CYPHER replan=skip")


def test_a_shaped_upsert_names_only_its_columns() -> None:
    names = PROPERTIES[Label.RUN]
    shape = ((EMBEDDED[Label.RUN].index((Label.PERSON, Rel.TRAINED, Label.RUN)),),
             (names.index("name"), names.index("startedAt")))
    statement = upsert_all(((Label.RUN, shape),))
    assert "MERGE (o)-[r:TRAINED]->(n)" in statement and "PART_OF" not in statement
    assert "n.`name` = coalesce(row[3], n.`name`)" in statement
    assert "n.`startedAt` = coalesce(datetime(row[4]), n.`startedAt`)" in statement
    assert "seed" not in statement
    stubs = upsert_all(((Label.EXPERIMENT, ((), ())),))
    assert "WHERE" not in stubs and "MERGE (n:Experiment {name: row[0]})" in stubs
