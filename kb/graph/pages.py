"""The reads the documentation site needs, batched per page kind.

Each function reads a list of named entities of one kind in a handful of statements, so
rendering a thousand model cards costs a few round trips per chunk of names, not
thousands. A full build and a sync run the very same statements (``NAMES`` lists every
entity for the full build), so the server plans each statement once, not once per
variant. Rows come back as plain dicts, each entity's properties projected and decoded by
``kb.graph.properties`` (stamps travel as text, which the driver returns fastest);
shaping them into pages is ``docs_gen``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from kb.domain import CHANGE_LABEL, KEY_PROPERTY, Label, Rel
from kb.domain.answers import DeploymentFact, ImpactItem
from kb.domain.changes import read_links

from . import ownership, production
from .driver import answer, plain
from .history import changes, fact
from .lineage import asking_impact
from .people import active
from .properties import decode, decode_link, projection
from .stamps import read_stamp

#: How many consumers or runs a page lists before it only gives the count.
RECENT = 10

_OWNER = ("CASE WHEN o IS NULL THEN null ELSE {kind: head(labels(o)), "
          "key: coalesce(o.handle, o.name), role: e.role, since: toString(e.since), "
          f"until: toString(e.until), active: {active('o')}}} END")
_NOTE = projection("n", Label.NOTE, ("id", "body", "createdAt"), {"author": "w.handle"})

_MODELS = f"""
OPTIONAL MATCH (o)-[e:OWNS]->(m)
WITH m, collect({_OWNER}) AS owners
OPTIONAL MATCH (n:Note)-[:ABOUT]->(m)
OPTIONAL MATCH (w:Person)-[:WROTE]->(n)
WITH m, owners, collect(CASE WHEN n IS NULL THEN null ELSE
     {_NOTE} END) AS notes
CALL (m) {{
  OPTIONAL MATCH (o)-[e:OWNS]->(m) WHERE e.until IS NULL
  OPTIONAL MATCH (o)-[:MEMBER_OF]->(t:Team)
  RETURN collect(DISTINCT CASE WHEN o:Team THEN o.name END) + collect(DISTINCT t.name) AS teams
}}
RETURN {projection("m", Label.MODEL)} AS model, owners, notes, teams
"""
# Named entities by key seek (`m.name IN $names` the planner cannot answer from the key
# index); a full build names every entity, in chunks.
MODELS = "UNWIND $names AS name MATCH (m:Model {name: name})" + _MODELS

#: Every entity with a page, by kind: the names a full build reads in chunks.
NAMES = """
CALL () { MATCH (n:Model) RETURN collect(n.name) AS models }
CALL () { MATCH (n:Dataset) RETURN collect(n.name) AS datasets }
CALL () { MATCH (n:Person) RETURN collect(n.handle) AS people }
CALL () { MATCH (n:Team) RETURN collect(n.name) AS teams }
RETURN models, datasets, people, teams
"""

MODEL_INDEX = """
MATCH (m:Model)
CALL (m) {
  OPTIONAL MATCH (v:ModelVersion)-[:VERSION_OF]->(m)
  OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v)
  RETURN collect(CASE WHEN v IS NULL THEN null ELSE
    {version: v.version, at: toString(coalesce(r.endedAt, r.startedAt, v.createdAt))} END)
    AS versions
}
CALL (m) {
  OPTIONAL MATCH (o)-[e:OWNS]->(m) WHERE e.until IS NULL
  RETURN collect(DISTINCT coalesce(o.handle, o.name)) AS owners
}
RETURN m.name AS name, m.task AS task, versions, owners
"""

DATASET_INDEX = """
MATCH (d:Dataset)
CALL (d) {
  OPTIONAL MATCH (dv:DatasetVersion)-[:VERSION_OF]->(d)
  RETURN collect(CASE WHEN dv IS NULL THEN null ELSE
    {version: dv.version, at: dv.createdAt} END) AS versions
}
CALL (d) {
  OPTIONAL MATCH (o)-[e:OWNS]->(d) WHERE e.until IS NULL
  RETURN collect(DISTINCT coalesce(o.handle, o.name)) AS owners
}
RETURN d.name AS name, d.domain AS domain, versions, owners
"""

PEOPLE_INDEX = f"""
MATCH (p:Person)
RETURN p.handle AS handle, p.name AS name, {active('p')} AS active,
       COLLECT {{ MATCH (p)-[:MEMBER_OF]->(t:Team) RETURN t.name ORDER BY t.name }} AS teams,
       COUNT {{ (p)-[:TRAINED]->(:Run) }} AS runs
"""

TEAM_INDEX = """
MATCH (t:Team)
RETURN t.name AS name, t.description AS description,
       COUNT { (:Person)-[:MEMBER_OF]->(t) } AS members
"""

_MODEL_VERSIONS = """
OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v)
WITH v, m, head(collect(r)) AS r
OPTIONAL MATCH (p:Person)-[:TRAINED]->(r)
OPTIONAL MATCH (r)-[:AT_COMMIT]->(c:CodeVersion)
OPTIONAL MATCH (r)-[:IN_ENV]->(env:Environment)
OPTIONAL MATCH (r)-[:PART_OF]->(x:Experiment)
CALL (r) {
  OPTIONAL MATCH (r)-[u:USED]->(dv:DatasetVersion)
  RETURN collect(CASE WHEN dv IS NULL THEN null ELSE
    {key: dv.key, dataset: dv.dataset, version: dv.version, digest: dv.digest,
     rows: dv.rows, role: u.role} END) AS inputs
}
CALL (v) {
  OPTIONAL MATCH (d:Deployment)-[:SERVES]->(v)
  OPTIONAL MATCH (dp:Person)-[:DEPLOYED]->(d)
  RETURN collect(CASE WHEN d IS NULL THEN null ELSE """ + projection(
      "d", Label.DEPLOYMENT, ("id", "environment", "endpoint", "status", "deployedAt",
                              "retiredAt"), {"deployedBy": "dp.handle"}) + """ END)
    AS deployments
}
WITH m, collect({
       version: """ + projection("v", Label.MODEL_VERSION, (
           "version", "key", "uri", "framework", "aliases", "createdAt", "updatedAt")) + """,
       run: """ + projection("r", Label.RUN, (
           "id", "name", "status", "params", "metrics", "command", "seed", "trackerUrl",
           "updatedAt", "startedAt", "endedAt")) + """,
       trainedBy: p.handle,
       trainerActive: CASE WHEN p IS NULL THEN null ELSE """ + active("p") + """ END,
       code: """ + projection("c", Label.CODE_VERSION, ("repo", "commit", "branch", "dirty")) + """,
       environment: """ + projection("env", Label.ENVIRONMENT, (
           "digest", "python", "platform", "accelerator", "packages")) + """,
       experiment: x.name, inputs: inputs, deployments: deployments}) AS versions
