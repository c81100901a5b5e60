"""Pausing Python's cycle collector around allocation-heavy, bounded work."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause automatic cycle collection for one bounded piece of work (a batch, a page).

    Building a batch or reading a page allocates tens of thousands of short-lived objects
    that reference counting frees; their allocation alone keeps triggering collections
    that traverse the whole heap, a large share of building a batch and of reading MLflow.
    The few cycles such work leaves are collected as usual once it ends. A collector that
    was already off is left off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class CollectorPause:
    """Automatic cycle collection paused for a long run of batches (a pipeline's life).

    Pausing per batch is not enough when a batch outlives its building: the batch is still
    queued when collection resumes, so the first allocation after it traverses the whole
    batch, a large share of the SDK's CPU. Paused for the run instead, a young collection
    runs by hand every ``every`` batches, so cycles made meanwhile are still found, and
    ``close`` restores the collector as it was.
    """

    def __init__(self, every: int = 16) -> None:
        self._every = every
        self._count = 0
        self._paused = gc.isenabled()
        if self._paused:
            gc.disable()

    def tick(self) -> None:
        """One more batch built; every ``every`` batches, collect the young generations."""
        self._count += 1
        if self._paused and self._count % self._every == 0:
            gc.collect(1)

    def close(self) -> None:
        if self._paused:
            self._paused = False
            gc.enable()
