"""``kb forget``: a person's handle, name and email vanish from the whole graph, history
included, in one transaction; what they did stays, attributed to a pseudonym."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Api, api_config
from cli_support import at_80_columns, ok, ok_json
from test_docs_hostile import HOSTILE

from kb.domain import Label
from kb.errors import Conflict, NotFound
from kb.graph import who_trained
from kb.graph.history import entity_history
from kb.graph.stats import fingerprint
from kb.graph.tokens import create_token
from kb.ingest import Client

#: A distinctive handle (handles are login names), a name from the hostile corpus, an
#: old name (held by the change record of the rename) and an email.
HANDLE = "zq.quartzwell"
OLD_NAME = "Zephyrine Q. Oldname"
NAME = "Zephyrine " + HOSTILE[1]
EMAIL = "zephyrine.quartzwell@example.org"
SECRETS = (HANDLE, OLD_NAME, NAME, EMAIL)

ALL_NODES = "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"
ALL_LINKS = "MATCH ()-[r]->() RETURN type(r) AS type, properties(r) AS props"


def _texts(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [t for v in value for t in _texts(v)]
    return [str(value)]


def mentions(graph, needles=SECRETS) -> list[str]:
    """Every property of every node and link, as text, that holds one of ``needles``."""
    def read(tx):
        found = []
        for statement in (ALL_NODES, ALL_LINKS):
            for r in tx.run(statement):
                for name, value in r["props"].items():
                    for text in [*_texts(value), name]:
                        if any(n in text for n in needles):
                            found.append(f"{dict(r)}: {name}={text!r}")
        return found
    return graph.read(read)


def seed(graph, client: Client) -> Client:
    """The person's story, written as they would write it, with others around them."""
    me = Client(graph, actor=HANDLE, default_person=HANDLE)
    client.person("bob", name="Bob Stone")
    me.person(HANDLE, name=OLD_NAME, email=EMAIL)
    me.person(HANDLE, name=NAME)  # their own rename: was./now. hold both names
    me.log_run(id="r-z1", experiment="churn-exp",
               models=[{"model": "zmodel", "aliases": ["champion"]}])
    me.own("model:zmodel", owner=f"person:{HANDLE}")
    me.log_run(id="r-z2", experiment="churn-exp",
               models=[{"model": "zmodel", "aliases": ["champion"]}])  # moves the alias
    me.transfer("model:zmodel", to="person:bob", from_=f"person:{HANDLE}")
    me.note("model:zmodel", "Calibrated on the spring data; check drift monthly.")
    client.deploy("zmodel", "2", environment="prod", by=HANDLE, id="dep-z")
    create_token(graph, name="laptop", scope="write", actor=HANDLE)
    return me


def test_the_person_vanishes_from_the_whole_graph(graph, client):
    seed(graph, client)
    assert mentions(graph)  # the check can fail
    result = client.forget(HANDLE, reason="asked to be forgotten")
    new = result.pseudonym
    assert new.startswith("former-member-")
    assert result.erased == ("email", "handle", "name")
    assert mentions(graph) == []
    # what they did stays, under the pseudonym
    facts = who_trained(graph, "zmodel")
    assert {f.person for f in facts} == {new}
    assert {f.person_name for f in facts} == {"Former member " + new.rsplit("-", 1)[1]}
    person = graph.read(lambda tx: dict(tx.run(
        "MATCH (p:Person {handle: $h}) RETURN properties(p) AS p", h=new).single()["p"]))
    assert person["active"] is False and "email" not in person and person["leftAt"]
    counts = graph.read(lambda tx: tx.run(
        "MATCH (p:Person {handle: $h}) RETURN "
        "COUNT { (p)-[:TRAINED]->() } AS trained, COUNT { (p)-[:WROTE]->() } AS wrote, "
        "COUNT { (p)-[:DEPLOYED]->() } AS deployed, COUNT { (p)-[:OWNS]->() } AS owns",
        h=new).single().data())
    assert counts == {"trained": 2, "wrote": 1, "deployed": 1, "owns": 1}
    note = graph.read(lambda tx: tx.run("MATCH (n:Note) RETURN n.body AS b").single()["b"])
    assert note.startswith("Calibrated")  # free text they wrote stays
    token_actor = graph.read(lambda tx: tx.run(
        "MATCH (t:ApiToken) RETURN t.actor AS a").single()["a"])
    assert token_actor == new