RETURN m.name AS model, versions
"""
# One row per model, holding only the properties the card shows: the driver's cost is
# per record and per value, and the rest (key lists, stamps of code and environment) were
# decoded for nothing.
MODEL_VERSIONS = ("UNWIND $names AS name MATCH (m:Model {name: name}) "
                  "MATCH (v:ModelVersion)-[:VERSION_OF]->(m)" + _MODEL_VERSIONS)

# Dataset-to-dataset derivations, all of them: lineage diagrams walk these in memory.
DERIVATIONS = """
MATCH (src:DatasetVersion)<-[:USED]-(r:Run)-[:PRODUCED]->(dst:DatasetVersion)
RETURN src.key AS src, dst.key AS dst, r.id AS run, r.kind AS kind
"""

_DATASETS = f"""
OPTIONAL MATCH (o)-[e:OWNS]->(d)
WITH d, collect({_OWNER}) AS owners
OPTIONAL MATCH (n:Note)-[:ABOUT]->(d)
OPTIONAL MATCH (w:Person)-[:WROTE]->(n)
WITH d, owners, collect(CASE WHEN n IS NULL THEN null ELSE
     {_NOTE} END) AS notes
RETURN {projection("d", Label.DATASET)} AS dataset, owners, notes
"""
DATASETS = "UNWIND $names AS name MATCH (d:Dataset {name: name})" + _DATASETS

_DATASET_VERSIONS = """
CALL (dv) {
  OPTIONAL MATCH (src:DatasetVersion)<-[:USED]-(:Run)-[:PRODUCED]->(dv)
  RETURN collect(DISTINCT src.key) AS derivedFrom
}
CALL (dv) {
  OPTIONAL MATCH (dv)<-[:USED]-(:Run)-[:PRODUCED]->(dst:DatasetVersion)
  RETURN collect(DISTINCT dst.key) AS derivedInto
}
CALL (dv) {
  OPTIONAL MATCH (r:Run)-[u:USED]->(dv) WHERE r.kind <> 'derivation' OR r.kind IS NULL
  OPTIONAL MATCH (p:Person)-[:TRAINED]->(r)
  WITH r, u, p ORDER BY r.startedAt DESC, r.id
  WITH collect(CASE WHEN r IS NULL THEN null ELSE """ + projection(
      "r", Label.RUN, ("id", "name", "startedAt"), {"role": "u.role", "person": "p.handle"}
  ) + """ END) AS runs
  RETURN size(runs) AS runCount, runs[0..$recent] AS recentRuns
}
RETURN d.name AS dataset, """ + projection("dv", Label.DATASET_VERSION) + """ AS version,
       derivedFrom, derivedInto, runCount, recentRuns
"""
DATASET_VERSIONS = ("UNWIND $names AS name MATCH (d:Dataset {name: name}) "
                    "MATCH (dv:DatasetVersion)-[:VERSION_OF]->(d)" + _DATASET_VERSIONS)

_PEOPLE = """
CALL (p) {
  OPTIONAL MATCH (p)-[:MEMBER_OF]->(t:Team)
  RETURN collect(DISTINCT t.name) AS teams
}
CALL (p) {
  OPTIONAL MATCH (p)-[e:OWNS]->(a)
  CALL (a, p) {
    OPTIONAL MATCH (o)-[e2:OWNS]->(a)
    WHERE e2.until IS NULL AND o <> p AND """ + active("o") + """
    RETURN count(o) AS others
  }
  RETURN collect(CASE WHEN a IS NULL THEN null ELSE
    {kind: head(labels(a)), key: coalesce(a.name, a.id), role: e.role,
     since: toString(e.since), until: toString(e.until), others: others} END) AS owned
}
CALL (p) {
  OPTIONAL MATCH (p)-[:TRAINED]->(r:Run)
  OPTIONAL MATCH (r)-[:PRODUCED]->(v:ModelVersion)
  WITH r, collect(v.key) AS produced ORDER BY r.startedAt DESC, r.id
  WITH collect(CASE WHEN r IS NULL THEN null ELSE """ + projection(
      "r", Label.RUN, ("id", "name", "startedAt", "status"), {"produced": "produced"}
  ) + """ END) AS runs
  RETURN size(runs) AS runCount, runs[0..$recent] AS recentRuns
}
CALL (p) {
  OPTIONAL MATCH (p)-[:DEPLOYED]->(d:Deployment)
  OPTIONAL MATCH (d)-[:SERVES]->(v:ModelVersion)
  WITH d, v ORDER BY d.deployedAt DESC, d.id
  RETURN collect(CASE WHEN d IS NULL THEN null ELSE """ + projection(
      "d", Label.DEPLOYMENT, ("id", "environment", "status", "deployedAt"),
      {"model": "v.model", "version": "v.version"}) + """ END) AS deployed
}
RETURN """ + projection("p", Label.PERSON, extra={"active": active("p")}) + """ AS person,
       teams, owned, runCount, recentRuns, deployed
