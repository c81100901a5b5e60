"""Turn a validated ``Batch`` into the node and link rows the statements take.

Pure functions, no I/O: every entity a record mentions becomes a node row (a "stub" with
no properties when only its key is known), deduplicated, so one statement writes every
node of the batch (and the links they carry) and one per link type the rest.

The tables at the end are the graph model (``kb.domain.model``) as the writer reads it;
only the order nodes are written in (``NODE_ORDER``) and what follows from it are the
planner's own. Rows are laid out as ``rows.RowLayout`` says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from kb.domain import (
    Batch,
    DatasetVersionKey,
    Label,
    ModelVersionRecord,
    Rel,
    RunRecord,
    model,
    versioned_key,
)

from .rows import RowLayout, link_item

# For what orjson refuses (integers beyond 64 bits): sorted and compact, as orjson writes.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def encode_map(values: dict[str, Any]) -> str:
    """Params and metrics as canonical JSON: exact, comparable, and stable byte for byte.

    orjson takes a tenth of ``json``'s time here (this encoding was a fifth of the SDK's
    own CPU per run). Records reject non-finite numbers before they get here: orjson
    would write them as null.
    """
    try:
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return _ENCODER.encode(values)


#: Batches of at most this many node rows are ``Plan.small``.
SMALL_BATCH_ROWS = 200

#: Which columns a label's node rows hold: the positions in ``EMBEDDED[label]`` of the
#: links and in ``PROPERTIES[label]`` of the properties they carry.
Shape = tuple[tuple[int, ...], tuple[int, ...]]


def full_shape(label: Label) -> Shape:
    """Every link and property of ``label``."""
    return tuple(range(len(EMBEDDED[label]))), tuple(range(len(PROPERTIES[label])))


class NodeRows(NamedTuple):
    """One label's rows for ``statements.upsert_all``, and the columns they hold."""

    shape: Shape
    rows: list[list[Any]]


