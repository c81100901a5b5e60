"""Deleting an entity written by mistake, and forgetting a person: each in one transaction,
each recorded (``kb.domain.erase`` holds the rules, ``kb.domain.changes`` the records).

A delete reads the entity's links after taking its write lock (a writer linking to it
waits, so no link slips in unrecorded), removes it and what cascades, and records one
``delete`` per entity removed with the links that went, and one update per entity that
stays but lost a link. A forget re-keys the person to a pseudonym and rewrites every
mention of the handle, name and email: node and link stamps, change records (their
actor, the person's own records, link texts naming the person), token actors.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import CHANGE_LABEL, KEY_PROPERTY, Label, Ref, model
from kb.domain.changes import (
    AFTER,
    BEFORE,
    LINK_PROPS,
    LINK_SEPARATOR,
    LinkChange,
    Op,
    categories,
    stored,
)
from kb.domain.erase import (
    KEPT,
    PERSONAL,
    Action,
    DeleteResult,
    Dependent,
    ForgetResult,
    HasDependents,
    action,
    pseudonym,
    pseudonym_name,
)
from kb.domain.text import natural
from kb.errors import Conflict, NotFound

from .changes import RECORD, REWRITE, new_batch
from .driver import plain
from .entities import kind_name
from .search import MAX_RESULTS, lucene_query, matching
from .statements import lock

# The key of whatever node is at the other end, by its label (the model's keys).
_OTHER_KEY = ("CASE " + " ".join(f"WHEN o:{label.value} THEN o.{KEY_PROPERTY[label]}"
                                  for label in Label) + " END")
_OTHER_LABEL = ("CASE " + " ".join(f"WHEN o:{label.value} THEN '{label.value}'"
                                   for label in Label) + " END")


def _links_of(label: Label, *, locked: bool) -> str:
    return (f"MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: $key}})\n" +
            (lock("n") if locked else "") +
            "WITH n\n"
            "OPTIONAL MATCH (n)-[r]-(o)\n"
            f"RETURN type(r) AS rel, startNode(r) = n AS out, {_OTHER_LABEL} AS label,\n"
            f"       {_OTHER_KEY} AS key, properties(r) AS props")


#: Each label's links, the entity locked first; no row when it is not in the graph.
LINKS_OF: dict[Label, str] = {label: _links_of(label, locked=True) for label in Label}
#: The same, read without a lock, for a preview.
LINKS_SEEN: dict[Label, str] = {label: _links_of(label, locked=False) for label in Label}

REMOVE: dict[Label, str] = {
    label: (f"UNWIND $keys AS key MATCH (n:{label.value} {{{KEY_PROPERTY[label]}: key}})\n"
            "DETACH DELETE n")
    for label in Label}

#: A link's own facts a record keeps (a tenure's dates, a role, an alias), never who
#: wrote it: the stamps say that and a forget must find them.
_RECORDED = frozenset(p.name for link in model.LINKS for p in link.props) - {
    "createdBy", "closedBy"}


def _close(rel: str, direction: str, label: str, key: str, props: dict[str, Any]
           ) -> LinkChange:
    kept = {k: plain(v) for k, v in sorted(props.items()) if k in _RECORDED}
    return LinkChange(rel, direction, label, key, "close", kept)


def preview(tx: ManagedTransaction, ref: Ref, *, cascade: bool) -> DeleteResult:
    """What ``delete`` would remove and unlink, read without writing (the same errors)."""
    removed, _, unlinked = _walk(tx, ref, cascade, LINKS_SEEN)
    gone = set(removed)
    return DeleteResult(deleted=removed,
                        unlinked=[d for other, d, _ in unlinked if other not in gone])


def _walk(tx: ManagedTransaction, ref: Ref, cascade: bool, statements: dict[Label, str]
          ) -> tuple[list[Ref], dict[Ref, list[LinkChange]],
                     list[tuple[Ref, Dependent, LinkChange]]]:
    """The entities a delete of ``ref`` removes (it first), the links each loses, and the
    links of entities that stay; ``NotFound`` or ``HasDependents`` as ``delete`` says."""
    queue, seen = [ref], {ref}
    removed: list[Ref] = []
    links: dict[Ref, list[LinkChange]] = {}
    unlinked: list[tuple[Ref, Dependent, LinkChange]] = []
    while queue:
        current = queue.pop(0)
        # In the entities' order, so that previews, refusals and records read in order.
        rows = sorted(tx.run(statements[current.label], key=current.key), key=_order)
        if not rows:
            if current == ref:
                raise NotFound(kind_name(ref.label), ref.key)
            continue
        removed.append(current)
        mine = links[current] = []
        dependents = []
        for row in rows:
            if row["rel"] is None or row["label"] is None:
                continue  # no links at all, or a node that is not an entity
            direction = "out" if row["out"] else "in"
            other = Ref(Label(row["label"]), row["key"])
            mine.append(_close(row["rel"], direction, other.label.value, other.key,
                               row["props"]))
            fate = action(current.label, row["rel"], direction)
            if fate is Action.OWN:
                continue
            dependent = Dependent(other, row["rel"], direction, fate is Action.CASCADE)
            dependents.append(dependent)
            if fate is Action.CASCADE:
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
            else:
                back = "in" if direction == "out" else "out"
                unlinked.append((other, dependent, _close(
                    row["rel"], back, current.label.value, current.key, row["props"])))
        if dependents and not cascade:
            raise HasDependents(ref, dependents)
    return removed, links, unlinked


def _order(row: Any) -> tuple[int, list[Any]]:
    if row["label"] is None or row["key"] is None:
        return (1, [])
    return (0, natural(str(Ref(Label(row["label"]), row["key"]))))


def delete(tx: ManagedTransaction, ref: Ref, *, cascade: bool, reason: str | None,
           actor: str, path: str, now: datetime) -> DeleteResult:
    """Remove ``ref`` and, with ``cascade``, what cannot stand without it, in ``tx``.

    ``NotFound`` when ``ref`` is not in the graph; ``HasDependents`` (nothing written)
    when something depends on it and ``cascade`` is off."""
    removed, links, unlinked = _walk(tx, ref, cascade, LINKS_OF)
    gone = set(removed)
    survivors: dict[Ref, list[LinkChange]] = {}
    for other, _, change in unlinked:
        if other not in gone:
            survivors.setdefault(other, []).append(change)
    for label in Label:
        keys = [r.key for r in removed if r.label is label]
        if keys:
            tx.run(REMOVE[label], keys=keys).consume()

    batch = new_batch()
    rows = []
    for target, op, changed in [*((r, Op.DELETE, links[r]) for r in removed),
                                *((r, Op.UPDATE, c) for r, c in survivors.items())]:
        rows.append({
            "id": f"{batch}/1/{len(rows):05d}", "kind": target.label.value,
            "key": target.key, "op": op.value,
            "categories": categories(target.label.value, op, {}, changed),
            **stored({}, changed, created=True),
            **({"reason": reason} if reason else {})})
    tx.run(RECORD, rows=rows, now=now.isoformat(), actor=actor, path=path,
           batch=batch).consume()
    return DeleteResult(deleted=removed,
                        unlinked=[d for other, d, _ in unlinked if other not in gone],
                        batch=batch)


# -- forgetting ----------------------------------------------------------------------------

PERSON = (f"MATCH (p:{Label.PERSON.value} {{handle: $handle}})\n" + lock("p") +
          "RETURN properties(p) AS props")

ERASED = (f"MATCH (c:{CHANGE_LABEL} {{kind: '{Label.PERSON.value}', key: $handle}})\n"
          f"USING INDEX SEEK c:{CHANGE_LABEL}(kind, key, at)\n"
          f"WHERE c.at IS NOT NULL AND c.op = '{Op.ERASE.value}'\n"
          "RETURN count(c) > 0 AS erased")

# The counter's node is locked by its own SET, so two forgets never take one number.
NEXT_PSEUDONYM = """
MERGE (m:KbMeta {id: 'pseudonyms'})
ON CREATE SET m.last = 0
SET m.last = m.last + 1
RETURN m.last AS n
"""

TAKEN = f"MATCH (p:{Label.PERSON.value} {{handle: $handle}}) RETURN count(p) > 0 AS taken"

RENAME = f"MATCH (p:{Label.PERSON.value} {{handle: $handle}}) SET p = $props"

# A scan of every node and link: no index holds who wrote them, and a forget is rare.
NODE_STAMPS = """
MATCH (n) WHERE n.updatedBy IN $names
SET n.updatedBy = $pseudonym
RETURN count(n) AS n
"""

LINK_STAMPS = """
MATCH ()-[r]->() WHERE r.createdBy IN $names OR r.closedBy IN $names
SET r.createdBy = CASE WHEN r.createdBy IN $names THEN $pseudonym ELSE r.createdBy END,
    r.closedBy = CASE WHEN r.closedBy IN $names THEN $pseudonym ELSE r.closedBy END
