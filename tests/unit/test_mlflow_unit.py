"""The MLflow importer's paging, without a store or a database."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest

from kb.ingest.mlflow_import import _pages


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
