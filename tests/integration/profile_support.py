"""What a read costs the database: ``PROFILE`` a statement and sum the db hits of its plan."""

from __future__ import annotations

from typing import Any

from kb.graph import Graph


def plan_hits(plan: dict[str, Any] | None) -> int:
    """The ``dbHits`` of a profiled plan (the driver's raw ``profile``), summed over its tree."""
    if not plan:
        return 0
    return int(plan.get("dbHits", 0)) + sum(plan_hits(c) for c in plan.get("children", ()))


def db_hits(graph: Graph, statement: str, **params: Any) -> int:
    """The db hits of one run of ``statement`` with ``params`` (its records read in full)."""
    def work(tx: Any) -> int:
        result = tx.run("PROFILE " + statement, **params)
        return plan_hits(result.consume().profile)

    return graph.read(work)


def plan_text(graph: Graph, statement: str, **params: Any) -> list[str]:
    """The operators of the statement's profiled plan with their hits, for failure messages."""
    def work(tx: Any) -> list[str]:
        lines: list[str] = []

        def walk(plan: dict[str, Any], depth: int) -> None:
            lines.append(f"{'  ' * depth}{plan.get('operatorType')} hits={plan.get('dbHits')} "
                         f"rows={plan.get('rows')} {plan.get('args', {}).get('Details', '')}")
            for c in plan.get("children", ()):
                walk(c, depth + 1)

        walk(tx.run("PROFILE " + statement, **params).consume().profile or {}, 0)
        return lines

    return graph.read(work)


class Records(list):
    """A statement's records read in full, still answering ``single()``."""

    def single(self) -> Any:
        return self[0] if self else None


class Profiling:
    """A transaction that runs every statement under ``PROFILE`` and adds up its db hits;
    hand it to a ``kb.graph`` reader in place of the transaction it takes."""

    def __init__(self, tx: Any) -> None:
        self.tx = tx
        self.hits = 0
        self.statements = 0

    def run(self, statement: str, **params: Any) -> Records:
        result = self.tx.run("PROFILE " + statement, **params)
        records = Records(result)
        self.hits += plan_hits(result.consume().profile)
        self.statements += 1
        return records


def profiled(graph: Graph, reader: Any, *args: Any, **kw: Any) -> tuple[Any, int]:
    """What ``reader(tx, *args, **kw)`` returns, and the db hits of every statement it ran."""
    def work(tx: Any) -> tuple[Any, int]:
        profiling = Profiling(tx)
        return reader(profiling, *args, **kw), profiling.hits

    return graph.read(work)