@dataclass
class Plan:
    nodes: dict[Label, dict[str, dict[str, Any]]] = field(default_factory=dict)
    created: dict[Label, dict[str, datetime]] = field(default_factory=dict)
    links: dict[tuple[Label, Rel, Label], dict[tuple[str, str], dict[str, Any]]] = field(
        default_factory=dict
    )
    #: Keys of the nodes of each label of ``DEFAULTS`` that a record states (not stubs).
    records: dict[Label, set[str]] = field(default_factory=dict)
    #: The rows ``lay_out`` built ahead: node rows by label, and the loose link rows.
    _laid_out: tuple[dict[Label, NodeRows],
                     dict[tuple[Label, Rel, Label], list[dict[str, Any]]]] | None = field(
        default=None, repr=False)

    def lay_out(self) -> Plan:
        """Build every statement's rows now, for ``node_rows`` and ``loose_link_rows`` to
        hand out, so a pipelined writer thread only sends them: Neo4j would idle while rows
        are built (longer while the caller's thread holds the GIL).
        """
        shaped = not self.small
        self._laid_out = ({label: self._node_rows(label, shaped) for label in self.nodes},
                          self._loose_link_rows())
        return self

    @property
    def small(self) -> bool:
        """Whether the rows hold every column of their label (the full shape): for
        batches this small (one-record writes, lineage groups), whose shapes vary, a
        statement text per combination of labels, not per shape too, spares Neo4j
        compiling new statements (each costly) for work that the columns
        barely change."""
        return sum(map(len, self.nodes.values())) <= SMALL_BATCH_ROWS

    def node(self, label: Label, key: str, props: dict[str, Any] | None = None,
             created_at: datetime | None = None) -> None:
        nodes = self.nodes.get(label)
        if nodes is None:
            nodes = self.nodes[label] = {}
        current = nodes.get(key)
        if current is None:  # the common case: one comprehension, no per-item stores
            nodes[key] = {n: v for n, v in props.items() if v is not None} if props else {}
        elif props:
            for name, value in props.items():
                if value is not None:
                    current[name] = value
        if created_at is not None:
            self.created.setdefault(label, {})[key] = created_at
        if label in DEFAULTS:
            self.records.setdefault(label, set()).add(key)

    def stub(self, label: Label, key: str) -> None:
        """A node known only by its key (``node`` without properties, made cheap: a run
        names its person, experiment and datasets this way)."""
        nodes = self.nodes.get(label)
        if nodes is None:
            self.nodes[label] = {key: {}}
        elif key not in nodes:
            nodes[key] = {}

    def link(self, a: Label, rel: Rel, b: Label, a_key: str, b_key: str,
             props: dict[str, Any] | None = None) -> None:
        triple = (a, rel, b)
        rows = self.links.get(triple)
        if rows is None:
            rows = self.links[triple] = {}
        pair = (a_key, b_key)
        current = rows.get(pair)
        if current is None:
            current = rows[pair] = {}
        if props:
            for name, value in props.items():
                if value is not None:
                    current[name] = value

    def node_rows(self, label: Label) -> NodeRows:
        """Rows for ``statements.upsert_all``, as positional lists, and their shape.

        The columns are ``row_layout(label, shape)``'s (``rows.RowLayout``). Only the
        links and properties some row of the batch carries have a column (the shape),
        except in a ``small`` batch, whose rows hold every column. Properties named in the
        statement (not ``+=`` maps) spare the server the eager buffering that writes to
        unknown properties force. UTC timestamps travel as ISO text: the driver builds a
        Bolt DateTime in pure Python, slowly, while Cypher's ``datetime(text)`` stores the
        very same value.
        """
        if self._laid_out is not None:
            return self._laid_out[0].get(label) or NodeRows(full_shape(label), [])
        return self._node_rows(label, not self.small)

    def _node_rows(self, label: Label, shaped: bool) -> NodeRows:
        created = self.created.get(label, {})
        nodes = self.nodes.get(label, {})
        names = PROPERTIES[label]
        known: set[str] = set().union(*nodes.values())
        if not known <= _DECLARED[label]:
            unknown = sorted(known - _DECLARED[label])[0]
            raise ValueError(f"{label.value}.{unknown} is not a property the graph model "
                             "lets the upsert write (kb/domain/model.py)")
        carried = self._carried(label, nodes) if EMBEDDED[label] else {}
        links, props = full_shape(label)
        if shaped:
            links = tuple(i for i in links if any(c[i] for c in carried.values()))
            props = tuple(i for i in props if names[i] in known)
        layout = row_layout(label, (links, props))
        picked = layout.values
        times = [j for j, name in enumerate(picked) if name in TIMES[label]]
        empty = [[] for _ in links]
        defaults = [DEFAULTS[label][name] for name in layout.defaults]
        records = self.records.get(label, ())
        unstated = [None] * len(defaults)
        row = layout.row
        rows = []
        for key, values_of in nodes.items():
            at = created.get(key)
            values = [values_of.get(name) for name in picked]
            for j in times:
                if values[j] is not None:
                    values[j] = _iso(values[j])
            carries = carried.get(key)
            rows.append(row(key, None if at is None else _iso(at),
                            [carries[i] for i in links] if carries else empty, values,
                            defaults if key in records else unstated))
        return NodeRows((links, props), rows)

    def _carried(self, label: Label, nodes: dict[str, Any]) -> dict[str, list[list[Any]]]:
        """Embedded links grouped by the key of their node of ``label``."""
        embedded = EMBEDDED[label]
        out: dict[str, list[list[Any]]] = {}
        for i, triple in enumerate(embedded):
            outgoing = triple[0] is label
            names = LINK_PROPERTIES.get(triple, ())
            for (a, b), props in self.links.get(triple, {}).items():
                mine, other = (a, b) if outgoing else (b, a)
                if mine in nodes:
                    out.setdefault(mine, [[] for _ in embedded])[i].append(
                        link_item(other, props, names))
        return out

    def link_rows(self, triple: tuple[Label, Rel, Label]) -> list[dict[str, Any]]:
        return [{"a": a, "b": b, "props": p} for (a, b), p in self.links.get(triple, {}).items()]

    def loose_link_rows(self) -> dict[tuple[Label, Rel, Label], list[dict[str, Any]]]:
        """Links no node row carries: same-label links, and any whose carrying node is
        not in this batch (both of its ends are then looked up, as ``LINK`` does)."""
        if self._laid_out is not None:
            return self._laid_out[1]
        return self._loose_link_rows()

    def _loose_link_rows(self) -> dict[tuple[Label, Rel, Label], list[dict[str, Any]]]:
        out: dict[tuple[Label, Rel, Label], list[dict[str, Any]]] = {}
        for triple, pairs in self.links.items():
            if triple[0] is triple[2]:
                rows = self.link_rows(triple)
            else:
                label = _carrier(triple)
                nodes = self.nodes.get(label, {})
                index = 0 if triple[0] is label else 1
                rows = [{"a": a, "b": b, "props": p} for (a, b), p in pairs.items()
                        if (a, b)[index] not in nodes]
            if rows:
                out[triple] = rows
        return out


