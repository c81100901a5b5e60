"""One line per change record, as History sections and Recent changes show it."""

from __future__ import annotations

from datetime import UTC, datetime

from docs_gen.changes import summary
from kb.domain.changes import ChangeFact, LinkChange

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def change(op: str = "update", fields: dict | None = None,
           links: tuple[LinkChange, ...] = ()) -> ChangeFact:
    return ChangeFact(id="b.1", at=AT, actor="alice", path="sdk", batch="b", kind="Model",
                      key="churn", op=op, categories=(), fields=fields or {}, links=links)


def test_a_creation_says_created_and_names_its_ownership_only() -> None:
    made = change("create", {"description": (None, "x")},
                  (LinkChange("OWNS", "in", "Person", "alice", "add", {"role": "owner"}),
                   LinkChange("PART_OF", "out", "Experiment", "churn")))
    assert summary(made) == "created; owner alice added"


def test_fields_read_from_what_to_what_in_name_order() -> None:
    assert summary(change(fields={"status": ("RUNNING", "COMPLETED"), "metricKeys": ([], ["a"]),
                                  "aliases": (["champion"], [])})) == (
        "aliases champion → none; status RUNNING → COMPLETED")
    long = "x" * 100
    assert summary(change(fields={"description": (None, long)})) == (
        "description none → " + "x" * 39 + "…")


def test_an_ownership_transfer_and_an_alias_move_read_as_moves() -> None:
    moved = change(links=(
        LinkChange("OWNS", "in", "Person", "alice", "close", {"role": "owner"}),
        LinkChange("OWNS", "in", "Person", "bob", "add", {"role": "owner"}),
        LinkChange("OWNS", "in", "Team", "ml", "add", {"role": "steward"}),
        LinkChange("ALIAS", "out", "ModelVersion", "churn@2", "close", {"alias": "champion"}),
        LinkChange("ALIAS", "out", "ModelVersion", "churn@3", "add", {"alias": "champion"}),
    ))
    assert summary(moved) == ("owner alice → bob; owner (steward) ml added; "
                              "alias champion: churn@2 → churn@3")


def test_many_parts_end_with_a_count() -> None:
    many = change(fields={f"f{n}": (n, n + 1) for n in range(7)})
    assert summary(many) == "f0 0 → 1; f1 1 → 2; f2 2 → 3; f3 3 → 4; 3 more"
    assert summary(change("delete")) == "deleted"
    assert summary(change(links=(LinkChange("USED", "out", "DatasetVersion", "d@1"),))) == (
        "+ USED d@1")
