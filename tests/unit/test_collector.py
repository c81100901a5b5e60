"""Pausing the cycle collector for a run of batches (what a pipeline does)."""

from __future__ import annotations

import gc
import weakref

from kb.ingest.collector import CollectorPause


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_pause_lasts_until_close_and_restores_the_collector() -> None:
    assert gc.isenabled()
    pause = CollectorPause(every=4)
    try:
        assert not gc.isenabled()
        for _ in range(3):
            pause.tick()
            assert not gc.isenabled()
    finally:
        pause.close()
    assert gc.isenabled()
    pause.close()  # twice is harmless
    assert gc.isenabled()


def test_cycles_made_while_paused_are_collected_every_few_batches() -> None:
    pause = CollectorPause(every=2)
    try:
        ref = _cycle()
        pause.tick()
        assert ref() is not None  # reference counting alone never frees a cycle
        pause.tick()
        assert ref() is None
    finally:
        pause.close()


def test_a_disabled_collector_stays_disabled_and_untouched() -> None:
    gc.disable()
    try:
        pause = CollectorPause(every=1)
        ref = _cycle()
        pause.tick()
        assert ref() is not None  # not ours to collect
        pause.close()
        assert not gc.isenabled()
    finally:
        gc.enable()