RETURN count(r) AS n
"""

TOKENS = """
MATCH (t:ApiToken) WHERE t.actor IN $names
SET t.actor = $pseudonym
RETURN count(t) AS n
"""

# The records a forget rewrites: by actor and the person's own from their indexes; those
# whose link texts name the person by a scan (no index holds link texts).
_BY_ACTOR = (
    "UNWIND $names AS name\n"
    f"MATCH (c:{CHANGE_LABEL} {{actor: name}})\n"
    f"USING INDEX SEEK c:{CHANGE_LABEL}(actor, at)\n"
    "WHERE c.at IS NOT NULL\n"
    "RETURN elementId(c) AS id, properties(c) AS props")
_OF_PERSON = (
    f"MATCH (c:{CHANGE_LABEL} {{kind: '{Label.PERSON.value}', key: $handle}})\n"
    f"USING INDEX SEEK c:{CHANGE_LABEL}(kind, key, at)\n"
    "WHERE c.at IS NOT NULL\n"
    "RETURN elementId(c) AS id, properties(c) AS props")
_NAMING = (
    f"MATCH (c:{CHANGE_LABEL}) WHERE any(l IN coalesce(c.links, [])\n"
    f"  WHERE split(l, $sep)[2] = '{Label.PERSON.value}' AND split(l, $sep)[3] = $handle)\n"
    "RETURN elementId(c) AS id, properties(c) AS props")


def forget(tx: ManagedTransaction, handle: str, *, reason: str | None, actor: str,
           path: str, now: datetime) -> ForgetResult:
    """Erase the person ``handle``'s personal data in ``tx``, leaving a pseudonym."""
    row = tx.run(PERSON, handle=handle).single()
    if row is None:
        raise NotFound("person", handle)
    if tx.run(ERASED, handle=handle).single(strict=True)["erased"]:
        raise Conflict(f"person {handle!r} is the pseudonym of a person already forgotten; "
                       "there is nothing left to erase")
    props = dict(row["props"])
    names = [handle, *(str(props[p]) for p in PERSONAL if props.get(p))]
    while True:
        n = tx.run(NEXT_PSEUDONYM).single(strict=True)["n"]
        new = pseudonym(n)
        if not tx.run(TAKEN, handle=new).single(strict=True)["taken"]:
            break
    erased = sorted({"handle", *(p for p in PERSONAL if props.get(p) is not None),
                     *(p for p in props if p not in KEPT)})
    by = new if actor in names else actor
    kept = {k: v for k, v in props.items() if k in KEPT}
    kept.update(handle=new, name=pseudonym_name(n), active=False, updatedAt=now,
                updatedBy=by)
    kept.setdefault("leftAt", now)
    mentions = _mentions(tx, handle, names)
    tx.run(RENAME, handle=handle, props=kept).consume()

    counts = {
        "nodes": tx.run(NODE_STAMPS, names=names, pseudonym=new).single(strict=True)["n"],
        "links": tx.run(LINK_STAMPS, names=names, pseudonym=new).single(strict=True)["n"],
        "tokens": tx.run(TOKENS, names=names, pseudonym=new).single(strict=True)["n"],
    }
    found: dict[str, dict[str, Any]] = {}
    for statement, params in ((_BY_ACTOR, {"names": names}), (_OF_PERSON, {"handle": handle}),
                              (_NAMING, {"handle": handle, "sep": LINK_SEPARATOR})):
        for r in tx.run(statement, **params):
            found.setdefault(r["id"], dict(r["props"]))
    rewrite = [{"id": id_, "props": _rewritten(p, handle, names, new)}
               for id_, p in found.items()]
    if rewrite:
        tx.run(REWRITE, rows=rewrite).consume()
    counts["records"] = len(rewrite)

    batch = new_batch()
    tx.run(RECORD, rows=[{
        "id": f"{batch}/1/00000", "kind": Label.PERSON.value, "key": new,
        "op": Op.ERASE.value, "categories": categories(Label.PERSON.value, Op.ERASE, {}, []),
        **stored(dict.fromkeys(erased, (None, None)), [], created=True),
        **({"reason": reason} if reason else {})}],
        now=now.isoformat(), actor=by, path=path, batch=batch).consume()
    return ForgetResult(new, tuple(erased), counts, mentions)