def _iso(value: datetime) -> str:
    """ISO text at offset zero (validated records already hold UTC)."""
    if value.utcoffset() != _ZERO:
        value = value.astimezone(UTC)
    return value.isoformat()


_ZERO = timedelta(0)


def _dataset_version(plan: Plan, ref: DatasetVersionKey) -> str:
    key = ref.key
    # Only this function adds dataset versions, so one already planned has all of this.
    if key not in plan.nodes.get(Label.DATASET_VERSION, {}):
        plan.node(Label.DATASET_VERSION, key, {"dataset": ref.dataset, "version": ref.version})
        plan.stub(Label.DATASET, ref.dataset)
        plan.link(Label.DATASET_VERSION, Rel.VERSION_OF, Label.DATASET, key, ref.dataset)
    return key


def _person(plan: Plan, handle: str) -> None:
    plan.stub(Label.PERSON, handle)


def _run(plan: Plan, run: RunRecord) -> None:
    plan.node(
        Label.RUN,
        run.id,
        {
            "name": run.name,
            "kind": run.kind,
            "status": None if run.status is None else run.status.value,
            "startedAt": run.started_at,
            "endedAt": run.ended_at,
            "params": None if run.params is None else encode_map(run.params),
            "paramKeys": None if run.params is None else sorted(run.params),
            "metrics": None if run.metrics is None else encode_map(run.metrics),
            "metricKeys": None if run.metrics is None else sorted(run.metrics),
            "command": run.command,
            "seed": run.seed,
            "trackerUrl": run.tracker_url,
            "error": run.error,
            "producer": run.producer,
            "eventTime": run.event_time,
            "mergeState": run.merge_state,
            "acceptSources": sorted(s.value for s in run.accept) or None,
        },
    )
    if run.experiment:
        plan.stub(Label.EXPERIMENT, run.experiment)
        plan.link(Label.RUN, Rel.PART_OF, Label.EXPERIMENT, run.id, run.experiment)
    if run.person:
        plan.stub(Label.PERSON, run.person)
        plan.link(Label.PERSON, Rel.TRAINED, Label.RUN, run.person, run.id)
    if run.parent:
        plan.stub(Label.RUN, run.parent)
        plan.link(Label.RUN, Rel.CHILD_OF, Label.RUN, run.id, run.parent)
    for item in run.inputs:
        key = _dataset_version(plan, item)
        plan.link(Label.RUN, Rel.USED, Label.DATASET_VERSION, run.id, key,
                  None if item.role is None else {"role": item.role.value})
    for out in run.dataset_outputs:
        key = _dataset_version(plan, out)
        plan.link(Label.RUN, Rel.PRODUCED, Label.DATASET_VERSION, run.id, key)
    if run.code:
        code = run.code
        plan.node(Label.CODE_VERSION, code.key, {"repo": code.repo, "commit": code.commit,
                                                 "branch": code.branch, "dirty": code.dirty})
        plan.link(Label.RUN, Rel.AT_COMMIT, Label.CODE_VERSION, run.id, code.key)
    if run.environment:
        env = run.environment
        plan.node(Label.ENVIRONMENT, env.digest, {
            "python": env.python, "platform": env.platform, "accelerator": env.accelerator,
            "packages": list(env.packages) or None,
        })
        plan.link(Label.RUN, Rel.IN_ENV, Label.ENVIRONMENT, run.id, env.digest)


