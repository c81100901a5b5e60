"""The delete rules of ``kb.domain.erase`` against the graph model, and the summaries of
delete and erase records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from docs_gen.changes import summary as page_summary
from kb.cli.history import summary as cli_summary
from kb.domain import Label, Ref, model
from kb.domain.changes import ChangeFact, LinkChange
from kb.domain.erase import (
    Action,
    Dependent,
    HasDependents,
    action,
    is_pseudonym,
    pseudonym,
)
from kb.graph.plan import EMBEDDED


def test_every_link_a_record_carries_goes_with_its_entity():
    for label, triples in EMBEDDED.items():
        for a, rel, _ in triples:
            direction = "out" if a is label else "in"
            assert action(label, rel, direction) is Action.OWN, (label, rel, direction)


def test_every_link_of_the_model_has_a_rule_at_both_ends():
    for link in model.LINKS:
        for label, direction in ((link.source, "out"), (link.target, "in")):
            assert action(label, link.rel, direction) in Action


@pytest.mark.parametrize(("label", "rel", "direction", "expected"), [
    (Label.MODEL, "VERSION_OF", "in", Action.CASCADE),
    (Label.DATASET, "VERSION_OF", "in", Action.CASCADE),
    (Label.MODEL_VERSION, "SERVES", "in", Action.CASCADE),
    (Label.RUN, "ABOUT", "in", Action.CASCADE),
    (Label.MODEL, "OWNS", "in", Action.OWN),
    (Label.MODEL, "ALIAS", "out", Action.OWN),
    (Label.MODEL_VERSION, "ALIAS", "in", Action.OWN),
    (Label.RUN, "PRODUCED", "out", Action.OWN),
    (Label.DATASET_VERSION, "USED", "in", Action.UNLINK),
    (Label.PERSON, "TRAINED", "out", Action.UNLINK),
    (Label.PERSON, "OWNS", "out", Action.UNLINK),
    (Label.TEAM, "MEMBER_OF", "in", Action.UNLINK),
    (Label.RUN, "CHILD_OF", "in", Action.UNLINK),
])
def test_the_rules(label, rel, direction, expected):
    assert action(label, rel, direction) is expected


def test_a_refusal_names_twenty_and_counts_the_rest():
    deps = [Dependent(Ref(Label.RUN, f"r{i:02d}"), "USED", "in", False) for i in range(25)]
    exc = HasDependents(Ref(Label.DATASET_VERSION, "customers@1"), deps)
    assert "r19" in exc.message and "r20" not in exc.message
    assert "and 5 more" in exc.message and "25 dependent" in exc.message
    assert exc.code == "CONFLICT"
    person = HasDependents(Ref(Label.PERSON, "bob"), deps[:1])
    assert "kb forget person:bob" in person.message


def test_pseudonyms():
    assert pseudonym(7) == "former-member-7" and is_pseudonym("former-member-7")
    assert not is_pseudonym("former-member-") and not is_pseudonym("alice")


def _fact(op: str, fields: dict, links=(), reason=None) -> ChangeFact:
    return ChangeFact(id="b/1/00000", at=datetime(2026, 3, 1, tzinfo=UTC), actor="dora",
                      path="cli", batch="b", kind="Run", key="r1", op=op,
                      categories=(), fields=fields, links=tuple(links), reason=reason)


def test_delete_and_erase_records_read_plainly():
    delete = _fact("delete", {}, [LinkChange("USED", "out", "DatasetVersion", "c@1",
                                             "close")], reason="typo")
    assert cli_summary(delete) == "deleted (reason: typo); − USED dataset:c@1"
    assert page_summary(delete) == "deleted (reason: typo); − USED c@1"
    erase = _fact("erase", {"email": (None, None), "handle": (None, None),
                            "name": (None, None)})
    assert cli_summary(erase) == "erased email, handle, name"
    assert page_summary(erase) == "erased email, handle, name"
    renamed = _fact("update", {"name": (None, None)})
    assert cli_summary(renamed) == "name changed, value erased"
    assert page_summary(renamed) == "name changed, value erased"
