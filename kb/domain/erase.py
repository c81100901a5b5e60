"""What a delete takes with it, what it refuses for, and the pseudonyms of forgotten people.

A delete removes one entity written by mistake. Each link of it is one of three things,
by its type and its direction seen from the deleted entity (``RULES``):

- **its own** (``OWN``): the links its own record carries (``kb.graph.plan.EMBEDDED``:
  a run's trainer, experiment, inputs, outputs, commit and environment; a version's
  model or dataset; a deployment's version and deployer; a note's subject and author;
  a person's teams) and the ownership and alias tenures of a deleted asset. They go
  with it without asking.
- **a dependent that cannot stand without it** (``CASCADE``): a model's or a dataset's
  versions, a version's deployments, notes about it. The delete refuses unless
  cascading, and then they are deleted too, recursively.
- **a fact of an entity that stays** (``UNLINK``): runs that used a dataset version or
  trained by a person, a version a run produced, ownerships a person or team holds,
  a team's members. The delete refuses unless cascading, and then the link is removed
  and the other entity stays (a run without its trainer).

Forgetting a person keeps the history's shape and erases what identifies them: the
person is re-keyed to ``former-member-N`` and every mention of the handle, name or
email anywhere in the graph becomes the pseudonym.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from kb.errors import Conflict

from .keys import Ref
from .labels import OWNABLE, Label, Rel
from .text import natural


class Action(StrEnum):
    OWN = "own"
    CASCADE = "cascade"
    UNLINK = "unlink"


#: Links a record of the label carries (the later end in write order) and the history
#: tenures of an asset or model, as (type, direction from the entity). A unit test holds
#: this to ``kb.graph.plan.EMBEDDED``.
OWN: dict[Label, frozenset[tuple[Rel, str]]] = {
    Label.PERSON: frozenset({(Rel.MEMBER_OF, "out")}),
    Label.TEAM: frozenset(),
    Label.DATASET: frozenset(),
    Label.DATASET_VERSION: frozenset({(Rel.VERSION_OF, "out")}),
    Label.EXPERIMENT: frozenset(),
    Label.RUN: frozenset({(Rel.TRAINED, "in"), (Rel.PART_OF, "out"), (Rel.USED, "out"),
                          (Rel.PRODUCED, "out"), (Rel.AT_COMMIT, "out"),
                          (Rel.IN_ENV, "out"), (Rel.CHILD_OF, "out")}),
    Label.CODE_VERSION: frozenset(),
    Label.ENVIRONMENT: frozenset(),
    Label.MODEL: frozenset({(Rel.ALIAS, "out")}),
    Label.MODEL_VERSION: frozenset({(Rel.VERSION_OF, "out"), (Rel.PRODUCED, "in"),
                                    (Rel.ALIAS, "in")}),
    Label.DEPLOYMENT: frozenset({(Rel.SERVES, "out"), (Rel.DEPLOYED, "in")}),
    Label.NOTE: frozenset({(Rel.ABOUT, "out"), (Rel.WROTE, "in")}),
}
for _asset in OWNABLE:
    OWN[_asset] = OWN[_asset] | {(Rel.OWNS, "in")}

#: Links whose other end cannot stand without the entity: it is deleted with it.
CASCADE: frozenset[tuple[Rel, str]] = frozenset({
    (Rel.VERSION_OF, "in"),  # a model's or a dataset's versions
    (Rel.SERVES, "in"),      # a model version's deployments
    (Rel.ABOUT, "in"),       # notes about it
})


def action(label: Label, rel: str, direction: str) -> Action:
    """What a delete of a ``label`` entity does to one of its links (see the module)."""
    pair = (Rel(rel), direction)
    if pair in OWN[label]:
        return Action.OWN
    if pair in CASCADE:
        return Action.CASCADE
    return Action.UNLINK


#: How many dependents a refusal names before giving the count of the rest.
DEPENDENTS_SHOWN = 20


@dataclass(frozen=True)
class Dependent:
    """A fact that stops a delete: ``ref`` is linked to the deleted entity by ``rel``
    (``direction`` seen from the deleted entity) and would be deleted (``cascade``) or
    lose the link."""

    ref: Ref
    rel: str
    direction: str
    cascade: bool

    def __str__(self) -> str:
        arrow = f"-{self.rel}->" if self.direction == "out" else f"<-{self.rel}-"
        fate = "deleted" if self.cascade else "unlinked"
        return f"{arrow} {self.ref} ({fate})"


class HasDependents(Conflict):
    """Raised by a delete without cascade when other facts depend on the entity."""

    def __init__(self, ref: Ref, dependents: list[Dependent]) -> None:
        dependents = sorted(dependents, key=lambda d: (natural(str(d.ref)), d.rel))
        shown = "".join(f"\n  {d.ref} ({d.rel}: would be "
                        f"{'deleted' if d.cascade else 'unlinked'})"
                        for d in dependents[:DEPENDENTS_SHOWN])
        more = len(dependents) - DEPENDENTS_SHOWN
        tail = f"\n  and {more} more" if more > 0 else ""
        hint = ("\nTo erase a person's personal data and keep the history, use "
                f"kb forget {ref}.") if ref.label is Label.PERSON else ""
        super().__init__(
            f"{ref} has {len(dependents)} dependent fact(s); nothing was deleted:{shown}"
            f"{tail}\nDelete again with --cascade (GraphQL: cascade: true) to remove them "
            f"too.{hint}")
        self.ref = ref
        self.dependents = dependents


@dataclass
class DeleteResult:
    """What a delete removed, in the order it removed it, and what it unlinked."""

    deleted: list[Ref] = field(default_factory=list)
    unlinked: list[Dependent] = field(default_factory=list)
    batch: str = ""


# -- forgetting ----------------------------------------------------------------------------

PSEUDONYM_PREFIX = "former-member-"
_PSEUDONYM = re.compile(re.escape(PSEUDONYM_PREFIX) + r"[0-9]+")

#: A person's properties that identify them: erased, never recorded.
PERSONAL = ("name", "email")
#: What a forgotten person keeps besides the key: the shape of the history.
KEPT = frozenset({"handle", "name", "active", "leftAt", "createdAt", "updatedAt",
                  "updatedBy"})


def pseudonym(n: int) -> str:
    return f"{PSEUDONYM_PREFIX}{n}"


def pseudonym_name(n: int) -> str:
    """The neutral name a forgotten person is shown with."""
    return f"Former member {n}"


def is_pseudonym(handle: str) -> bool:
    return _PSEUDONYM.fullmatch(handle) is not None


@dataclass(frozen=True)
class ForgetResult:
    pseudonym: str
    #: Names of what was erased (never the values).
    erased: tuple[str, ...]
    #: How many nodes, links, change records and tokens were rewritten.
    rewritten: dict[str, int] = field(default_factory=dict, hash=False)
    #: Entities whose free text (a description, a note) may still mention the person:
    #: prose is not rewritten, so these are for a person to review.
    mentions: tuple[Ref, ...] = ()
