"""Who trained a model version, on which data, with which code: ``who_trained``."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kb.domain import Label, versioned_key
from kb.domain.answers import DatasetVersionFact, TrainingFact
from kb.domain.paging import Page, decode_cursor, encode_cursor, page_size
from kb.errors import InvalidInput, NotFound

from . import asof
from .driver import Graph, Question, Read
from .people import active
from .properties import decode, projection

log = logging.getLogger(__name__)

# Everything one version needs, gathered per version with bounded subqueries so that a
# version with many inputs still costs one row. Stamps come back as ISO text: the driver
# takes longer to build its temporal values than the whole rest of the row.
_VERSION = projection("v", Label.MODEL_VERSION, ("model", "version", "createdAt", "aliases"))
_RUN = projection("r", Label.RUN, ("id", "status", "startedAt", "endedAt", "params", "metrics",
                                   "command", "seed"))


def _facts(at: bool) -> str:
    """Today, or (``at``) as of ``$asOf``: only the run, person and links that existed
    then, and the aliases held then from the ALIAS tenures."""
    def since(var: str, join: str = "WHERE") -> str:
        return f" {join} {asof.existed(var)}" if at else ""

    aliases = ("COLLECT { MATCH (:Model)-[a:ALIAS]->(v) WHERE " + asof.held("a")
               + " RETURN DISTINCT a.alias ORDER BY a.alias }" if at else "null")
    is_active = asof.active_at("p") if at else active("p")
    return f"""
CALL (v) {{
  OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v){since('r')}
  RETURN r ORDER BY r.startedAt DESC LIMIT 1
}}
CALL (r) {{
  OPTIONAL MATCH (p:Person)-[:TRAINED]->(r){since('p')}
  RETURN p LIMIT 1
}}
RETURN {_VERSION} AS version, {aliases} AS aliasesAt,
       p.handle AS person, p.name AS personName,
       CASE WHEN p IS NULL THEN null ELSE {is_active} END AS active,
       {_RUN} AS run,
       COLLECT {{ MATCH (r)-[:PART_OF]->(e:Experiment){since('e')} RETURN e.name LIMIT 1 }}
         AS experiment,
       COLLECT {{ MATCH (r)-[:AT_COMMIT]->(c:CodeVersion){since('c')}
                 RETURN c {{.repo, .commit, .branch, .dirty}} LIMIT 1 }} AS code,
       COLLECT {{ MATCH (r)-[:IN_ENV]->(x:Environment){since('x')} RETURN x.digest LIMIT 1 }}
         AS env,
       COLLECT {{ MATCH (r)-[u:USED]->(d:DatasetVersion){since('d')}
                 RETURN {{dataset: d.dataset, version: d.version, digest: d.digest,
                         uri: d.uri, role: u.role}} }} AS inputs
