"""The graph model: every label's key, properties and links, described once.

Pure data, read top to bottom like a schema file. The write planner and the statement
builder (``kb.graph.plan``, ``kb.graph.statements``), the constraints and indexes
(``kb.graph.schema``) and ``KEY_PROPERTY`` derive from it, and a unit test holds the
API's types (``kb.api.types``) to it. A new property is one line in ``ENTITIES``; its
record field (``records.py``), the planner's mapping from record to node and the API
field follow.

Every node also carries ``STAMPS`` and every link ``LINK_STAMPS``, which the statements
write themselves: ``createdAt`` once, ``updatedAt``/``updatedBy`` only when a write
changes what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .labels import OWNABLE, OWNERS, Label, Rel


class Kind(StrEnum):
    """What a property holds, as Neo4j stores it."""

    TEXT = "text"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    #: Arrives as ISO text at offset zero, stored as a Cypher ``datetime``.
    DATETIME = "UTC datetime"
    #: A map, stored as canonical JSON text: Neo4j properties cannot hold maps.
    JSON = "JSON map as text"
    TEXT_LIST = "list of text"


TEXT, INTEGER, FLOAT, BOOLEAN = Kind.TEXT, Kind.INTEGER, Kind.FLOAT, Kind.BOOLEAN
DATETIME, JSON, TEXT_LIST = Kind.DATETIME, Kind.JSON, Kind.TEXT_LIST


@dataclass(frozen=True)
class Prop:
    """One property of a node or a link."""

    name: str
    kind: Kind = TEXT
    #: Whether a property index serves lookups by it (``kb.graph.schema``).
    indexed: bool = False
    #: What a record that does not state it means, for a node (or a new link) that has
    #: no value yet: a run logged without a status completed. Stubs take none.
    default: str | int | bool | None = None
    #: False: the batch upsert never writes it; one statement of its own does (a run's
    #: ``source``, claimed once by ``kb.graph.run_sources``).
    upsert: bool = True


@dataclass(frozen=True)
class Entity:
    """One label: its natural key (always text, with a uniqueness constraint) and the
    properties besides the key and ``STAMPS``."""

    label: Label
    key: str
    props: tuple[Prop, ...]
    #: A composite key's parts, each also a property: the key is their derived text
    #: (``"customers@2024-05"``), so one property carries the constraint.
    parts: tuple[str, ...] = ()

    def prop(self, name: str) -> Prop:
        for p in self.props:
            if p.name == name:
                return p
        raise KeyError(f"{self.label.value}.{name} is not in the graph model")


@dataclass(frozen=True)
class Link:
    """One allowed (from, type, to) triple and the properties the link carries."""

    source: Label
    rel: Rel
    target: Label
    props: tuple[Prop, ...] = ()
    #: True: a fact with a validity (``since``/``until``) that is closed, never merged
    #: over, by statements of its own (ownership); the batch planner leaves it alone.
    history: bool = False

    @property
    def triple(self) -> tuple[Label, Rel, Label]:
        return self.source, self.rel, self.target


#: What every node carries besides its properties.
STAMPS: tuple[Prop, ...] = (
    Prop("createdAt", DATETIME), Prop("updatedAt", DATETIME, indexed=True), Prop("updatedBy"))

#: What every link carries besides its properties.
LINK_STAMPS: tuple[Prop, ...] = (Prop("createdAt", DATETIME),)

L = Label

ENTITIES: tuple[Entity, ...] = (
    Entity(L.PERSON, "handle", (
        Prop("name"), Prop("email"), Prop("active", BOOLEAN, indexed=True),
        Prop("leftAt", DATETIME))),
    Entity(L.TEAM, "name", (Prop("description"),)),
    Entity(L.DATASET, "name", (
        Prop("description"), Prop("domain"), Prop("license"), Prop("datasheet", JSON))),
    Entity(L.DATASET_VERSION, "key", parts=("dataset", "version"), props=(
        Prop("dataset", indexed=True), Prop("version"), Prop("uri"), Prop("digest"),
        Prop("rows", INTEGER), Prop("schema", JSON), Prop("description"))),
    Entity(L.EXPERIMENT, "name", (Prop("description"),)),
    Entity(L.RUN, "id", (
        Prop("name"), Prop("kind", default="training"),
        Prop("status", indexed=True, default="COMPLETED"),
        Prop("startedAt", DATETIME, indexed=True), Prop("endedAt", DATETIME),
        Prop("params", JSON), Prop("paramKeys", TEXT_LIST),
        Prop("metrics", JSON), Prop("metricKeys", TEXT_LIST),
        Prop("command"), Prop("seed", INTEGER), Prop("trackerUrl"), Prop("error"),
        # OpenLineage: the producer, the last event's time, the importer's own state.
        Prop("producer"), Prop("eventTime", DATETIME), Prop("mergeState"),
        Prop("acceptSources", TEXT_LIST), Prop("source", upsert=False))),
    Entity(L.CODE_VERSION, "key", parts=("repo", "commit"), props=(
        Prop("repo"), Prop("commit"), Prop("branch"), Prop("dirty", BOOLEAN))),
    Entity(L.ENVIRONMENT, "digest", (
        Prop("python"), Prop("platform"), Prop("accelerator"), Prop("packages", TEXT_LIST))),
    Entity(L.MODEL, "name", (
        Prop("description"), Prop("task"), Prop("intendedUse"), Prop("limitations"),
        Prop("license"), Prop("baseModel"))),
    Entity(L.MODEL_VERSION, "key", parts=("model", "version"), props=(
        Prop("model", indexed=True), Prop("version"), Prop("uri"), Prop("framework"),
        Prop("description"), Prop("aliases", TEXT_LIST))),
    Entity(L.DEPLOYMENT, "id", (
        Prop("environment", indexed=True), Prop("endpoint"), Prop("status", indexed=True),
        Prop("deployedAt", DATETIME), Prop("retiredAt", DATETIME))),
    Entity(L.NOTE, "id", (Prop("body"),)),
)

#: An ownership edge: a transfer closes it (``until``) instead of deleting it.
OWNERSHIP: tuple[Prop, ...] = (
    Prop("role"), Prop("since", DATETIME), Prop("until", DATETIME), Prop("createdBy"),
    Prop("closedBy"))

#: An alias held by a version: moving it closes this edge (``until``) and opens another.
ALIAS: tuple[Prop, ...] = (
    Prop("alias"), Prop("since", DATETIME), Prop("until", DATETIME), Prop("createdBy"),
    Prop("closedBy"))

R = Rel

LINKS: tuple[Link, ...] = (
    Link(L.PERSON, R.MEMBER_OF, L.TEAM),
    Link(L.PERSON, R.TRAINED, L.RUN),
    Link(L.RUN, R.PART_OF, L.EXPERIMENT),
    Link(L.RUN, R.CHILD_OF, L.RUN),
    Link(L.RUN, R.USED, L.DATASET_VERSION, (Prop("role", default="other"),)),
    Link(L.RUN, R.PRODUCED, L.DATASET_VERSION),
    Link(L.RUN, R.PRODUCED, L.MODEL_VERSION),
    Link(L.DATASET_VERSION, R.VERSION_OF, L.DATASET),
    Link(L.MODEL_VERSION, R.VERSION_OF, L.MODEL),
    Link(L.RUN, R.AT_COMMIT, L.CODE_VERSION),
    Link(L.RUN, R.IN_ENV, L.ENVIRONMENT),
    Link(L.DEPLOYMENT, R.SERVES, L.MODEL_VERSION),
    Link(L.PERSON, R.DEPLOYED, L.DEPLOYMENT),
    Link(L.PERSON, R.WROTE, L.NOTE),
    *(Link(L.NOTE, R.ABOUT, label) for label in Label if label is not L.NOTE),
    *(Link(owner, R.OWNS, asset, OWNERSHIP, history=True)
      for owner in OWNERS for asset in OWNABLE),
    Link(L.MODEL, R.ALIAS, L.MODEL_VERSION, ALIAS, history=True),
)

del L, R

#: Each label's entry.
ENTITY: dict[Label, Entity] = {entity.label: entity for entity in ENTITIES}

#: The property holding each label's natural key; each has a uniqueness constraint.
KEY_PROPERTY: dict[Label, str] = {entity.label: entity.key for entity in ENTITIES}