"""
PEOPLE = "UNWIND $handles AS handle MATCH (p:Person {handle: handle})" + _PEOPLE

_TEAMS = """
CALL (t) {
  OPTIONAL MATCH (p:Person)-[:MEMBER_OF]->(t)
  RETURN collect(CASE WHEN p IS NULL THEN null ELSE
    {handle: p.handle, name: p.name, active: """ + active("p") + """} END) AS members
}
CALL (t) {
  OPTIONAL MATCH (t)-[e:OWNS]->(a) WHERE e.until IS NULL
  RETURN collect(CASE WHEN a IS NULL THEN null ELSE
    {kind: head(labels(a)), key: coalesce(a.name, a.id), role: e.role} END) AS owned
}
CALL (t) {
  OPTIONAL MATCH (o)-[e:OWNS]->(m:Model)
  WHERE e.until IS NULL AND (o = t OR (o:Person AND (o)-[:MEMBER_OF]->(t)))
  RETURN collect(DISTINCT m.name) AS models
}
RETURN """ + projection("t", Label.TEAM) + """ AS team, members, owned, models
"""
TEAMS = "UNWIND $names AS name MATCH (t:Team {name: name})" + _TEAMS


COUNTS = """
CALL () { MATCH (n:Model) RETURN count(n) AS models }
CALL () { MATCH (n:ModelVersion) RETURN count(n) AS modelVersions }
CALL () { MATCH (n:Dataset) RETURN count(n) AS datasets }
CALL () { MATCH (n:DatasetVersion) RETURN count(n) AS datasetVersions }
CALL () { MATCH (n:Run) WHERE coalesce(n.kind, 'training') <> 'derivation'
          RETURN count(n) AS runs }
CALL () { MATCH (n:Person) RETURN count(n) AS people }
CALL () { MATCH (n:Team) RETURN count(n) AS teams }
CALL () { MATCH (n:Deployment {status: 'ACTIVE'}) RETURN count(n) AS activeDeployments }
CALL () { MATCH (n) WHERE n.updatedAt IS NOT NULL RETURN max(n.updatedAt) AS lastUpdated }
RETURN models, modelVersions, datasets, datasetVersions, runs, people, teams,
       activeDeployments, lastUpdated
"""

RECENT_VERSIONS = """
MATCH (v:ModelVersion)
OPTIONAL MATCH (r:Run)-[:PRODUCED]->(v)
OPTIONAL MATCH (p:Person)-[:TRAINED]->(r)
WITH v, max(coalesce(r.endedAt, r.startedAt, v.createdAt)) AS at, head(collect(p.handle)) AS by
ORDER BY at DESC, v.key
LIMIT $limit
RETURN v.model AS model, v.version AS version, at, by
"""



# Change records count too: a link-only change (an ownership or alias moved) may leave
# every updatedAt and createdAt as it was.
WATERMARK = f"""
CALL () {{ MATCH (n) RETURN max(n.updatedAt) AS nodes }}
CALL () {{ MATCH ()-[r]->() RETURN max(r.createdAt) AS links }}
CALL () {{
  OPTIONAL MATCH (c:{CHANGE_LABEL}) WHERE c.at IS NOT NULL
  WITH c ORDER BY c.at DESC LIMIT 1
  RETURN c.at AS records
}}
UNWIND [nodes, links, records] AS stamp
RETURN max(stamp) AS at
"""


def _changed(label: Label) -> str:
    return (f"MATCH (n:{label.value}) WHERE n.updatedAt > $since "
            f"RETURN '{label.value}' AS label, n.{KEY_PROPERTY[label]} AS key, "
            "elementId(n) AS id")


# One statement (each label's updatedAt index) rather than one per label: a sync on a
# server that has not planned them yet paid for a dozen plans.
CHANGED_NODES = ("CALL () {\n" + "\nUNION ALL\n".join(_changed(label) for label in Label)
                 + "\n}\nRETURN label, key, id")

# Which pages a changed entity shows up on: its model or dataset, the people who trained,
# deployed or wrote about it, its owners, for data and deployments what they feed, and
# every dataset upstream of it at any depth (datasheets show their whole impact).
# The changed nodes come by element id, found in the same transaction, so one statement
# serves every label.
PAGES_OF = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
WITH [n] + COLLECT { MATCH (n)-[:VERSION_OF]->(x) RETURN x }
  + COLLECT { MATCH (n)-[:PRODUCED|USED]-(:ModelVersion|DatasetVersion)-[:VERSION_OF]->(x)
              RETURN DISTINCT x }
  + COLLECT { MATCH (n)<-[:TRAINED|DEPLOYED|WROTE]-(x:Person) RETURN x }
  + COLLECT { MATCH (n)-[:OWNS]-(x) RETURN DISTINCT x }
  + COLLECT { MATCH (n)-[:SERVES]->(:ModelVersion)-[:VERSION_OF]->(x) RETURN x }
  + COLLECT { MATCH (n)-[:SERVES]->(:ModelVersion)<-[:PRODUCED]-(:Run)-[:USED]->
                     (:DatasetVersion)-[:VERSION_OF]->(x) RETURN DISTINCT x }
  + COLLECT { MATCH (n:DatasetVersion)<-[:USED]-(:Run)-[:PRODUCED]->(:ModelVersion)
                     -[:VERSION_OF]->(x) RETURN DISTINCT x }
  + COLLECT { MATCH (n)-[:SERVES]->{0,1}(:ModelVersion|DatasetVersion)
                     (()<-[:PRODUCED]-(:Run)-[:USED]->(:DatasetVersion)){1,}
                     ()-[:VERSION_OF]->(x) RETURN DISTINCT x }
  + COLLECT { MATCH (n:Run)-[:USED]->(:DatasetVersion)
                     (()<-[:PRODUCED]-(:Run)-[:USED]->(:DatasetVersion)){0,}
                     ()-[:VERSION_OF]->(x) RETURN DISTINCT x }
  + COLLECT { MATCH (n)-[:ABOUT]->(x) RETURN x }
  + COLLECT { MATCH (n)-[:ABOUT]->()-[:VERSION_OF]->(x) RETURN x } AS hits
UNWIND hits AS h
WITH DISTINCT h WHERE h:Model OR h:Dataset OR h:Person OR h:Team
RETURN CASE WHEN h:Model THEN 'Model' WHEN h:Dataset THEN 'Dataset'
            WHEN h:Person THEN 'Person' ELSE 'Team' END AS label,
       coalesce(h.handle, h.name) AS key
"""