def _model_version(plan: Plan, mv: ModelVersionRecord) -> None:
    key = versioned_key(mv.model, mv.version or "")
    plan.stub(Label.MODEL, mv.model)
    plan.node(
        Label.MODEL_VERSION,
        key,
        {"model": mv.model, "version": mv.version, "uri": mv.uri, "framework": mv.framework,
         "description": mv.description, "aliases": sorted(mv.aliases) or None},
        created_at=mv.created_at,
    )
    plan.link(Label.MODEL_VERSION, Rel.VERSION_OF, Label.MODEL, key, mv.model)
    if mv.run_id:
        plan.link(Label.RUN, Rel.PRODUCED, Label.MODEL_VERSION, mv.run_id, key)


def build_plan(batch: Batch) -> Plan:
    """Nodes and links for everything but ownership, retirements and alias moves.

    Model versions must carry their version by now (``kb.graph.models`` assigns them).
    """
    plan = Plan()
    for team in batch.teams:
        plan.node(Label.TEAM, team.name, {"description": team.description})
    for p in batch.people:
        plan.node(Label.PERSON, p.handle, {
            "name": p.name, "email": p.email,
            "active": False if p.left_at is not None and p.active is None else p.active,
            "leftAt": p.left_at,
        })
        for team in p.teams:
            plan.node(Label.TEAM, team)
            plan.link(Label.PERSON, Rel.MEMBER_OF, Label.TEAM, p.handle, team)
    for d in batch.datasets:
        plan.node(Label.DATASET, d.name, {
            "description": d.description, "domain": d.domain, "license": d.license,
            "datasheet": encode_map(d.datasheet) if d.datasheet else None,
        })
    for dv in batch.dataset_versions:
        key = _dataset_version(plan, dv)
        schema = None
        if dv.schema_fields is not None:
            schema = encode_map({"fields": [f.model_dump(exclude_none=True)
                                            for f in dv.schema_fields]})
        plan.node(Label.DATASET_VERSION, key, {
            "uri": dv.uri, "digest": dv.digest, "rows": dv.rows, "schema": schema,
            "description": dv.description,
        }, created_at=dv.created_at)
        if dv.derived_from:
            # A derivation with no run of its own gets one, so lineage stays
            # DatasetVersion <-USED- Run -PRODUCED-> DatasetVersion everywhere.
            run_id = f"derive:{key}"
            plan.node(Label.RUN, run_id, {"kind": "derivation", "status": "COMPLETED",
                                          "name": f"derive {key}"})
            plan.link(Label.RUN, Rel.PRODUCED, Label.DATASET_VERSION, run_id, key)
            for src in dv.derived_from:
                src_key = _dataset_version(plan, src)
                plan.link(Label.RUN, Rel.USED, Label.DATASET_VERSION, run_id, src_key,
                          {"role": "other"})
    for e in batch.experiments:
        plan.node(Label.EXPERIMENT, e.name, {"description": e.description})
    for m in batch.models:
        plan.node(Label.MODEL, m.name, {
            "description": m.description, "task": m.task, "intendedUse": m.intended_use,
            "limitations": m.limitations, "license": m.license, "baseModel": m.base_model,
        })
    for run in batch.runs:
        _run(plan, run)
    for mv in batch.model_versions:
        _model_version(plan, mv)
    for d in batch.deployments:
        plan.node(Label.DEPLOYMENT, d.id, {
            "environment": d.environment, "endpoint": d.endpoint, "status": d.status.value,
            "deployedAt": d.deployed_at, "retiredAt": d.retired_at,
        })
        plan.link(Label.DEPLOYMENT, Rel.SERVES, Label.MODEL_VERSION, d.id,
                  versioned_key(d.model, d.version))
        if d.deployed_by:
            _person(plan, d.deployed_by)
            plan.link(Label.PERSON, Rel.DEPLOYED, Label.DEPLOYMENT, d.deployed_by, d.id)
    for note in batch.notes:
        plan.node(Label.NOTE, note.id, {"body": note.body}, created_at=note.created_at)
        plan.link(Label.NOTE, Rel.ABOUT, note.about.label, note.id, note.about.key)
        if note.author:
            _person(plan, note.author)
            plan.link(Label.PERSON, Rel.WROTE, Label.NOTE, note.author, note.id)
    for own in batch.ownerships:
        if own.owner.label is Label.PERSON:
            _person(plan, own.owner.key)
        else:
            plan.node(Label.TEAM, own.owner.key)
    return plan


