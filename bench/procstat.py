"""CPU time of processes from Linux ``/proc``, for the benchmarks' per-operation figures.

CPU per operation is far less sensitive to machine load than wall time, so each benchmark
prints it for the processes it drives (``kb serve`` and its workers, the local Neo4j).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable

from kb.config import Config


def _stat(pid: int | str) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its direct children, e.g. uvicorn and its workers."""
    found = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(entry)[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (processes gone meanwhile count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def local_neo4j_pid(config: Config) -> int | None:
    """The local Neo4j of ``config.home`` (None for a remote server or none running)."""
    if config.neo4j_uri:
        return None
    try:
        return int((config.home / "neo4j.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def compiler_seconds(pid: int) -> float:
    """CPU seconds the JVM ``pid`` has spent in its JIT compiler threads (C1 and C2).

    A just-started Neo4j keeps compiling its hot code for minutes, on the same cores as
    the work measured; a benchmark warms up until this stops growing much, so that its
    counted rounds measure the server's steady state. Only live threads count: a JVM
    that retires a compiler thread (not with its default 2-core settings) makes the
    figure drop.
    """
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                text = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        if "CompilerThre" in name:
            fields = text.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def add_warmup_arguments(parser: argparse.ArgumentParser, rounds: str, most: int = 8) -> None:
    """``--max-warmup`` and ``--settled``: how long a benchmark warms its server up."""
    parser.add_argument("--max-warmup", type=int, default=most,
                        help=f"{rounds} warm-up rounds at most (default {most}); they stop "
                             "once Neo4j's JIT compiler takes under --settled of its CPU")
    parser.add_argument("--settled", type=float, default=0.05,
                        help="JIT share of Neo4j's CPU under which the server counts as "
                             "warm (default 0.05)")


class Neo4jUse:
    """Neo4j's CPU seconds while a ``with`` block ran (``seconds``) and the share of them
    its JIT compiler took (``jit_share``); both stay None for a remote server (no pid)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.seconds: float | None = None
        self.jit_share: float | None = None

    def __enter__(self) -> Neo4jUse:
        if self.pid:
            self._cpu, self._jit = cpu_seconds([self.pid]), compiler_seconds(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pid:
            self.seconds = cpu_seconds([self.pid]) - self._cpu
            jit = max(0.0, compiler_seconds(self.pid) - self._jit)
            self.jit_share = jit / self.seconds if self.seconds > 0 else 0.0


def warm_up(round_: Callable[[int], float | None], rounds: int, settled: float) -> None:
    """Uncounted ``round_(i)`` calls, each returning the JIT share of Neo4j's CPU in it
    (None when unknown), until two in a row stay under ``settled`` (``rounds`` at most):
    one quiet round is often followed by another burst of compilation."""
    quiet = 0
    for i in range(rounds):
        share = round_(i)
        quiet = quiet + 1 if share is None or share < settled else 0
        if quiet == 2:
            return


def peak_rss_mib(pids: Iterable[int]) -> dict[int, float]:
    """Each live process's peak resident memory (``VmHWM``) in MiB, by pid."""
    peaks = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                hwm = next(line for line in f if line.startswith("VmHWM"))
        except (OSError, StopIteration):
            continue
        peaks[pid] = int(hwm.split()[1]) / 1024
    return peaks