# A new link touches the pages of its two ends (or of the model/dataset they version).
CHANGED_LINKS = """
MATCH (a)-[r]->(b) WHERE r.createdAt > $since
UNWIND [a, b] AS n
OPTIONAL MATCH (n)-[:VERSION_OF]->(p)
WITH DISTINCT coalesce(p, n) AS h WHERE h:Model OR h:Dataset OR h:Person OR h:Team
RETURN CASE WHEN h:Model THEN 'Model' WHEN h:Dataset THEN 'Dataset'
            WHEN h:Person THEN 'Person' ELSE 'Team' END AS label,
       coalesce(h.handle, h.name) AS key
"""

# A person's teams and a model's owning teams: their team pages list them.
TEAMS_OF = """
UNWIND $refs AS ref
CALL (ref) {
  OPTIONAL MATCH (p:Person {handle: ref.key})-[:MEMBER_OF]->(t:Team) WHERE ref.label = 'Person'
  RETURN collect(t.name) AS a
}
CALL (ref) {
  OPTIONAL MATCH (o)-[e:OWNS]->(m:Model {name: ref.key})
  WHERE ref.label = 'Model' AND e.until IS NULL
  OPTIONAL MATCH (o)-[:MEMBER_OF]->(t2:Team)
  RETURN collect(CASE WHEN o:Team THEN o.name END) + collect(t2.name) AS b
}
UNWIND a + b AS team
RETURN DISTINCT team
"""


def _rows(tx: ManagedTransaction, query: str, **params: Any) -> list[dict[str, Any]]:
    return [plain(record.data()) for record in tx.run(query, **params)]


def _records(tx: ManagedTransaction, query: str, **params: Any) -> list[dict[str, Any]]:
    # the rows hold maps and lists only (no nodes), so the record's own values will do
    result = tx.run(query, **params)
    keys = result.keys()
    return [dict(zip(keys, record.values(), strict=True)) for record in result]