def _mentions(tx: ManagedTransaction, handle: str, names: list[str]) -> tuple[Ref, ...]:
    """What the search index finds of the person's handle, name or email in other
    entities' names, descriptions and notes, most likely first."""
    query = lucene_query(" ".join(names))
    if not query:
        return ()
    hits = matching(tx, query, None, MAX_RESULTS, "")
    return tuple(Ref(h.label, h.key) for h in hits
                 if not (h.label is Label.PERSON and h.key == handle))


def _rewritten(props: dict[str, Any], handle: str, names: list[str], new: str
               ) -> dict[str, Any]:
    """A record's properties with the person's identifiers replaced by the pseudonym, and
    the values of their personal fields dropped from their own records (names kept)."""
    out = {k: v for k, v in props.items() if k != "at"}
    own = out.get("kind") == Label.PERSON.value and out.get("key") == handle
    if own:
        out["key"] = new
        # the upsert's records end their id with the entity's key (``statements``)
        if str(out.get("id", "")).endswith("/" + handle):
            out["id"] = out["id"][:-len(handle)] + new
        for name in out.get("fields") or ():
            if name in PERSONAL or name not in KEPT:
                out.pop(BEFORE + name, None)
                out.pop(AFTER + name, None)
    if "links" in out:
        texts = []
        for text in out["links"]:
            parts = text.split(LINK_SEPARATOR)
            if parts[2] == Label.PERSON.value and parts[3] == handle:
                parts[3] = new
            texts.append(LINK_SEPARATOR.join(parts))
        out["links"] = texts
    if LINK_PROPS in out:
        out[LINK_PROPS] = [json.dumps(_replaced(json.loads(t), names, new),
                                      separators=(",", ":"), ensure_ascii=False)
                           for t in out[LINK_PROPS]]
    return {k: v if k in _STRUCTURAL else _replaced(v, names, new) for k, v in out.items()}


#: A record's own structure, never a person's identifier.
_STRUCTURAL = frozenset({"id", "batch", "kind", "op", "categories", "fields", "path",
                         "links", LINK_PROPS})


def _replaced(value: Any, names: list[str], new: str) -> Any:
    if isinstance(value, str):
        return new if value in names else value
    if isinstance(value, list):
        return [_replaced(v, names, new) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, names, new) for k, v in value.items()}
    return value


# -- what the site must drop ---------------------------------------------------------------

REMOVALS_SINCE = f"""
MATCH (c:{CHANGE_LABEL}) WHERE c.at > $since AND c.op IN ['{Op.DELETE.value}', '{Op.ERASE.value}']
RETURN c.op AS op, c.kind AS kind, c.key AS key
"""


def removals_since(tx: ManagedTransaction, since: datetime) -> list[tuple[str, str, str]]:
    """Deletes and erasures recorded after ``since``, as (op, kind, key)."""
    return [(r["op"], r["kind"], r["key"]) for r in tx.run(REMOVALS_SINCE, since=since)]
