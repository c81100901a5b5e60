"""Causal consistency between the sessions of one process: the bookmarks they share.

kb opens a session per unit of work, and a session starts with no bookmarks unless a
bookmark manager gives it some. On a cluster (a ``neo4j://`` URI) a read may then be served
by a secondary that has not yet applied a write this process has just committed. Every
session of a ``Graph`` and of its async twin shares one ``Bookmarks``: each committed
transaction leaves its bookmark there, and each later session waits for it, so a mutation's
answer, or a question asked right after an import, sees that write. On a single server the
wait costs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

from neo4j.api import AsyncBookmarkManager, BookmarkManager


class Bookmarks:
    """The bookmarks of the latest committed transactions; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()

    def get(self) -> frozenset[str]:
        return self._values  # replaced whole on update, never changed in place

    def update(self, previous: Collection[str], new: Collection[str]) -> None:
        """A transaction that began after ``previous`` committed as ``new``: ``new``
        supersedes them (the driver's own bookmark manager keeps the same set)."""
        if not new:
            return
        with self._lock:
            self._values = (self._values - frozenset(previous)) | frozenset(new)

    def for_sync(self) -> BookmarkManager:
        return _SyncManager(self)

    def for_async(self) -> AsyncBookmarkManager:
        return _AsyncManager(self)


class _SyncManager(BookmarkManager):
    def __init__(self, store: Bookmarks) -> None:
        self.store = store

    def update_bookmarks(self, previous_bookmarks: Collection[str],
                         new_bookmarks: Collection[str]) -> None:
        self.store.update(previous_bookmarks, new_bookmarks)

    def get_bookmarks(self) -> Collection[str]:
        return self.store.get()


class _AsyncManager(AsyncBookmarkManager):
    def __init__(self, store: Bookmarks) -> None:
        self.store = store

    async def update_bookmarks(self, previous_bookmarks: Collection[str],
                               new_bookmarks: Collection[str]) -> None:
        self.store.update(previous_bookmarks, new_bookmarks)

    async def get_bookmarks(self) -> Collection[str]:
        return self.store.get()
