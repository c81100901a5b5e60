"""``Client``: the write path bound to one graph and one actor.

Each convenience method is a one-record batch; ``batch()`` groups many calls into one
transaction; ``pipeline()`` writes a stream of such batches while the next is built.
GraphQL mutations, the CLI, the SDK and the importers all write through here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from kb.domain import (
    Batch,
    DeploymentRecord,
    ModelVersionRecord,
    NoteRecord,
    OwnershipRecord,
    RunSource,
)
from kb.domain.erase import DeleteResult, ForgetResult
from kb.domain.keys import parse_ref
from kb.domain.limits import SHORT_TEXT
from kb.domain.text import clean_text
from kb.errors import InvalidInput
from kb.graph import Graph, WriteResult, apply, erase
from kb.graph.plan import Plan

from .builder import BatchBuilder
from .pipeline import Pipeline


class Client:
    """``source`` is where this client's runs come from (``kb.domain.RunSource``); a run
    that another source created refuses its writes unless it accepts this one."""

    def __init__(self, graph: Graph, *, actor: str, default_person: str | None = None,
                 source: RunSource | str = RunSource.SDK) -> None:
        self.graph = graph
        self.actor = actor
        self.default_person = default_person
        self.source = RunSource(source)

    def builder(self) -> BatchBuilder:
        return BatchBuilder(self.graph, source=self.source)

    def write(self, builder: BatchBuilder, *, now: datetime | None = None) -> WriteResult:
        return self.write_batch(builder.batch(), now=now, made_up=frozenset(builder.made_up))

    def write_batch(self, batch: Batch, *, plan: Plan | None = None,
                    now: datetime | None = None, made_up: frozenset[str] = frozenset()
                    ) -> WriteResult:
        """Write a built batch; ``plan`` is ``kb.graph.prepare(batch)`` if already built,
        ``made_up`` the deployment ids its builder made up (``BatchBuilder.made_up``)."""
        if not batch:
            return WriteResult()
        return apply(self.graph, batch, actor=self.actor, now=now or datetime.now(UTC),
                     plan=plan, made_up=made_up, path=self.source.value)

    @contextlib.contextmanager
    def batch(self) -> Iterator[BatchBuilder]:
        """Collect writes and apply them in one transaction when the block ends cleanly."""
        builder = self.builder()
        yield builder
        self.write(builder)

    def pipeline(self, *, depth: int = 2) -> Pipeline:
        """Batches written in order by a background thread while the caller builds the
        next: ``with client.pipeline() as pipe: with pipe.batch() as b: ...``."""
        return Pipeline(self, depth=depth)

    # One-record writes, each its own transaction.
    def person(self, handle: str, **fields: Any) -> None:
        with self.batch() as b:
            b.person(handle, **fields)

    def team(self, name: str, **fields: Any) -> None:
        with self.batch() as b:
            b.team(name, **fields)

    def dataset(self, name: str, **fields: Any) -> None:
        with self.batch() as b:
            b.dataset(name, **fields)

    def dataset_version(self, dataset: str, version: str, **fields: Any) -> None:
        with self.batch() as b:
            b.dataset_version(dataset, version, **fields)

    def experiment(self, name: str, **fields: Any) -> None:
        with self.batch() as b:
            b.experiment(name, **fields)

    def model(self, name: str, **fields: Any) -> None:
        with self.batch() as b:
            b.model(name, **fields)

    def log_run(self, *, models: list[dict[str, Any]] | None = None, **fields: Any
                ) -> tuple[str, list[ModelVersionRecord]]:
        """Record a finished run and the model versions it produced, in one transaction."""
        b = self.builder()
        fields.setdefault("person", self.default_person)
        run, _ = b.run_with_models(models=models, **fields)
        result = self.write(b)
        return run.id, [
            ModelVersionRecord(model=m, version=v, run_id=r) for m, v, r in result.model_versions
        ]

    def register_model(self, model: str, **fields: Any) -> ModelVersionRecord:
        b = self.builder()
        b.model_version(model, **fields)
        (name, version, run_id), = self.write(b).model_versions
        return ModelVersionRecord(model=name, version=version, run_id=run_id)

    def deploy(self, model: str, version: str | int, **fields: Any) -> DeploymentRecord:
        b = self.builder()
        rec = b.deploy(model, version, **fields)
        (deployment_id,) = self.write(b).deployments
        return rec.model_copy(update={"id": deployment_id})

    def retire(self, deployment_id: str) -> None:
        with self.batch() as b:
            b.retire(deployment_id)

    def own(self, asset: str, *, owner: str, role: str = "owner", **fields: Any
            ) -> OwnershipRecord:
        b = self.builder()
        rec = b.own(asset, owner=owner, role=role, **fields)
        self.write(b)
        return rec

    def transfer(self, asset: str, *, to: str, from_: str, role: str = "owner"
                 ) -> OwnershipRecord:
        """Close ``from_``'s ownership (kept as history with ``until``) and open ``to``'s."""
        return self.own(asset, owner=to, role=role, transfer_from=from_)

    def note(self, about: str, body: str, *, by: str | None = None) -> NoteRecord:
        b = self.builder()
        rec = b.note(about, body, by=by or self.default_person)
        self.write(b)
        return rec

    # Removals: rare, each its own transaction, recorded like every write.
    def delete(self, ref: str, *, cascade: bool = False, reason: str | None = None
               ) -> DeleteResult:
        """Remove the entity ``ref`` (``model:churn@3``) with its links; with ``cascade``
        also what cannot stand without it, and other entities' links to it
        (``kb.domain.erase``). ``NotFound`` if absent, ``HasDependents`` if refused."""
        target = parse_ref(ref, field="ref")
        return self.graph.write(erase.delete, target, cascade=cascade,
                                reason=_reason(reason), actor=self.actor,
                                path=self.source.value, now=datetime.now(UTC))

    def preview_delete(self, ref: str, *, cascade: bool = False) -> DeleteResult:
        """What ``delete`` would remove and unlink, read only (the same errors)."""
        return self.graph.read(erase.preview, parse_ref(ref, field="ref"), cascade=cascade)

    def forget(self, handle: str, *, reason: str | None = None) -> ForgetResult:
        """Erase a person's personal data everywhere, leaving the pseudonym it returns."""
        if not isinstance(handle, str) or not handle.strip():
            raise InvalidInput("handle", "must be a person's handle", handle)
        return self.graph.write(erase.forget, handle.strip(), reason=_reason(reason),
                                actor=self.actor, path=self.source.value,
                                now=datetime.now(UTC))


def _reason(reason: str | None) -> str | None:
    """A removal's reason, held to the rules of free text."""
    if reason is None or not reason.strip():
        return None
    try:
        return clean_text(reason.strip(), SHORT_TEXT)
    except ValueError as exc:
        raise InvalidInput("reason", str(exc)) from None