def test_history_keeps_its_shape_without_the_values(graph, client):
    seed(graph, client)
    new = client.forget(HANDLE, reason="asked to be forgotten").pseudonym
    page = graph.read(entity_history, Label.PERSON, new)
    erase, rename, create = page.items
    assert (erase.op, erase.actor, erase.reason) == ("erase", "tester", "asked to be forgotten")
    assert erase.categories == ("erased",)
    assert erase.fields == {"email": (None, None), "handle": (None, None),
                            "name": (None, None)}
    assert rename.op == "update" and rename.actor == new
    assert rename.fields == {"name": (None, None)}  # name changed, value erased
    assert create.op == "create" and set(create.fields) >= {"name", "email"}
    with pytest.raises(NotFound):
        graph.read(entity_history, Label.PERSON, HANDLE)


def test_forget_refuses_the_absent_and_the_already_forgotten(graph, client):
    seed(graph, client)
    with pytest.raises(NotFound, match="nobody"):
        client.forget("nobody")
    new = client.forget(HANDLE).pseudonym
    with pytest.raises(NotFound):
        client.forget(HANDLE)
    before = fingerprint(graph)
    with pytest.raises(Conflict, match="already forgotten"):
        client.forget(new)
    assert fingerprint(graph) == before
    # two forgets never take one number
    n = int(new.rsplit("-", 1)[1])
    assert client.forget("bob").pseudonym == f"former-member-{n + 1}"


def test_a_failure_half_way_leaves_everything(graph, client, monkeypatch):
    seed(graph, client)
    before = fingerprint(graph)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("kb.graph.erase.new_batch", broken)
    with pytest.raises(RuntimeError):
        client.forget(HANDLE)
    assert fingerprint(graph) == before


def test_cli_forget_who_trained_and_history(graph, client, kb_env, monkeypatch):
    seed(graph, client)
    kb = at_80_columns(monkeypatch, user="dora")
    done = ok_json(kb("forget", f"person:{HANDLE}", "--yes", "--reason", "GDPR request",
                      "--json"))
    new = done["pseudonym"]
    assert new.startswith("person:former-member-")
    assert done["erased"] == ["email", "handle", "name"]
    trained = ok_json(kb("who-trained", "zmodel", "--json"))
    assert {t["person"] for t in trained} == {new}
    shown = ok(kb("history", new))
    assert "erased email, handle, name (reason: GDPR re" in shown
    assert "name changed, value erased" in shown
    assert not any(s in shown for s in SECRETS)
    again = kb("forget", new, "--yes")
    assert again.exit_code == 1 and "already forgotten" in again.stderr
    wrong = kb("forget", "model:zmodel", "--yes")
    assert wrong.exit_code == 2 and "kb delete" in wrong.stderr


WHO_TRAINED = '{ whoTrained(model: "zmodel") { version personHandle personName } }'
FORGET = ('mutation($h: String!) { forgetPerson(handle: $h, reason: "asked") '
          '{ pseudonym erased errors { code message } } }')
DELETE = ('mutation($r: String!, $c: Boolean) { deleteEntity(ref: $r, cascade: $c) '
          '{ deleted dependents { ref rel direction cascade } dependentCount '
          'errors { code message } } }')
HISTORY = ('query($id: ID!) { node(id: $id) { ... on Person { history { nodes '
           '{ op reason fields { name before after } } } } } }')