"""


ONE_VERSION = "MATCH (v:ModelVersion {key: $key})\n" + _facts(False)
ALL_VERSIONS = "MATCH (v:ModelVersion {model: $model})\n" + _facts(False)
#: As of ``$asOf``: the versions that existed then.
ONE_VERSION_AT = ("MATCH (v:ModelVersion {key: $key}) WHERE " + asof.existed("v") + "\n"
                  + _facts(True))
ALL_VERSIONS_AT = ("MATCH (v:ModelVersion {model: $model}) WHERE " + asof.existed("v") + "\n"
                   + _facts(True))
MODEL_EXISTS = "MATCH (m:Model {name: $model}) RETURN count(m) > 0 AS found"
VERSION_EXISTS = "MATCH (v:ModelVersion {key: $key}) RETURN count(v) > 0 AS found"


class NotYet(NotFound):
    """The entity exists now but had not been created by the instant asked about."""

    def __init__(self, kind: str, key: str, at: datetime) -> None:
        super().__init__(kind, key)
        self.message = f"{kind} {key!r} did not exist yet at {at.isoformat()}"
        self.args = (self.message,)


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _fact(row: dict[str, Any]) -> TrainingFact:
    v = decode(Label.MODEL_VERSION, row["version"])
    run = decode(Label.RUN, row["run"]) if row["run"] is not None else {}
    code = row["code"][0] if row["code"] else {}
    inputs = sorted(row["inputs"], key=lambda i: (i["role"] or "", i["dataset"], i["version"]))
    aliases = v["aliases"] if row["aliasesAt"] is None else row["aliasesAt"]
    return TrainingFact(
        model=v["model"], version=v["version"], created_at=v["createdAt"],
        aliases=tuple(aliases or ()), person=row["person"], person_name=row["personName"],
        person_active=row["active"], run_id=run.get("id"), run_status=run.get("status"),
        started_at=run.get("startedAt"), ended_at=run.get("endedAt"),
        experiment=row["experiment"][0] if row["experiment"] else None,
        params=_map(run.get("params")), metrics=_map(run.get("metrics")),
        inputs=tuple(DatasetVersionFact(**i) for i in inputs),
        repo=code.get("repo"), commit=code.get("commit"), branch=code.get("branch"),
        dirty=code.get("dirty"), command=run.get("command"), seed=run.get("seed"),
        environment_digest=row["env"][0] if row["env"] else None,
    )


def newest_first(version: str, created_at: datetime | None) -> tuple:
    """Sort key: numbered versions by number, then named ones by creation, newest first."""
    if version.isdigit():
        return (0, -int(version), "")
    stamp = -created_at.timestamp() if created_at else 0.0
    return (1, stamp, version)


def asking_who_trained(model: str, version: str | None = None,
                       as_of: datetime | None = None) -> Question[list[TrainingFact]]:
    """Every version of ``model`` newest first, or only ``version``, as a question; with
    ``as_of``, the versions that existed then, as they stood then.

    Each statement is a read of its own; the existence check runs only for an empty
    answer, and a model created between the two reads is simply reported as found."""
    at = asof.instant(as_of)
    if version is not None:
        key = versioned_key(model, version)
        rows = yield Read(ONE_VERSION if at is None else ONE_VERSION_AT,
                          {"key": key, "asOf": at})
    else:
        rows = yield Read(ALL_VERSIONS if at is None else ALL_VERSIONS_AT,
                          {"model": model, "asOf": at})
    if not rows:
        found = yield Read(MODEL_EXISTS, {"model": model})
        if not found[0]["found"]:
            raise NotFound("model", model)
        if version is not None:
            if at is not None:
                now = yield Read(VERSION_EXISTS, {"key": key})
                if now[0]["found"]:
                    raise NotYet("model version", key, at)
            raise NotFound("model version", key)
    facts = [_fact(r) for r in rows]
    return sorted(facts, key=lambda f: newest_first(f.version, f.created_at))


def who_trained(graph: Graph, model: str, version: str | None = None,
                as_of: datetime | None = None) -> list[TrainingFact]:
    """Every version of ``model`` newest first, or only ``version``; with ``as_of``, as
    they stood then."""
    return graph.ask(asking_who_trained(model, version, as_of))


# -- a page at a time ---------------------------------------------------------------------
# ``newest_first`` said in Cypher: [0, -number, ""] for a numbered version, [1, -created
# seconds, version] for a named one; lists compare item by item, so the page after a
# cursor is the versions whose key is greater. Only the page's versions gather their facts.
_KEY = """WITH v, CASE WHEN v.version =~ '[0-9]+' THEN 0 ELSE 1 END AS g
WITH v, CASE WHEN g = 0 THEN [0, -toInteger(v.version), '']
  ELSE [1, -coalesce(v.createdAt.epochSeconds + v.createdAt.nanosecond / 1e9, 0.0),
        v.version] END AS sortKey
WHERE $after IS NULL OR sortKey > $after
WITH v, sortKey ORDER BY sortKey LIMIT $limit
"""


def _paged(facts: str) -> str:
    return _KEY + facts.rstrip() + ",\n       sortKey\nORDER BY sortKey\n"


PAGE_VERSIONS = ("MATCH (v:ModelVersion {model: $model})\n" + _paged(_facts(False)))
PAGE_VERSIONS_AT = ("MATCH (v:ModelVersion {model: $model}) WHERE " + asof.existed("v")
                    + "\n" + _paged(_facts(True)))


def asking_who_trained_page(model: str, *, first: int = 20, after: str | None = None,
                            as_of: datetime | None = None
                            ) -> Question[Page[TrainingFact]]:
    """One page of ``who_trained(model)`` in its order (newest first), as a question."""
    size = page_size(first)
    at = asof.instant(as_of)
    last = None
    if after is not None:
        last = decode_cursor(after, 3)
        if last[0] not in (0, 1) or not isinstance(last[1], int | float):
            raise InvalidInput("after", "is not a cursor this list gave", after)
    if size == 0:
        return Page((), None, False)
    rows = yield Read(PAGE_VERSIONS if at is None else PAGE_VERSIONS_AT,
                      {"model": model, "asOf": at, "after": last, "limit": size + 1})
    if not rows and after is None:
        found = yield Read(MODEL_EXISTS, {"model": model})
        if not found[0]["found"]:
            raise NotFound("model", model)
    items = tuple(_fact(r) for r in rows[:size])
    cursor = encode_cursor(rows[len(items) - 1]["sortKey"]) if items else None
    return Page(items, cursor, len(rows) > size)


def who_trained_page(graph: Graph, model: str, *, first: int = 20, after: str | None = None,
                     as_of: datetime | None = None) -> Page[TrainingFact]:
    """One page of every version of ``model``, newest first (``who_trained``'s order);
    ``after`` is the previous page's ``end_cursor``. Only the page's versions are read
    in full, so a model with hundreds of versions answers its first page quickly."""
    return graph.ask(asking_who_trained_page(model, first=first, after=after, as_of=as_of))
