"""Mutations that mirror the SDK; every one writes through ``kb.ingest.Client``.

Same validation, idempotency and actor stamping as the SDK: the client acts as the token's
actor. Expected failures (bad input, a missing entity, a conflict) come back as typed
``errors`` in the payload; a missing scope is a request error (UNAUTHENTICATED/FORBIDDEN).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from kb.domain import Label, RunSource, versioned_key
from kb.domain.erase import HasDependents
from kb.errors import Conflict, InvalidInput, NotFound
from kb.ingest import Client

from .context import Info
from .query import get_entity
from .types import DatasetVersion, Deployment, Model, ModelVersion, Note, Person, Run, Team

log = logging.getLogger(__name__)

#: The most dependents a refused delete lists (``dependentCount`` has them all).
MAX_DEPENDENTS = 100


@strawberry.type(description="An expected failure: what was wrong and how to fix it.")
class UserError:
    code: str
    field: str | None
    message: str


def _user_error(exc: InvalidInput | NotFound | Conflict) -> UserError:
    return UserError(code=exc.code, field=getattr(exc, "field", None), message=exc.message)


async def _write(info: Info, work: Callable[[Client], Any], *, scope: str = "write"
                 ) -> tuple[Any, list[UserError]]:
    """Run ``work`` with a client acting as the caller, after the scope check."""
    principal = info.context.principal
    principal.require(scope)
    client = Client(info.context.graph, actor=principal.actor,
                    default_person=principal.actor, source=RunSource.API)
    try:
        return await run_in_threadpool(work, client), []
    except (InvalidInput, NotFound, Conflict) as exc:
        return None, [_user_error(exc)]


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# -- inputs -------------------------------------------------------------------------------
@strawberry.input
class PersonInput:
    handle: str
    name: str | None = None
    email: str | None = None
    teams: list[str] | None = None
    active: bool | None = None
    left_at: datetime | None = None


@strawberry.input
class TeamInput:
    name: str
    description: str | None = None


@strawberry.input
class DatasetVersionInput:
    dataset: str
    version: str
    uri: str | None = None
    digest: str | None = None
    rows: int | None = None
    description: str | None = None
    created_at: datetime | None = None
    derived_from: list[str] | None = strawberry.field(
        default=None, description="Source versions as NAME@VERSION.")


@strawberry.input
class RunInputInput:
    dataset: str
    version: str
    role: str | None = strawberry.field(
        default=None, description="train, validation, test or other; left out, a "
        "new input is other and a run logged again keeps the role it has.")


@strawberry.input
class CodeInput:
    repo: str
    commit: str
    branch: str | None = None
    dirty: bool | None = None


@strawberry.input
class RunModelInput:
    model: str
    version: str | None = None
    aliases: list[str] | None = None
    uri: str | None = None
    framework: str | None = None
    description: str | None = None


@strawberry.input
class LogRunInput:
    id: str | None = None
    name: str | None = None
    kind: str | None = None
    experiment: str | None = None
    person: str | None = strawberry.field(default=None,
                                          description="Defaults to the token's actor.")
    status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    params: JSON | None = None
    metrics: JSON | None = None
    command: str | None = None
    seed: int | None = None
    tracker_url: str | None = None
    inputs: list[RunInputInput] | None = None
    outputs: list[str] | None = strawberry.field(default=None,
                                                 description="Dataset versions written.")
    models: list[RunModelInput] | None = None
    code: CodeInput | None = None
    accept: list[str] | None = strawberry.field(
        default=None, description="Other sources (sdk, cli, openlineage, mlflow) whose writes "
        "may merge into this run; by default a run takes writes only from the source that "
        "created it.")


@strawberry.input
class RegisterModelVersionInput:
    model: str
    version: str | None = None
    run_id: str | None = None
    aliases: list[str] | None = None
    uri: str | None = None
    framework: str | None = None
    description: str | None = None


@strawberry.input
class DeployInput:
    model: str
    version: str
    environment: str
    endpoint: str | None = None
    deployed_by: str | None = strawberry.field(default=None,
                                               description="Defaults to the token's actor.")
    id: str | None = None


# -- payloads -----------------------------------------------------------------------------
@strawberry.type
class PersonPayload:
    person: Person | None
    errors: list[UserError]


@strawberry.type
class TeamPayload:
    team: Team | None
    errors: list[UserError]


@strawberry.type
class DatasetVersionPayload:
    dataset_version: DatasetVersion | None
    errors: list[UserError]


@strawberry.type
class LogRunPayload:
    run: Run | None
    model_versions: list[ModelVersion]
    errors: list[UserError]


@strawberry.type
class ModelVersionPayload:
    model_version: ModelVersion | None
    errors: list[UserError]


@strawberry.type
class DeploymentPayload:
    deployment: Deployment | None
    errors: list[UserError]


@strawberry.type
class OwnershipPayload:
    ok: bool
    asset: str | None
    owner: str | None
    role: str | None
    errors: list[UserError]


@strawberry.type
class NotePayload:
    note: Note | None
    errors: list[UserError]


@strawberry.type(description="A fact that stopped a delete: an entity linked to the one "
                 "deleted, which a cascade would delete too or unlink.")
class Dependent:
    ref: str = strawberry.field(description="The entity, as `model:churn@3`.")
    rel: str
    direction: str = strawberry.field(description="out when the deleted entity is the "
                                      "link's start, in when it is its end.")
    cascade: bool = strawberry.field(description="True: it would be deleted too; false: "
                                     "it would stay, without this link.")


@strawberry.type
class DeletePayload:
    deleted: list[str] = strawberry.field(description="Every entity removed, as refs.")
    unlinked: list[Dependent] = strawberry.field(
        description="Entities that stayed and lost their link to what was removed.")
    dependents: list[Dependent] = strawberry.field(
        description=f"When refused: what depends on the entity (the first {MAX_DEPENDENTS}).")
    dependent_count: int
    errors: list[UserError]


@strawberry.type
class ForgetPayload:
    pseudonym: str | None = strawberry.field(description="The person's handle from now on.")
    erased: list[str] = strawberry.field(description="Names of what was erased.")
    mentions: list[str] = strawberry.field(
        default_factory=list,
        description="Entities whose free text may still name the person (prose is not "
                    "rewritten): to review, then edit or delete.")
    errors: list[UserError]


def _dependent(d: Any) -> Dependent:
    return Dependent(ref=str(d.ref), rel=d.rel, direction=d.direction, cascade=d.cascade)


async def _maybe(info: Info, label: Label, key: str | None) -> Any:
    return None if key is None else await get_entity(info, label, key)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def record_person(self, info: Info, input: PersonInput) -> PersonPayload:
        fields = _drop_none({"name": input.name, "email": input.email, "team": input.teams,
                             "active": input.active, "left_at": input.left_at})
        _, errors = await _write(info, lambda c: c.person(input.handle, **fields))
        person = None if errors else await _maybe(info, Label.PERSON, input.handle.strip())
        return PersonPayload(person=person, errors=errors)

    @strawberry.mutation
    async def record_team(self, info: Info, input: TeamInput) -> TeamPayload:
        fields = _drop_none({"description": input.description})
        _, errors = await _write(info, lambda c: c.team(input.name, **fields))
        team = None if errors else await _maybe(info, Label.TEAM, input.name.strip())
        return TeamPayload(team=team, errors=errors)

    @strawberry.mutation
    async def record_dataset_version(self, info: Info, input: DatasetVersionInput
                                     ) -> DatasetVersionPayload:
        fields = _drop_none({"uri": input.uri, "digest": input.digest, "rows": input.rows,
                             "description": input.description,
                             "created_at": input.created_at})
        _, errors = await _write(info, lambda c: c.dataset_version(
            input.dataset, input.version, derived_from=input.derived_from or (), **fields))
        dv = None if errors else await _maybe(
            info, Label.DATASET_VERSION, versioned_key(input.dataset.strip(),
                                                       input.version.strip()))
        return DatasetVersionPayload(dataset_version=dv, errors=errors)

    @strawberry.mutation(description="Record a run with its inputs, outputs and models.")
    async def log_run(self, info: Info, input: LogRunInput) -> LogRunPayload:
        fields = _drop_none({
            "id": input.id, "name": input.name, "kind": input.kind,
            "experiment": input.experiment, "person": input.person, "status": input.status,
            "started_at": input.started_at, "ended_at": input.ended_at,
            "params": input.params, "metrics": input.metrics, "command": input.command,
            "seed": input.seed, "tracker_url": input.tracker_url, "accept": input.accept,
            "code": None if input.code is None else _drop_none({
                "repo": input.code.repo, "commit": input.code.commit,
                "branch": input.code.branch, "dirty": input.code.dirty})})
        inputs = [{"dataset": i.dataset, "version": i.version, "role": i.role}
                  for i in input.inputs or []]
        models = [_drop_none({"model": m.model, "version": m.version,
                              "aliases": m.aliases, "uri": m.uri, "framework": m.framework,
                              "description": m.description}) for m in input.models or []]
        result, errors = await _write(info, lambda c: c.log_run(
            inputs=inputs, outputs=input.outputs or (), models=models, **fields))
        if errors:
            return LogRunPayload(run=None, model_versions=[], errors=errors)
        run_id, versions = result
        return LogRunPayload(
            run=await _maybe(info, Label.RUN, run_id),
            model_versions=[await get_entity(info, Label.MODEL_VERSION,
                                             versioned_key(v.model, v.version or ""))
                            for v in versions],
            errors=[])

    @strawberry.mutation
    async def register_model_version(self, info: Info, input: RegisterModelVersionInput
                                     ) -> ModelVersionPayload:
        fields = _drop_none({"version": input.version, "run_id": input.run_id,
                             "aliases": input.aliases, "uri": input.uri,
                             "framework": input.framework, "description": input.description})
        rec, errors = await _write(info, lambda c: c.register_model(input.model, **fields))
        mv = None if errors else await _maybe(info, Label.MODEL_VERSION,
                                              versioned_key(rec.model, rec.version or ""))
        return ModelVersionPayload(model_version=mv, errors=errors)

    @strawberry.mutation(description="Record a deployment; it replaces the one at the same "
                                     "environment and endpoint.")
    async def deploy(self, info: Info, input: DeployInput) -> DeploymentPayload:
        by = input.deployed_by or info.context.principal.actor
        fields = _drop_none({"endpoint": input.endpoint, "id": input.id})
        rec, errors = await _write(info, lambda c: c.deploy(
            input.model, input.version, environment=input.environment, by=by, **fields))
        dep = None if errors else await _maybe(info, Label.DEPLOYMENT, rec.id)
        return DeploymentPayload(deployment=dep, errors=errors)

    @strawberry.mutation
    async def retire_deployment(self, info: Info, id: str) -> DeploymentPayload:
        def work(c: Client) -> None:
            from kb.domain import Ref
            from kb.graph import exists

            if not exists(c.graph, Ref(Label.DEPLOYMENT, id)):
                raise NotFound("deployment", id)
            c.retire(id)

        _, errors = await _write(info, work)
        dep = None if errors else await _maybe(info, Label.DEPLOYMENT, id)
        return DeploymentPayload(deployment=dep, errors=errors)

    @strawberry.mutation(description="Add an owner (person:HANDLE or team:NAME) to an asset.")
    async def set_owner(self, info: Info, asset: str, owner: str, role: str = "owner"
                        ) -> OwnershipPayload:
        rec, errors = await _write(info, lambda c: c.own(asset, owner=owner, role=role))
        if errors:
            return OwnershipPayload(ok=False, asset=None, owner=None, role=None, errors=errors)
        return OwnershipPayload(ok=True, asset=str(rec.asset), owner=str(rec.owner),
                                role=rec.role, errors=[])

    @strawberry.mutation(description="Close from's ownership (kept as history), open to's.")
    async def transfer_ownership(
            self, info: Info, asset: str,
            from_: Annotated[str, strawberry.argument(name="from")], to: str,
            role: str = "owner") -> OwnershipPayload:
        rec, errors = await _write(info, lambda c: c.transfer(asset, to=to, from_=from_,
                                                              role=role))
        if errors:
            return OwnershipPayload(ok=False, asset=None, owner=None, role=None, errors=errors)
        return OwnershipPayload(ok=True, asset=str(rec.asset), owner=str(rec.owner),
                                role=rec.role, errors=[])

    @strawberry.mutation(description="A note about any entity, written by the token's actor.")
    async def add_note(self, info: Info, about: str, body: str) -> NotePayload:
        rec, errors = await _write(info, lambda c: c.note(about, body,
                                                          by=info.context.principal.actor))
        note = None if errors else await _maybe(info, Label.NOTE, rec.id)
        return NotePayload(note=note, errors=errors)


    @strawberry.mutation(description="Remove an entity written by mistake, with its links, "
                         "in one transaction; admin scope. Refused, listing the "
                         "dependents, while other facts depend on it, unless cascade. "
                         "Recorded as a delete change (never its values).")
    async def delete_entity(self, info: Info, ref: str, cascade: bool | None = False,
                            reason: str | None = None) -> DeletePayload:
        def work(c: Client) -> Any:
            try:
                return c.delete(ref, cascade=bool(cascade), reason=reason)
            except HasDependents as exc:  # an expected answer, with its list
                return exc

        result, errors = await _write(info, work, scope="admin")
        if isinstance(result, HasDependents):
            return DeletePayload(
                deleted=[], unlinked=[], errors=[_user_error(result)],
                dependents=[_dependent(d) for d in result.dependents[:MAX_DEPENDENTS]],
                dependent_count=len(result.dependents))
        if errors:
            return DeletePayload(deleted=[], unlinked=[], dependents=[], dependent_count=0,
                                 errors=errors)
        return DeletePayload(deleted=[str(r) for r in result.deleted],
                             unlinked=[_dependent(d) for d in result.unlinked],
                             dependents=[], dependent_count=0, errors=[])

    @strawberry.mutation(description="Erase a person's personal data everywhere, history "
                         "included, leaving the pseudonym it returns; admin scope.")
    async def forget_person(self, info: Info, handle: str, reason: str | None = None
                            ) -> ForgetPayload:
        result, errors = await _write(info, lambda c: c.forget(handle, reason=reason),
                                      scope="admin")
        if errors:
            return ForgetPayload(pseudonym=None, erased=[], errors=errors)
        return ForgetPayload(pseudonym=result.pseudonym, erased=list(result.erased),
                             mentions=[str(ref) for ref in result.mentions],
                             errors=[])


__all__ = ["Model", "Mutation"]