def _each(label: Label, maps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [decode(label, m) for m in maps]


def _ownerships(maps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [decode_link(Rel.OWNS, m) for m in maps]


def indexes(tx: ManagedTransaction) -> dict[str, list[dict[str, Any]]]:
    """One light row per model, dataset, person and team for the section index pages."""
    models = _records(tx, MODEL_INDEX)
    for row in models:
        for version in row["versions"]:
            version["at"] = read_stamp(version["at"])
    return {
        "Model": models,
        "Dataset": _rows(tx, DATASET_INDEX),
        "Person": _rows(tx, PEOPLE_INDEX),
        "Team": _rows(tx, TEAM_INDEX),
    }


def names(tx: ManagedTransaction) -> dict[str, list[str]]:
    """The key of every entity with a page, by label, sorted."""
    row = tx.run(NAMES).single(strict=True)
    return {"Model": sorted(row["models"]), "Dataset": sorted(row["datasets"]),
            "Person": sorted(row["people"]), "Team": sorted(row["teams"])}


def _versions(tx: ManagedTransaction, names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for model, versions in tx.run(MODEL_VERSIONS, names=names):
        for row in versions:
            row["model"] = model
            row["version"] = decode(Label.MODEL_VERSION, row["version"])
            if row["run"] is not None:
                # params and metrics stay JSON text: docs_gen caches their decoding on the
                # text, which many runs share
                row["run"] = decode(Label.RUN, row["run"], as_text=("params", "metrics"))
            row["deployments"] = _each(Label.DEPLOYMENT, row["deployments"])
            # code, environment and inputs hold text, numbers and lists only: as the
            # driver returns them
            rows.append(row)
    return rows


def models(tx: ManagedTransaction, names: list[str]) -> dict[str, Any]:
    """The named models and their versions (a row each) with run facts."""
    rows = _records(tx, MODELS, names=names)
    for row in rows:
        row["model"] = decode(Label.MODEL, row["model"])
        row["owners"] = _ownerships(row["owners"])
        row["notes"] = _each(Label.NOTE, row["notes"])
    return {"models": rows, "versions": _versions(tx, names),
            "history": page_history(tx, Label.MODEL, names)}


def derivations(tx: ManagedTransaction) -> list[dict[str, Any]]:
    """All dataset derivations: lineage diagrams walk these in memory."""
    return _rows(tx, DERIVATIONS)


def datasets(tx: ManagedTransaction, names: list[str]) -> dict[str, Any]:
    """The named datasets, their versions (a row each, with the dataset versions each was
    derived from and derived into) and each dataset's impact, as ``lineage.impact``."""
    rows = _records(tx, DATASETS, names=names)
    for row in rows:
        row["dataset"] = decode(Label.DATASET, row["dataset"])
        row["owners"] = _ownerships(row["owners"])
        row["notes"] = _each(Label.NOTE, row["notes"])
    versions = _records(tx, DATASET_VERSIONS, names=names, recent=RECENT)
    for row in versions:
        row["version"] = decode(Label.DATASET_VERSION, row["version"])
        row["recentRuns"] = _each(Label.RUN, row["recentRuns"])
    return {"datasets": rows, "versions": versions,
            "impact": {row["dataset"]["name"]: _impact(tx, row["dataset"]["name"])
                       for row in rows},
            "history": page_history(tx, Label.DATASET, names)}


def _impact(tx: ManagedTransaction, name: str) -> list[ImpactItem]:
    # ``kb impact``'s own question, answered inside this read: a datasheet shows exactly
    # its answer, and one plan serves every dataset
    return answer(asking_impact(name), lambda read: _rows(tx, read.statement, **read.params))


def people(tx: ManagedTransaction, handles: list[str]) -> list[dict[str, Any]]:
    rows = _records(tx, PEOPLE, handles=handles, recent=RECENT)
    for row in rows:
        row["person"] = decode(Label.PERSON, row["person"])
        row["owned"] = _ownerships(row["owned"])
        row["recentRuns"] = _each(Label.RUN, row["recentRuns"])
        row["deployed"] = _each(Label.DEPLOYMENT, row["deployed"])
    return rows


def teams(tx: ManagedTransaction, names: list[str]) -> list[dict[str, Any]]:
    rows = _records(tx, TEAMS, names=names)
    for row in rows:
        row["team"] = decode(Label.TEAM, row["team"])
    return rows


def deployments(tx: ManagedTransaction) -> list[DeploymentFact]:
    """Every deployment, active and retired, as ``production.deployments`` answers."""
    return production.read_deployments(tx)


def home(tx: ManagedTransaction, recent: int = RECENT) -> dict[str, Any]:
    """Counts, the newest model versions and assets nobody active owns."""
    return {
        "counts": plain(tx.run(COUNTS).single(strict=True).data()),
        "recent": _rows(tx, RECENT_VERSIONS, limit=recent),
        "orphans": ownership.read_orphans(tx),
    }


def watermark(tx: ManagedTransaction) -> datetime | None:
    """The newest change in the graph: node updates and link creations."""
    return plain(tx.run(WATERMARK).single(strict=True)["at"])


def changed_since(tx: ManagedTransaction, since: datetime) -> dict[str, Any]:
    """What changed after ``since`` and the entity pages (model, dataset, person, team,
    run, experiment) each change shows up on; ``lastUpdated`` is the next watermark."""
    changed: dict[str, list[str]] = {}
    ids = []
    for r in tx.run(CHANGED_NODES, since=since):
        if r["key"] is not None:
            changed.setdefault(r["label"], []).append(r["key"])
            ids.append(r["id"])
    pages: set[tuple[str, str]] = set()
    if ids:
        pages.update((r["label"], r["key"]) for r in tx.run(PAGES_OF, ids=ids))
    pages.update((r["label"], r["key"]) for r in tx.run(CHANGED_LINKS, since=since))
    pages.update(run_pages_of(tx, ids, since))
    records, recorded = changed_records(tx, since)
    pages.update(records)
    page_rows = [{"label": label, "key": key} for label, key in sorted(pages)]
    if page_rows:
        pages.update(("Team", r["team"]) for r in tx.run(TEAMS_OF, refs=page_rows)
                     if r["team"] is not None)
    order = [label.value for label in Label]
    return {
        "changed": {label: sorted(changed[label]) for label in order if label in changed},
        "records": recorded,
        "pages": sorted(pages),
        "watermark": watermark(tx),
    }


# -- runs and experiments -------------------------------------------------------------------

#: Every run and experiment: a full build reads their pages in chunks.
RUN_NAMES = """
CALL () { MATCH (n:Run) RETURN collect(n.id) AS runs }
CALL () { MATCH (n:Experiment) RETURN collect(n.name) AS experiments }
RETURN runs, experiments
"""

_RUN_FIELDS = ("id", "name", "kind", "status", "startedAt", "endedAt", "params", "metrics",
               "command", "seed", "trackerUrl", "error", "producer", "updatedAt")

RUNS = """
UNWIND $ids AS id
MATCH (r:Run {id: id})
OPTIONAL MATCH (p:Person)-[:TRAINED]->(r)
OPTIONAL MATCH (r)-[:PART_OF]->(x:Experiment)
OPTIONAL MATCH (r)-[:AT_COMMIT]->(c:CodeVersion)
OPTIONAL MATCH (r)-[:IN_ENV]->(env:Environment)
OPTIONAL MATCH (r)-[:CHILD_OF]->(up:Run)
WITH r, head(collect(p)) AS p, head(collect(x)) AS x, head(collect(c)) AS c,
     head(collect(env)) AS env, head(collect(up)) AS up
RETURN """ + projection("r", Label.RUN, _RUN_FIELDS) + """ AS run,
  CASE WHEN p IS NULL THEN null ELSE
    {handle: p.handle, name: p.name, active: """ + active("p") + """} END AS trainer,
  x.name AS experiment,
  CASE WHEN c IS NULL THEN null ELSE
    {repo: c.repo, commit: c.commit, branch: c.branch, dirty: c.dirty} END AS code,
  CASE WHEN env IS NULL THEN null ELSE
    {digest: env.digest, python: env.python, platform: env.platform,
     accelerator: env.accelerator, packages: env.packages} END AS environment,
  CASE WHEN up IS NULL THEN null ELSE {id: up.id, name: up.name, status: up.status} END
    AS parent,
  COLLECT { MATCH (r)-[u:USED]->(dv:DatasetVersion)
            RETURN {key: dv.key, dataset: dv.dataset, version: dv.version,
                    digest: dv.digest, rows: dv.rows, role: u.role} AS i
            ORDER BY i.role, i.key } AS inputs,
  COLLECT { MATCH (r)-[:PRODUCED]->(v:ModelVersion)
            RETURN {key: v.key, model: v.model, version: v.version} AS o ORDER BY o.key }
    AS models,
  COLLECT { MATCH (r)-[:PRODUCED]->(dv:DatasetVersion)
            RETURN {key: dv.key, dataset: dv.dataset, version: dv.version,
                    digest: dv.digest} AS o ORDER BY o.key } AS datasets,
  COLLECT { MATCH (ch:Run)-[:CHILD_OF]->(r)
            RETURN {id: ch.id, name: ch.name, status: ch.status,
                    startedAt: toString(ch.startedAt)} AS ch
            ORDER BY ch.startedAt, ch.id } AS children,
  COLLECT { MATCH (n:Note)-[:ABOUT]->(r)
            OPTIONAL MATCH (w:Person)-[:WROTE]->(n)
            RETURN """ + _NOTE + """ AS n ORDER BY n.createdAt, n.id } AS notes
"""

EXPERIMENTS = """
UNWIND $names AS name
MATCH (x:Experiment {name: name})
RETURN """ + projection("x", Label.EXPERIMENT, ("name", "description", "updatedAt")) + """
    AS experiment,
  COLLECT { MATCH (o)-[e:OWNS]->(x) WHERE e.until IS NULL
            RETURN {kind: head(labels(o)), key: coalesce(o.handle, o.name),
                    role: e.role, active: """ + active("o") + """} AS o ORDER BY o.key }
    AS owners,
  COLLECT { MATCH (r:Run)-[:PART_OF]->(x)
            OPTIONAL MATCH (p:Person)-[:TRAINED]->(r)
            RETURN """ + projection(
                "r", Label.RUN, ("id", "name", "status", "startedAt", "endedAt", "params",
                                 "metrics"),
                {"person": "p.handle", "active": active("p")}) + """ AS r } AS runs,
  COLLECT { MATCH (n:Note)-[:ABOUT]->(x)
            OPTIONAL MATCH (w:Person)-[:WROTE]->(n)
            RETURN """ + _NOTE + """ AS n ORDER BY n.createdAt, n.id } AS notes
"""

EXPERIMENT_INDEX = """
MATCH (x:Experiment)
CALL (x) {
  OPTIONAL MATCH (r:Run)-[:PART_OF]->(x)
  RETURN count(r) AS runs, toString(max(r.startedAt)) AS last,
         count(CASE WHEN r.status IN $open THEN 1 END) AS running,
         count(CASE WHEN r.status IN $failed THEN 1 END) AS failed
}
RETURN x.name AS name, runs, last, running, failed,
  COLLECT { MATCH (o)-[e:OWNS]->(x) WHERE e.until IS NULL
            RETURN coalesce(o.handle, o.name) AS o ORDER BY o } AS owners
"""

#: Statuses of a run not finished yet, and of one that ended without completing.
OPEN_STATUSES = ["RUNNING", "SCHEDULED"]
FAILED_STATUSES = ["FAILED", "ABORTED", "KILLED"]
#: Runs and notes a person's page lists before it gives the count.
WORK_SHOWN = 25

PERSON_WORK = """
UNWIND $handles AS handle
MATCH (p:Person {handle: handle})
CALL (p) {
  OPTIONAL MATCH (p)-[:TRAINED]->(r:Run)
  OPTIONAL MATCH (r)-[:PART_OF]->(x:Experiment)
  WITH x.name AS experiment, r.status AS status, count(r) AS runs,
       max(r.startedAt) AS last
  WHERE runs > 0
  RETURN collect({experiment: experiment, status: status, runs: runs,
                  last: toString(last)}) AS byExperiment
}
CALL (p) {
  OPTIONAL MATCH (p)-[:TRAINED]->(r:Run)
  WHERE r.status IN $open OR r.status IN $failed
  OPTIONAL MATCH (r)-[:PART_OF]->(x:Experiment)
  WITH r, x ORDER BY r.startedAt DESC, r.id
  WITH collect(CASE WHEN r IS NULL THEN null ELSE """ + projection(
      "r", Label.RUN, ("id", "name", "status", "startedAt", "endedAt", "error"),
      {"experiment": "x.name"}) + """ END) AS rs
  RETURN size(rs) AS unsettledCount, rs[0..$shown] AS unsettled
}
CALL (p) {
  OPTIONAL MATCH (p)-[:TRAINED]->(r:Run)
  WITH r ORDER BY r.startedAt DESC, r.id LIMIT $shown
  OPTIONAL MATCH (r)-[:PART_OF]->(x:Experiment)
  WITH r, x, COLLECT { MATCH (r)-[:PRODUCED]->(v:ModelVersion) RETURN v.key } AS produced
  ORDER BY r.startedAt DESC, r.id
  RETURN collect(CASE WHEN r IS NULL THEN null ELSE """ + projection(
      "r", Label.RUN, ("id", "name", "status", "startedAt"),
      {"experiment": "x.name", "produced": "produced"}) + """ END) AS recent
}
CALL (p) {
  OPTIONAL MATCH (p)-[:WROTE]->(n:Note)
  OPTIONAL MATCH (n)-[:ABOUT]->(a)
  WITH n, a ORDER BY n.createdAt DESC, n.id
  WITH collect(CASE WHEN n IS NULL THEN null ELSE """ + projection(
      "n", Label.NOTE, ("id", "body", "createdAt"),
      {"kind": "head(labels(a))",
       # a run's key is its id; its name is only a label
       "key": "CASE WHEN a:Run THEN a.id ELSE coalesce(a.handle, a.name, a.key, a.id) END",
       "model": "a.model", "dataset": "a.dataset", "version": "a.version"}) + """ END) AS ns
  RETURN size(ns) AS noteCount, ns[0..$shown] AS notes
}
RETURN p.handle AS handle, byExperiment, unsettledCount, unsettled, recent, noteCount, notes
"""

# What each member of a team owns now: the team page lists it beside the team's own.
TEAM_MEMBERS_OWN = """
UNWIND $names AS name
MATCH (t:Team {name: name})
MATCH (p:Person)-[:MEMBER_OF]->(t)
RETURN t.name AS team, p.handle AS handle, p.name AS name, """ + active("p") + """ AS active,
  COLLECT { MATCH (p)-[e:OWNS]->(a) WHERE e.until IS NULL
            RETURN {kind: head(labels(a)), key: coalesce(a.name, a.id), role: e.role} AS o
            ORDER BY o.kind, o.key } AS owned
ORDER BY handle
"""

# The run and experiment pages a change shows up on: a run's own page, its experiment's
# leaderboard, its parent's and children's lists; the runs a person trained (the trainer
# is marked when they leave) and their experiments; the runs that read, produced or ran
# with a changed dataset version, model version, commit or environment; what a note is
# about.
RUN_PAGES_OF = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
WITH [n] + COLLECT { MATCH (n:Run)-[:PART_OF]->(x:Experiment) RETURN x }
  + COLLECT { MATCH (n:Run)-[:CHILD_OF]-(x:Run) RETURN x }
  + COLLECT { MATCH (n:Person)-[:TRAINED]->(x:Run) RETURN x }
  + COLLECT { MATCH (n:Person)-[:TRAINED]->(:Run)-[:PART_OF]->(x:Experiment)
              RETURN DISTINCT x }
  + COLLECT { MATCH (n)<-[:USED|PRODUCED|AT_COMMIT|IN_ENV]-(x:Run) RETURN x }
  + COLLECT { MATCH (n)-[:OWNS]->(x:Experiment) RETURN x }
  + COLLECT { MATCH (n:Note)-[:ABOUT]->(x:Run|Experiment) RETURN x } AS hits
UNWIND hits AS h
WITH DISTINCT h WHERE h:Run OR h:Experiment
RETURN CASE WHEN h:Run THEN 'Run' ELSE 'Experiment' END AS label,
       coalesce(h.id, h.name) AS key
"""

# A new link touches the run and experiment pages at its ends, and a run's experiment.
RUN_LINKS = """
MATCH (a)-[r]->(b) WHERE r.createdAt > $since
UNWIND [a, b] AS n
OPTIONAL MATCH (n:Run)-[:PART_OF]->(x:Experiment)
UNWIND [n, x] AS h
WITH DISTINCT h WHERE h:Run OR h:Experiment
RETURN CASE WHEN h:Run THEN 'Run' ELSE 'Experiment' END AS label,
       coalesce(h.id, h.name) AS key
"""


def run_names(tx: ManagedTransaction) -> dict[str, list[str]]:
    """The id of every run and the name of every experiment, sorted."""
    row = tx.run(RUN_NAMES).single(strict=True)
    return {"Run": sorted(row["runs"]), "Experiment": sorted(row["experiments"])}


def runs(tx: ManagedTransaction, ids: list[str]) -> list[dict[str, Any]]:
    """The named runs with their trainer, experiment, code, environment, inputs, outputs,
    parent, children and notes; params and metrics stay JSON text."""
    rows = _records(tx, RUNS, ids=ids)
    history = page_history(tx, Label.RUN, ids)
    for row in rows:
        row["run"] = decode(Label.RUN, row["run"], as_text=("params", "metrics"))
        row["children"] = _each(Label.RUN, row["children"])
        row["notes"] = _each(Label.NOTE, row["notes"])
        row["history"] = history.get(row["run"]["id"])
    return rows


def experiments(tx: ManagedTransaction, names: list[str]) -> list[dict[str, Any]]:
    """The named experiments with their current owners, notes and every run (params and
    metrics as JSON text, for the leaderboard)."""
    rows = _records(tx, EXPERIMENTS, names=names)
    for row in rows:
        row["experiment"] = decode(Label.EXPERIMENT, row["experiment"])
        row["runs"] = [decode(Label.RUN, r, as_text=("params", "metrics"))
                       for r in row["runs"]]
        row["notes"] = _each(Label.NOTE, row["notes"])
    history = page_history(tx, Label.EXPERIMENT, names)
    for row in rows:
        row["history"] = history.get(row["experiment"]["name"])
    return rows


def experiment_index(tx: ManagedTransaction) -> list[dict[str, Any]]:
    """One row per experiment: run counts, the newest start, current owners."""
    rows = _rows(tx, EXPERIMENT_INDEX, open=OPEN_STATUSES, failed=FAILED_STATUSES)
    for row in rows:
        row["last"] = read_stamp(row["last"])
    return rows


def people_at_work(tx: ManagedTransaction, handles: list[str]) -> list[dict[str, Any]]:
    """``people`` plus what each was working on: runs by experiment and status, their
    failed and unfinished runs, their recent runs and the notes they wrote."""
    rows = people(tx, handles)
    work = {}
    for row in _records(tx, PERSON_WORK, handles=handles, open=OPEN_STATUSES,
                        failed=FAILED_STATUSES, shown=WORK_SHOWN):
        row["byExperiment"] = [{**g, "last": read_stamp(g["last"])}
                               for g in row["byExperiment"]]
        row["unsettled"] = _each(Label.RUN, row["unsettled"])
        row["recent"] = _each(Label.RUN, row["recent"])
        row["notes"] = _each(Label.NOTE, row["notes"])
        work[row["handle"]] = row
    history = page_history(tx, Label.PERSON, handles)
    for row in rows:
        row["work"] = work.get(row["person"]["handle"])
        row["history"] = history.get(row["person"]["handle"])
    return rows


def teams_with_members(tx: ManagedTransaction, names: list[str]) -> list[dict[str, Any]]:
    """``teams`` plus each member's current ownerships."""
    rows = teams(tx, names)
    members: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(tx, TEAM_MEMBERS_OWN, names=names):
        members.setdefault(row.pop("team"), []).append(row)
    history = page_history(tx, Label.TEAM, names)
    for row in rows:
        row["memberOwned"] = members.get(row["team"]["name"], [])
        row["history"] = history.get(row["team"]["name"])
    return rows


def run_pages_of(tx: ManagedTransaction, ids: list[str], since: datetime
                 ) -> set[tuple[str, str]]:
    """The run and experiment pages that the changed nodes ``ids`` and the links created
    after ``since`` show up on."""
    pages: set[tuple[str, str]] = set()
    if ids:
        pages.update((r["label"], r["key"]) for r in tx.run(RUN_PAGES_OF, ids=ids))
    pages.update((r["label"], r["key"]) for r in tx.run(RUN_LINKS, since=since))
    return pages


# -- history ----------------------------------------------------------------------------------

#: Changes an entity page's History section lists, newest first.
HISTORY_SHOWN = 10
#: Changes the Recent changes page lists.
RECENT_CHANGES = 200

# Each page's entities as (kind, key) pairs: a card is its model, versions and deployments,
# a datasheet its dataset and versions, any other page its one entity.
_REFS = {
    Label.MODEL: (
        "UNWIND $keys AS key OPTIONAL MATCH (m:Model {name: key})\n"
        "WITH key, [['Model', key]]\n"
        "  + COLLECT { MATCH (v)-[:VERSION_OF]->(m) RETURN ['ModelVersion', v.key] }\n"
        "  + COLLECT { MATCH (d:Deployment)-[:SERVES]->(:ModelVersion)-[:VERSION_OF]->(m)\n"
        "              RETURN DISTINCT ['Deployment', d.id] } AS refs\n"),
    Label.DATASET: (
        "UNWIND $keys AS key OPTIONAL MATCH (d:Dataset {name: key})\n"
        "WITH key, [['Dataset', key]]\n"
        # Unlabelled: only a dataset's versions link to it so, and a label would let the
        # planner start from every version instead of the dataset.
        "  + COLLECT { MATCH (v)-[:VERSION_OF]->(d)\n"
        "              RETURN ['DatasetVersion', v.key] } AS refs\n"),
}
_ONE_REF = "UNWIND $keys AS key WITH key, [[$kind, key]] AS refs\n"

# Each entity's newest records from the (kind, key, at) index (named: as the graph grows
# the planner may prefer a scan by kind alone), then each page's newest of those; the
# people among the writers, so their names link to their pages.
_PAGE_CHANGES = f"""
UNWIND refs AS ref
CALL (ref) {{
  MATCH (c:{CHANGE_LABEL} {{kind: ref[0], key: ref[1]}})
  USING INDEX SEEK c:{CHANGE_LABEL}(kind, key, at)
  WHERE c.at IS NOT NULL  // the (kind, key, at) index holds only records with all three
  RETURN c ORDER BY c.at DESC, c.id DESC LIMIT $limit
}}
WITH key, c ORDER BY c.at DESC, c.id DESC
WITH key, collect(c)[0..$limit] AS changes
RETURN key, changes,
       COLLECT {{ UNWIND changes AS c MATCH (p:Person {{handle: c.actor}})
                 RETURN DISTINCT p.handle }} AS people
"""

# The page a changed entity shows on (a version's section of its card, a deployment's
# version's section), for entities that still exist; people by handle for writers' links.
_TARGETS = [
    (Label.MODEL, "(n:Model {name: ref.key})", "n:Model(name)", "null"),
    (Label.MODEL_VERSION, "(v:ModelVersion {key: ref.key})-[:VERSION_OF]->(n)",
     "v:ModelVersion(key)", "v.version"),
    (Label.DEPLOYMENT, "(d:Deployment {id: ref.key})-[:SERVES]->(v)-[:VERSION_OF]->(n)",
     "d:Deployment(id)", "v.version"),
    (Label.DATASET, "(n:Dataset {name: ref.key})", "n:Dataset(name)", "null"),
    (Label.DATASET_VERSION, "(dv:DatasetVersion {key: ref.key})-[:VERSION_OF]->(n)",
     "dv:DatasetVersion(key)", "null"),
    (Label.PERSON, "(n:Person {handle: ref.key})", "n:Person(handle)", "null"),
    (Label.TEAM, "(n:Team {name: ref.key})", "n:Team(name)", "null"),
    (Label.RUN, "(n:Run {id: ref.key})", "n:Run(id)", "null"),
    (Label.EXPERIMENT, "(n:Experiment {name: ref.key})", "n:Experiment(name)", "null"),
]
#: The kind of page each kind of entity shows on.
PAGE_KIND = {Label.MODEL: "Model", Label.MODEL_VERSION: "Model", Label.DEPLOYMENT: "Model",
             Label.DATASET: "Dataset", Label.DATASET_VERSION: "Dataset",
             Label.PERSON: "Person", Label.TEAM: "Team", Label.RUN: "Run",
             Label.EXPERIMENT: "Experiment"}
TARGETS = (
    "UNWIND $refs AS ref\nCALL (ref) {\n"
    + "\n  UNION ALL\n".join(
        # Each branch seeks its entity by key (a plain index hint allows scanning the
        # whole index), and the far end carries no label to start from instead.
        f"  WITH ref WHERE ref.kind = '{label.value}' MATCH {pattern} USING INDEX SEEK {anchor}\n"
        f"  RETURN '{PAGE_KIND[label]}' AS kind, n.{KEY_PROPERTY[Label(PAGE_KIND[label])]} AS key,"
        f" {version} AS version"
        for label, pattern, anchor, version in _TARGETS)
    + "\n}\nRETURN ref.kind AS refKind, ref.key AS refKey, kind, key, version"
)

# Change records written after a sync's watermark, from the (at) index: the pages showing
# them must be rendered again, including link-only changes (an ownership or alias moved)
# that leave the entity's own stamps alone.
CHANGES_SINCE = f"""
MATCH (c:{CHANGE_LABEL}) WHERE c.at > $since
RETURN c.kind AS kind, c.key AS key, c.links AS links
"""

_PAGE_HISTORY = {label: _REFS.get(label, _ONE_REF) + _PAGE_CHANGES
                 for label in (Label.MODEL, Label.DATASET, Label.PERSON, Label.TEAM,
                               Label.RUN, Label.EXPERIMENT)}


def page_history(tx: ManagedTransaction, kind: str, keys: list[str],
                 limit: int = HISTORY_SHOWN) -> dict[str, dict[str, Any]]:
    """Each named page's newest ``limit`` changes, newest first (a card's include its
    versions' and deployments', a datasheet's its versions'), and the handles of the
    people among their writers; pages with no record are left out."""
    statement = _PAGE_HISTORY[Label(kind)]
    return {r["key"]: {"changes": [fact(c) for c in r["changes"]], "people": set(r["people"])}
            for r in tx.run(statement, keys=keys, kind=kind, limit=limit)}


def targets(tx: ManagedTransaction, refs: Iterable[tuple[str, str]]
            ) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    """The page each existing entity (kind, key) shows on: the page's kind and key, and a
    model version's number (its section on the card); entities without one are left out."""
    rows = [{"kind": kind, "key": key} for kind, key in sorted(set(refs))
            if kind in _TARGET_KINDS and key is not None]
    if not rows:
        return {}
    return {(r["refKind"], r["refKey"]): (r["kind"], r["key"], r["version"])
            for r in tx.run(TARGETS, refs=rows)}


_TARGET_KINDS = frozenset(label.value for label in PAGE_KIND)


def recent_changes(tx: ManagedTransaction, limit: int = RECENT_CHANGES) -> dict[str, Any]:
    """The newest ``limit`` changes across the graph (``history.changes``), and the page
    of each changed entity and writer that has one (``targets``)."""
    items = changes(tx, first=limit).items
    refs = {(c.kind, c.key) for c in items} | {(Label.PERSON.value, c.actor) for c in items}
    return {"changes": list(items), "targets": targets(tx, refs)}


def changed_records(tx: ManagedTransaction, since: datetime
                    ) -> tuple[set[tuple[str, str]], bool]:
    """The entity pages showing a change recorded after ``since`` (the changed entity's,
    and those of the entities its links name: a former owner, a version an alias left),
    and whether any change was recorded."""
    refs: set[tuple[str, str]] = set()
    for r in tx.run(CHANGES_SINCE, since=since):
        refs.add((r["kind"], r["key"]))
        refs.update((link.kind, link.key) for link in read_links({"links": r["links"]}))
    return {(kind, key) for kind, key, _ in targets(tx, refs).values()}, bool(refs)
