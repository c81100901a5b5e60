"""The Python read API's parts that need no database: ``Results`` paging, its tables, the
records built from graph properties, and the arguments it refuses."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas
import pytest

from kb.domain import Label, to_global_id
from kb.domain.paging import Page
from kb.errors import InvalidInput
from kb.read import Results
from kb.read.arguments import instant as _instant
from kb.read.entities import Links, ModelVersion, Person, Run, entity
from kb.read.frames import PANDAS_MISSING, rows
from kb.read.lists import _status
from kb.read.questions import _labels


@dataclass(frozen=True)
class Item:
    n: int
    params: dict = field(default_factory=dict)


class Pages:
    """A list of ``total`` items served ``size`` at a time, counting the reads."""

    def __init__(self, total: int, size: int) -> None:
        self.total, self.size, self.reads = total, size, []

    def __call__(self, after: str | None) -> Page[Item]:
        self.reads.append(after)
        start = int(after or 0)
        items = tuple(Item(i) for i in range(start, min(start + self.size, self.total)))
        end = str(start + len(items)) if items else None
        return Page(items, end, start + len(items) < self.total)


def test_iterating_reads_each_page_once_as_it_is_used() -> None:
    pages = Pages(23, 5)
    results = Results(pages)
    assert pages.reads == []  # nothing read until used
    it = iter(results)
    assert [next(it).n for _ in range(5)] == [0, 1, 2, 3, 4]
    assert len(pages.reads) == 1
    next(it)
    assert len(pages.reads) == 2
    assert [i.n for i in results] == list(range(23))
    assert pages.reads == [None, "5", "10", "15", "20"]
    assert results.pages_fetched == 5
    assert [i.n for i in results] == list(range(23))  # kept: no second read
    assert len(pages.reads) == 5


def test_first_and_slices_stop_reading_when_they_have_enough() -> None:
    pages = Pages(23, 5)
    results = Results(pages)
    assert [i.n for i in results.first(7)] == list(range(7))
    assert len(pages.reads) == 2
    assert [i.n for i in results[:3]] == [0, 1, 2]
    assert results[9].n == 9
    assert len(pages.reads) == 2
    assert [i.n for i in results[10:12]] == [10, 11]
    assert len(pages.reads) == 3
    assert results[-1].n == 22  # from the end: reads them all
    assert len(pages.reads) == 5
    assert [i.n for i in results[20:]] == [20, 21, 22]
    assert results.first(100)[-1].n == 22


def test_out_of_range_and_bad_arguments() -> None:
    results = Results(Pages(3, 2))
    with pytest.raises(IndexError):
        results[3]
    with pytest.raises(InvalidInput, match="n"):
        results.first(-1)
    with pytest.raises(TypeError):
        results["a"]  # type: ignore[call-overload]


def test_an_empty_list_and_a_whole_answer() -> None:
    empty = Results(Pages(0, 5))
    assert not empty and list(empty) == [] and empty.first(3) == []
    assert Results(Pages(3, 2))
    whole = Results.of([Item(1), Item(2)], Item)
    assert [i.n for i in whole] == [1, 2] and whole.pages_fetched == 1
    assert "2 read" in repr(whole)


def test_to_pandas_has_a_column_per_field_and_per_param() -> None:
    results = Results.of([Item(1, {"lr": 0.1, "layers": 2}), Item(2, {"lr": 0.2})], Item)
    frame = results.to_pandas()
    assert list(frame.columns) == ["n", "params.layers", "params.lr"]
    assert frame["params.lr"].tolist() == [0.1, 0.2]
    assert frame["n"].tolist() == [1, 2]
    assert pandas.isna(frame["params.layers"][1])


def test_to_pandas_of_nothing_keeps_the_record_columns() -> None:
    frame = Results.of([], Item).to_pandas()
    assert list(frame.columns) == ["n", "params"] and len(frame) == 0


def test_nested_records_flatten_and_tuples_of_records_become_lists() -> None:
    @dataclass(frozen=True)
    class Outer:
        name: str
        node: Item
        inputs: tuple[Item, ...]

    columns, table = rows([Outer("a", Item(3, {"x": 1}), (Item(4),))])
    assert columns == ["name", "node.n", "node.params.x", "inputs"]
    assert table[0]["inputs"] == [{"n": 4, "params": {}}]


def test_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ImportError) as caught:
        Results.of([Item(1)]).to_pandas()
    assert str(caught.value) == PANDAS_MISSING
    assert "pip install 'kb[pandas]'" in PANDAS_MISSING


def test_entities_from_graph_properties() -> None:
    started = datetime(2026, 3, 1, tzinfo=UTC)
    run = entity(Label.RUN, {"id": "r-1", "status": "COMPLETED", "startedAt": started,
                             "params": {"lr": 0.1}, "paramKeys": ["lr"]})
    assert isinstance(run, Run)
    assert (run.run_id, run.status, run.started_at, run.params, run.metrics) == (
        "r-1", "COMPLETED", started, {"lr": 0.1}, {})
    assert run.id == to_global_id(Label.RUN, "r-1") and run.ref == "run:r-1"
    assert run.links is None
    gone = entity(Label.PERSON, {"handle": "al", "leftAt": started})
    assert isinstance(gone, Person) and gone.active is False
    here = entity(Label.PERSON, {"handle": "bo", "active": True})
    assert here.active is True
    mv = entity(Label.MODEL_VERSION, {"key": "churn@2", "model": "churn", "version": "2",
                                      "aliases": ["champion"]},
                {"<-PRODUCED": {"count": 1, "refs": ["run:r-1"]}})
    assert isinstance(mv, ModelVersion)
    assert (mv.model_name, mv.aliases, mv.ref) == ("churn", ("champion",), "model:churn@2")
    assert mv.links == {"<-PRODUCED": Links(1, ("run:r-1",))}


def test_instants_take_datetimes_dates_and_the_cli_text() -> None:
    assert _instant(None, "as_of") is None
    assert _instant(datetime(2026, 3, 1, 9, 30), "as_of") == datetime(2026, 3, 1, 9, 30,
                                                                      tzinfo=UTC)
    assert _instant(date(2026, 3, 1), "as_of") == datetime(2026, 3, 1, tzinfo=UTC)
    assert _instant("2026-03-01T09:30", "as_of") == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert _instant("7d", "since") < datetime.now(UTC)
    with pytest.raises(InvalidInput, match=r"^as_of:"):
        _instant("yesterday-ish", "as_of")
    with pytest.raises(InvalidInput, match=r"^since:"):
        _instant(3, "since")


def test_statuses_and_kinds_are_checked() -> None:
    assert _status("completed") == "COMPLETED" and _status(None) is None
    with pytest.raises(InvalidInput, match=r"^status:"):
        _status("done")
    assert _labels(["model", "dataset"]) == [Label.MODEL, Label.DATASET]
    assert _labels("person") == [Label.PERSON]
    with pytest.raises(InvalidInput, match=r"^types:"):
        _labels(["deployment"])


def test_every_kind_has_a_record_with_its_id_and_ref() -> None:
    from kb.domain import KEY_PROPERTY, Ref

    for label in Label:
        record = entity(label, {KEY_PROPERTY[label]: "k@1"})
        assert (record.id, record.ref) == (to_global_id(label, "k@1"), str(Ref(label, "k@1")))
        assert type(record).__name__ == label.value


def _graphql_fields() -> dict[str, set[str]]:
    """Each object type of the contract and its fields, in snake_case."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "graphql" / "schema.graphql").read_text()
    types: dict[str, set[str]] = {}
    for name, body in re.findall(r"^type (\w+)[^{]*\{\n(.*?)^\}", text, re.M | re.S):
        names = re.findall(r"^  (\w+)[(:]", body, re.M)
        types[name] = {re.sub(r"(?<!^)([A-Z])", r"_\1", n).lower() for n in names}
    return types


def test_records_are_named_as_the_graphql_types() -> None:
    import dataclasses

    import kb.read as read
    from kb.read.entities import ENTITY

    contract = _graphql_fields()
    pairs = [(cls, cls.__name__) for cls in ENTITY.values()] + [
        (getattr(read, name), name) for name in (
            "Training", "DataUse", "ImpactItem", "DeploymentFact", "ModelOwner",
            "HandoverItem", "Orphan", "SearchHit", "RunComparison", "ValueChange",
            "LineageGraph", "LineageNode", "LineageEdge", "Change", "ChangedEntity",
            "FieldChange", "LinkChange")]
    for cls, name in pairs:
        fields = {f.name for f in dataclasses.fields(cls)} - {"ref", "links"}
        assert fields <= contract[name], (name, fields - contract[name])
    # A run of ``kb.runs`` names its code and environment as the run's recipe does.
    summary = {f.name for f in dataclasses.fields(read.RunSummary)} - {"ref"}
    assert summary <= contract["Run"] | contract["Recipe"], summary - contract["Run"]
