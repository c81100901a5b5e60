"""Run one piece of work in several threads released at the same moment (races)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_together(work: Callable[[], object], threads: int) -> list[BaseException]:
    """Start ``threads`` threads that each call ``work`` at once; what they raised."""
    start, errors = threading.Barrier(threads), []

    def one() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    running = [threading.Thread(target=one) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return errors
