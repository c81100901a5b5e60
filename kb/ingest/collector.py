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
    that traverse the whole heap (measured: about 30% of building a 1,000-run batch and
    half of MLflow's read CPU). The few cycles such work leaves are collected as usual
    once it ends. A collector that was already off is left off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
