"""Workers that leave with their supervisor.

``kb serve`` with several workers runs uvicorn's supervisor, which starts and stops the
worker processes. A supervisor killed outright (SIGKILL, the OOM killer) cannot stop
them, and they would go on serving as orphans holding the port. So each worker asks to be
sent SIGTERM (uvicorn's graceful stop) when its parent dies: on Linux through
``prctl(PR_SET_PDEATHSIG)``, elsewhere by a thread that watches ``os.getppid()``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

#: Set by ``kb serve`` to the supervisor's pid, so a worker knows whose death to follow.
SUPERVISOR_ENV = "KB_SERVE_SUPERVISOR"
PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 1.0


def leave_with_supervisor(environ: Mapping[str, str] | None = None) -> None:
    """In a worker of ``kb serve``: stop this process once the supervisor is gone."""
    env = os.environ if environ is None else environ
    raw = env.get(SUPERVISOR_ENV, "")
    if not raw.isdigit() or int(raw) == os.getpid():
        return  # not started by kb serve, or a single worker that is its own supervisor
    supervisor = int(raw)
    if not _death_signal():
        threading.Thread(target=_watch, args=(supervisor,), name="kb-supervisor-watch",
                         daemon=True).start()
    if os.getppid() != supervisor:  # it died before the watch began
        _leave(supervisor)


def _death_signal() -> bool:
    """Ask Linux for SIGTERM when the parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(supervisor: int) -> None:
    while os.getppid() == supervisor:
        time.sleep(WATCH_SECONDS)
    _leave(supervisor)


def _leave(supervisor: int) -> None:
    log.warning("the kb serve supervisor (pid %d) is gone; this worker stops", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)