def test_graphql_needs_the_admin_scope(graph, client):
    seed(graph, client)
    api = Api(graph, api_config(anonymous_reads=False))
    writer = api.token("write", actor="carol")
    for query, variables in ((FORGET, {"h": HANDLE}), (DELETE, {"r": "run:r-z1"})):
        response = api.post(query, variables, token=writer)
        assert response.status_code == 403
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert mentions(graph)
    admin = api.token("admin", actor="carol")
    refused = api.data(DELETE, {"r": "model:zmodel"}, token=admin)["deleteEntity"]
    assert refused["deleted"] == [] and refused["errors"][0]["code"] == "CONFLICT"
    assert refused["dependentCount"] == 3
    assert sorted((d["ref"], d["cascade"]) for d in refused["dependents"]) == sorted([
        ("model:zmodel@1", True), ("model:zmodel@2", True), (_note_ref(graph), True)])
    forgot = api.data(FORGET, {"h": HANDLE}, token=admin)["forgetPerson"]
    new = forgot["pseudonym"]
    assert forgot == {"pseudonym": new, "erased": ["email", "handle", "name"], "errors": []}
    answer = api.data(WHO_TRAINED, token=admin)["whoTrained"]
    assert {(a["personHandle"], a["personName"]) for a in answer} == {
        (new, "Former member " + new.rsplit("-", 1)[1])}
    from kb.domain import to_global_id

    history = api.data(HISTORY, {"id": to_global_id(Label.PERSON, new)},
                       token=admin)["node"]["history"]["nodes"]
    assert history[0]["op"] == "erase" and history[0]["reason"] == "asked"
    assert all(f["before"] is None and f["after"] is None
               for c in history for f in c["fields"])
    deleted = api.data(DELETE, {"r": "run:r-z1", "c": False}, token=admin)["deleteEntity"]
    assert deleted["deleted"] == ["run:r-z1"] and deleted["errors"] == []
    assert mentions(graph) == []


def _note_ref(graph) -> str:
    return "note:" + graph.read(lambda tx: tx.run(
        "MATCH (n:Note) RETURN n.id AS id").single()["id"])


def test_the_export_holds_no_trace_and_carries_the_removals(graph, client, kb_env,
                                                            monkeypatch, tmp_path, _wiper):
    """After a forget and a delete, the export names neither the person nor their data,
    and it loads back into an empty graph as the same file, removal records included."""
    seed(graph, client)
    kb = at_80_columns(monkeypatch, user="dora")
    before = tmp_path / "before.jsonl"
    ok(kb("export", str(before), "--with-tokens"))
    assert any(s in before.read_text() for s in SECRETS)  # the check can fail
    client.forget(HANDLE, reason="asked to be forgotten")
    client.delete("note:" + _note_ref(graph).split(":", 1)[1], reason="written by mistake")
    after = tmp_path / "after.jsonl"
    ok(kb("export", str(after), "--with-tokens"))
    text = after.read_text()
    assert not [s for s in SECRETS if s in text]
    assert '"op":"erase"' in text and '"reason":"written by mistake"' in text
    _wiper()
    ok(kb("import", "kb", str(after)))
    again = tmp_path / "again.jsonl"
    ok(kb("export", str(again), "--with-tokens"))
    assert again.read_bytes() == after.read_bytes()


def test_free_text_that_still_names_them_is_listed_for_review(graph, client):
    """Prose is not rewritten; the forget names what to review instead."""
    seed(graph, client)
    client.note("model:zmodel", "Ask Zephyrine before retraining.", by="bob")
    client.note("experiment:churn-exp", "Nothing about anyone here.", by="bob")
    result = client.forget(HANDLE)
    notes = graph.read(lambda tx: {r["body"]: r["id"] for r in tx.run(
        "MATCH (n:Note) RETURN n.body AS body, n.id AS id")})
    listed = {str(ref) for ref in result.mentions}
    assert "note:" + notes["Ask Zephyrine before retraining."] in listed
    assert "note:" + notes["Nothing about anyone here."] not in listed
    assert f"person:{result.pseudonym}" not in listed
