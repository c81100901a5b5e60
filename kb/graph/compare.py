"""What changed between two runs: ``compare_runs``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import Label
from kb.errors import NotFound

from .driver import Graph
from .properties import decode, projection

log = logging.getLogger(__name__)

_RUN = projection("r", Label.RUN, ("params", "metrics"))
RUNS = """
UNWIND $ids AS id
MATCH (r:Run {id: id})
RETURN r.id AS id, """ + _RUN + """ AS run,
  COLLECT { MATCH (r)-[u:USED]->(d:DatasetVersion) RETURN d.key AS k ORDER BY k } AS inputs,
  COLLECT { MATCH (r)-[:AT_COMMIT]->(c:CodeVersion) RETURN c.commit LIMIT 1 } AS code,
  COLLECT { MATCH (r)-[:IN_ENV]->(e:Environment) RETURN e.digest LIMIT 1 } AS env
"""


@dataclass(frozen=True)
class ValueChange:
    """One key whose value differs; ``None`` on a side means the key is absent there."""

    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class RunComparison:
    a: str
    b: str
    params: tuple[ValueChange, ...]
    metrics: tuple[ValueChange, ...]
    inputs_only_a: tuple[str, ...]
    inputs_only_b: tuple[str, ...]
    commit_a: str | None
    commit_b: str | None
    environment_a: str | None
    environment_b: str | None

    @property
    def same_code(self) -> bool:
        return self.commit_a == self.commit_b

    @property
    def same_environment(self) -> bool:
        return self.environment_a == self.environment_b


def _changes(a: dict[str, Any], b: dict[str, Any]) -> tuple[ValueChange, ...]:
    return tuple(ValueChange(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
                 if a.get(k) != b.get(k) or (k in a) != (k in b))


def _read(tx: ManagedTransaction, ids: list[str]) -> dict[str, dict[str, Any]]:
    return {r["id"]: {**r.data(), "run": decode(Label.RUN, r["run"])}
            for r in tx.run(RUNS, ids=ids)}


def compare_runs(graph: Graph, a: str, b: str) -> RunComparison:
    """Params, metrics, input data versions, commit and environment that differ."""
    rows = graph.read(_read, [a, b])
    for run_id in (a, b):
        if run_id not in rows:
            raise NotFound("run", run_id)
    ra, rb = rows[a], rows[b]

    def load(row: dict[str, Any], name: str) -> dict[str, Any]:
        value = row["run"].get(name)
        return value if isinstance(value, dict) else {}

    ins_a, ins_b = set(ra["inputs"]), set(rb["inputs"])
    return RunComparison(
        a=a, b=b,
        params=_changes(load(ra, "params"), load(rb, "params")),
        metrics=_changes(load(ra, "metrics"), load(rb, "metrics")),
        inputs_only_a=tuple(sorted(ins_a - ins_b)), inputs_only_b=tuple(sorted(ins_b - ins_a)),
        commit_a=(ra["code"] or [None])[0], commit_b=(rb["code"] or [None])[0],
        environment_a=(ra["env"] or [None])[0], environment_b=(rb["env"] or [None])[0],
    )
