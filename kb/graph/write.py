"""Write one ``Batch`` in one managed transaction: all of it, or none of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import Batch, Label, Rel, versioned_key
from kb.domain.changes import LinkChange
from kb.errors import NotFound

from . import deployments, models
from .changes import ChangeLog, new_batch, record
from .driver import Graph, plain
from .plan import NODE_ORDER, Plan, build_plan
from .run_sources import claim_runs
from .statements import (
    CLOSE_OWNERSHIP,
    LINK,
    LINK_DEFAULT_PARAMETERS,
    MISSING,
    OWN,
    created_parameter,
    rows_parameter,
    upsert_all,
)

log = logging.getLogger(__name__)


@dataclass
class WriteResult:
    """What the caller could not know before the write: assigned model versions and
    deployment ids."""

    model_versions: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: The batch's deployment ids, in its order, made-up ones resolved (``write_batch``).
    deployments: list[str] = field(default_factory=list)


def _require(tx: ManagedTransaction, label: Label, keys: set[str], kind: str) -> None:
    if not keys:
        return
    missing = tx.run(MISSING[label], keys=sorted(keys)).single(strict=True)["missing"]
    if missing:
        raise NotFound(kind, missing[0])


def prepare(batch: Batch) -> Plan | None:
    """The batch's plan with its rows laid out, when it can be built before its
    transaction (every model version is already numbered), so a pipelined writer can
    build it off the writing thread."""
    if any(mv.version is None for mv in batch.model_versions):
        return None
    return build_plan(batch).lay_out()


def write_batch(tx: ManagedTransaction, batch: Batch, now: datetime, actor: str,
                plan: Plan | None = None, *, claimed: frozenset[str] | None = None,
                made_up: frozenset[str] = frozenset(), path: str = "sdk") -> WriteResult:
    """Write ``batch`` in ``tx``, and the record of what it changed (``changes``).

    ``claimed``: the runs the caller created when it claimed the batch's runs for their
    sources in this transaction (``run_sources``), as the OpenLineage merge does with the
    states it reads; None: claim them here. ``made_up``: deployment ids no caller gave,
    which become that of the active deployment they repeat, if any
    (``deployments.reuse_active``), read here so no writer can slip in between.
    ``path``: what the write came in by (``RunSource`` values), for its records.
    """
    stamp = now.isoformat()  # every statement takes the time as text: see statements.NOW
    log = ChangeLog()
    batch_id = new_batch()
    if claimed is None:
        # First, so that a run another source owns refuses the batch before any write.
        claimed = claim_runs(tx, ((run.id, run.source.value,
                                   run.started_at.isoformat() if run.started_at else None)
                                  for run in batch.runs), stamp)
    new_models: set[str] = set()
    versions = models.assign_versions(tx, batch.model_versions, stamp, actor, new_models)
    placed = deployments.reuse_active(tx, batch.deployments, made_up)
    if plan is None or versions is not batch.model_versions or placed is not batch.deployments:
        batch = batch.model_copy(update={"model_versions": versions, "deployments": placed})
        plan = build_plan(batch).lay_out()  # every label's rows, and its size, once

    # Each label's upsert also writes the links it carries (plan.EMBEDDED). References
    # that must already exist (in the graph or in this batch) are checked next; a NotFound
    # aborts the transaction, so nothing is written.
    _upsert_nodes(tx, plan, stamp, actor, {
        "path": path, "batch": batch_id,
        created_parameter(Label.RUN): dict.fromkeys(claimed, 1),
        created_parameter(Label.MODEL): dict.fromkeys(new_models, 1)})
    # Runs of this very batch were just written; only the others need looking up.
    batch_runs = {run.id for run in batch.runs}
    _require(tx, Label.RUN,
             {mv.run_id for mv in versions if mv.run_id and mv.run_id not in batch_runs}, "run")
    _require(tx, Label.MODEL_VERSION,
             {versioned_key(d.model, d.version) for d in batch.deployments}, "model version")
    _require(tx, Label.DEPLOYMENT, set(batch.retirements), "deployment")
    for note in batch.notes:
        _require(tx, note.about.label, {note.about.key}, note.about.label.value)
    for own in batch.ownerships:
        _require(tx, own.asset.label, {own.asset.key}, own.asset.label.value)

    for triple, rows in plan.loose_link_rows().items():
        a, rel, b = triple
        for rec in tx.run(LINK[triple], rows=rows, now=stamp, **LINK_DEFAULT_PARAMETERS):
            log.link(a, rec["a"], LinkChange(rel, "out", b, rec["b"]))

    models.move_aliases(tx, versions, stamp, actor, log)
    deployments.retire_replaced(tx, batch.deployments, stamp, actor, log)
    deployments.retire(tx, batch.retirements, stamp, actor, log)
    _ownerships(tx, batch, stamp, actor, log)
    record(tx, log, now=stamp, actor=actor, path=path, batch=batch_id)
    return WriteResult([(mv.model, mv.version or "", mv.run_id) for mv in versions],
                       [d.id for d in placed])


def _upsert_nodes(tx: ManagedTransaction, plan: Plan, now: str, actor: str,
                  recording: dict[str, Any]) -> None:
    """Every node row of ``plan``, label by label in ``NODE_ORDER``, in one statement,
    with its change records (``recording``: the parameters they take)."""
    present = [(label, nodes) for label in NODE_ORDER if (nodes := plan.node_rows(label)).rows]
    if not present:
        return
    if plan.small:
        # Concurrent small batches (lineage groups of two server processes) often share
        # nodes (datasets, experiments): taking their locks in key order, as every
        # such batch does, keeps most of them from deadlocking each other (and retrying).
        for _, nodes in present:
            nodes.rows.sort(key=_key)
    statement = upsert_all(tuple((label, nodes.shape) for label, nodes in present))
    params = {rows_parameter(label): nodes.rows for label, nodes in present}
    tx.run(statement, params, now=now, actor=actor, **recording,
           **LINK_DEFAULT_PARAMETERS).consume()


def _key(row: list[Any]) -> str:
    return row[0]


def _ownerships(tx: ManagedTransaction, batch: Batch, now: str, actor: str,
                log: ChangeLog) -> None:
    for own in batch.ownerships:
        asset, owner = own.asset, own.owner
        if own.transfer_from is not None:
            for rec in tx.run(CLOSE_OWNERSHIP[asset.label], rows=[{
                "asset": asset.key, "role": own.role, "since": own.since,
                "fromKey": own.transfer_from.key, "fromLabel": own.transfer_from.label.value,
            }], now=now, actor=actor):
                log.link(asset.label, asset.key, LinkChange(
                    Rel.OWNS, "in", own.transfer_from.label, rec["owner"], "close",
                    {"role": rec["role"], "since": plain(rec["since"]),
                     "until": plain(rec["until"])}))
        for rec in tx.run(OWN[(owner.label, asset.label)], rows=[{
            "owner": owner.key, "asset": asset.key, "role": own.role, "since": own.since,
        }], now=now, actor=actor):
            log.link(asset.label, asset.key, LinkChange(
                Rel.OWNS, "in", owner.label, rec["owner"], "add",
                {"role": rec["role"], "since": plain(rec["since"])}))


def apply(graph: Graph, batch: Batch, *, actor: str, now: datetime | None = None,
          plan: Plan | None = None, made_up: frozenset[str] = frozenset(),
          path: str = "sdk") -> WriteResult:
    """Write ``batch`` atomically and idempotently, stamped with ``actor``.

    ``plan`` is ``prepare(batch)`` when the caller built it already; ``made_up`` and
    ``path`` as ``write_batch`` takes them.
    """
    stamp = now or datetime.now(UTC)
    return graph.write(write_batch, batch, stamp, actor, plan, made_up=made_up, path=path)
