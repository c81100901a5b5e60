"""The MLflow importer's paging and mapping, without a store or a database."""

from __future__ import annotations

import gc
import sys
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from kb.cli import app
from kb.errors import InvalidInput
from kb.ingest.mlflow_import import _pages, run_fields, ui_base


class _Page(list):
    def __init__(self, items: list[int], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def test_pages_follow_tokens_with_collection_paused_per_fetch() -> None:
    pages = {None: _Page([1, 2], "a"), "a": _Page([3], None)}
    seen = []

    def fetch(token: str | None) -> _Page:
        seen.append((token, gc.isenabled()))
        return pages[token]

    assert gc.isenabled()
    items = []
    for item in _pages(fetch):
        assert gc.isenabled()  # paused only while MLflow builds a page
        items.append(item)
    assert items == [1, 2, 3]
    assert seen == [(None, False), ("a", False)]
    assert gc.isenabled()


def test_pages_restore_collection_when_a_fetch_fails() -> None:
    def fetch(_token: str | None) -> SimpleNamespace:
        raise RuntimeError("store unavailable")

    with pytest.raises(RuntimeError):
        list(_pages(fetch))
    assert gc.isenabled()


def test_pages_leave_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        assert list(_pages(lambda _token: _Page([1], None))) == [1]
        assert not gc.isenabled()
    finally:
        gc.enable()


def _run(tags: dict[str, str], contexts: dict[str, str]) -> SimpleNamespace:
    inputs = [SimpleNamespace(dataset=SimpleNamespace(name=name, digest="d1", source=None),
                              tags=[SimpleNamespace(key="mlflow.data.context", value=context)])
              for name, context in contexts.items()]
    return SimpleNamespace(
        info=SimpleNamespace(run_id="r1", experiment_id="7", run_name="train", user_id="bob",
                             status="FINISHED", start_time=0, end_time=1000),
        data=SimpleNamespace(tags=tags, params={}, metrics={}),
        inputs=SimpleNamespace(dataset_inputs=inputs))


def test_dataset_contexts_become_kb_roles() -> None:
    contexts = {"a": "training", "b": "train", "c": "validation", "d": "eval",
                "e": "evaluation", "f": "testing", "g": "test", "h": "scoring", "i": "Testing"}
    fields = run_fields(_run({}, contexts), "churn", None)
    assert dict((name, role) for name, _version, role in fields["inputs"]) == {
        "a": "train", "b": "train", "c": "validation", "d": "validation", "e": "validation",
        "f": "test", "g": "test", "h": "other", "i": "test"}


def test_repository_is_the_git_repo_url_never_the_script() -> None:
    tags = {"mlflow.source.name": "train.py", "mlflow.source.git.commit": "abc",
            "mlflow.source.git.branch": "main"}
    fields = run_fields(_run(tags, {}), "churn", None)
    assert "code" not in fields and fields["command"] == "train.py"
    tags["mlflow.source.git.repoURL"] = "git@github.com:acme/churn.git"
    fields = run_fields(_run(tags, {}), "churn", None)
    assert fields["code"] == {"repo": "git@github.com:acme/churn.git", "commit": "abc",
                              "branch": "main"}


def test_tracker_url_is_an_mlflow_ui_link_or_nothing() -> None:
    run = _run({}, {})
    assert run_fields(run, "churn", ui_base("file:///team/mlruns"))["tracker_url"] is None
    assert run_fields(run, "churn", ui_base("sqlite:///team/mlflow.db"))["tracker_url"] is None
    server = ui_base("https://mlflow.example.com/")
    assert run_fields(run, "churn", server)["tracker_url"] == (
        "https://mlflow.example.com/#/experiments/7/runs/r1")
    given = ui_base("sqlite:///team/mlflow.db", "http://mlflow.example:5000/")
    assert run_fields(run, "churn", given)["tracker_url"] == (
        "http://mlflow.example:5000/#/experiments/7/runs/r1")


@pytest.mark.parametrize("url", ["runs:/", "file:///team/mlruns", "javascript:alert(1)",
                                 "http://", "mlflow.example.com"])
def test_ui_url_must_be_an_http_address(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ui_base("sqlite:///team/mlflow.db", url)
    assert caught.value.field == "--ui-url"


def test_missing_mlflow_extra_hint_survives_rich_markup(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    result = CliRunner().invoke(app, ["import", "mlflow", "--tracking-uri", "sqlite:///x.db"])
    assert result.exit_code == 2
    assert "pip install '.[mlflow]'" in result.output
