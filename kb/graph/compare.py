"""What changed between two runs: ``compare_runs``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .driver import Graph
from .runs import run_sheets

log = logging.getLogger(__name__)


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


def compare_runs(graph: Graph, a: str, b: str) -> RunComparison:
    """Params, metrics, input data versions, commit and environment that differ; the runs
    read as ``kb compare`` reads them (``runs.run_sheets``)."""
    ra, rb = run_sheets(graph, [a, b])
    ins_a, ins_b = set(ra.inputs), set(rb.inputs)
    return RunComparison(
        a=a, b=b, params=_changes(ra.params, rb.params), metrics=_changes(ra.metrics, rb.metrics),
        inputs_only_a=tuple(sorted(ins_a - ins_b)), inputs_only_b=tuple(sorted(ins_b - ins_a)),
        commit_a=ra.commit, commit_b=rb.commit,
        environment_a=ra.environment, environment_b=rb.environment,
    )
