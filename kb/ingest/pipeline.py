"""``Pipeline``: write one batch while the caller builds the next.

A batch's Python work (validation, plan, rows) and its transaction on the server take
turns when done in one thread; on a machine with two cores or more they can overlap. The
pipeline keeps every guarantee of ``Client.batch()``:

- each batch is still one transaction, all of it or none of it;
- batches are written one at a time, in the order they were submitted;
- validation runs in the caller, so ``InvalidInput`` is raised at ``b.run(...)`` as before;
- a failed write (``NotFound``, ``GraphUnavailable`` ...) is raised in the caller at the
  next ``batch()``/``submit()`` or when the ``with`` block ends, and no batch submitted
  after it is written;
- leaving the ``with`` block waits until every submitted batch is written.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING

from kb.graph import WriteResult, prepare

from .builder import BatchBuilder
from .collector import CollectorPause

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger(__name__)

_Item = tuple["Future[WriteResult]", BatchBuilder]


class Pipeline:
    """Batches written in order by one background thread, at most ``depth`` in flight.

    ``depth`` bounds the batches submitted but not yet written (queued or in their
    transaction), which bounds memory and how far the caller runs ahead. Automatic cycle
    collection is paused until ``close`` (``kb.ingest.collector.CollectorPause``), so
    close every pipeline: ``with client.pipeline() as pipe``.
    """

    def __init__(self, client: Client, *, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self._client = client
        self._slots = threading.BoundedSemaphore(depth)
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._reported = False
        self._closed = False
        self._collector = CollectorPause()  # see kb.ingest.collector
        self._thread = threading.Thread(target=self._drain, name="kb-pipeline", daemon=True)
        self._thread.start()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
        error = self._error
        if error is None or self._reported:
            return
        self._reported = True
        if exc is None:
            raise error
        # The caller's own error propagates; the write failure must not vanish with it.
        log.error("a pipelined batch failed to write: %r", error)
        exc.add_note(f"an earlier pipelined batch also failed to write: {error!r}")

    @contextlib.contextmanager
    def batch(self) -> Iterator[BatchBuilder]:
        """Collect writes; when the block ends cleanly the batch is queued for writing."""
        self._check()
        builder = self._client.builder()
        yield builder
        self.submit(builder)
        self._collector.tick()

    def submit(self, builder: BatchBuilder) -> Future[WriteResult]:
        """Queue ``builder``'s batch; waits while ``depth`` batches are in flight.

        The future holds the batch's ``WriteResult`` (assigned model versions) once written.
        """
        self._check()
        self._slots.acquire()
        if self._error is not None:  # the batch ahead failed while we waited
            self._slots.release()
            self._check()
        # Validated batch and its plan are built here, so the writer thread only sends.
        batch = builder.batch()
        plan = prepare(batch) if batch else None
        future: Future[WriteResult] = Future()
        self._queue.put((future, batch, plan, frozenset(builder.made_up)))
        return future

    def close(self) -> None:
        """Wait until every submitted batch is written (or skipped after a failure)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join()
        self._collector.close()

    def _check(self) -> None:
        if self._closed:
            raise RuntimeError("this pipeline is closed")
        if self._error is not None:
            self._reported = True
            raise self._error

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            future, batch, plan, made_up = item
            try:
                if self._error is not None:  # nothing is written after a failed batch
                    future.cancel()
                    continue
                future.set_running_or_notify_cancel()
                try:
                    result = self._client.write_batch(batch, plan=plan, made_up=made_up)
                except BaseException as exc:  # handed to the caller
                    self._error = exc
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            finally:
                self._slots.release()