#: Labels in the order their rows are written.
NODE_ORDER: tuple[Label, ...] = (
    Label.TEAM, Label.PERSON, Label.DATASET, Label.DATASET_VERSION, Label.EXPERIMENT,
    Label.CODE_VERSION, Label.ENVIRONMENT, Label.MODEL, Label.RUN, Label.MODEL_VERSION,
    Label.DEPLOYMENT, Label.NOTE,
)

#: Every property each label's upsert may write, besides its key and ``createdAt``.
PROPERTIES: dict[Label, tuple[str, ...]] = {
    e.label: tuple(p.name for p in e.props if p.upsert) for e in model.ENTITIES}
_DECLARED: dict[Label, frozenset[str]] = {k: frozenset(v) for k, v in PROPERTIES.items()}

#: The model's defaults (``Prop.default``): for a node that has no such property yet, from
#: a record that does not state it. A node that has one keeps it (a run logged again
#: stays FAILED), and a stub (a run named as a parent) gets none.
DEFAULTS: dict[Label, dict[str, Any]] = {
    e.label: defaults for e in model.ENTITIES
    if (defaults := {p.name: p.default for p in e.props if p.default is not None})}

#: The properties of ``PROPERTIES`` that hold UTC datetimes, by label.
TIMES: dict[Label, frozenset[str]] = {
    e.label: frozenset(p.name for p in e.props if p.upsert and p.kind is model.DATETIME)
    for e in model.ENTITIES}

# Ownership edges (``Link.history``) have statements of their own (``statements.OWN``).
_PLANNED = [link for link in model.LINKS if not link.history]

#: Every (from, type, to) triple a batch may link; nothing else can be linked.
LINKS: frozenset[tuple[Label, Rel, Label]] = frozenset(link.triple for link in _PLANNED)

#: The properties a link carries, by triple (all others carry only ``createdAt``).
LINK_PROPERTIES: dict[tuple[Label, Rel, Label], tuple[str, ...]] = {
    link.triple: tuple(p.name for p in link.props) for link in _PLANNED if link.props}

#: What a new link takes for a property its record does not state (an input's role); an
#: existing link keeps the value it has. The statements that create such links take them
#: as parameters (``statements.LINK_DEFAULT_PARAMETERS``).
LINK_DEFAULTS: dict[tuple[Label, Rel, Label], dict[str, Any]] = {
    link.triple: defaults for link in _PLANNED
    if (defaults := {p.name: p.default for p in link.props if p.default is not None})}


def _carrier(triple: tuple[Label, Rel, Label]) -> Label:
    a, _, b = triple
    return a if NODE_ORDER.index(a) > NODE_ORDER.index(b) else b


#: The links each label's upsert writes along with its rows: those whose other end is of
#: a label written earlier, so it exists by then. The node is already bound, which saves a
#: statement and two key lookups per link. A link between two nodes of one label (a run's
#: parent) waits for the label's whole statement, in ``statements.LINK``.
EMBEDDED: dict[Label, tuple[tuple[Label, Rel, Label], ...]] = {
    label: tuple(sorted(t for t in LINKS if t[0] is not t[2] and _carrier(t) is label))
    for label in NODE_ORDER
}


@lru_cache(maxsize=1024)  # shapes vary little, but a server runs for months
def row_layout(label: Label, shape: Shape) -> RowLayout:
    """The columns of ``label``'s rows of ``shape``, for the planner and the statements."""
    links = tuple(EMBEDDED[label][i] for i in shape[0])
    return RowLayout(label, links, tuple(LINK_PROPERTIES.get(t, ()) for t in links),
                     tuple(PROPERTIES[label][i] for i in shape[1]),
                     tuple(DEFAULTS.get(label, ())))
