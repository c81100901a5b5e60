"""``retried``: what the driver calls retryable is tried again, nothing else is, and
never past the retry window or the request's time budget."""

from __future__ import annotations

import pytest
from neo4j import exceptions as neo_exc

from kb.errors import TimeLimitExceeded
from kb.graph.driver import retried, time_budget


def _flaky(failures: list[Exception], answer: str = "ok"):
    calls = []

    def work() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return answer

    return work, calls


def test_retryable_failures_are_tried_again():
    work, calls = _flaky([neo_exc.ServiceUnavailable("gone"), neo_exc.SessionExpired("moved")])
    assert retried(work, seconds=5) == "ok"
    assert len(calls) == 3


def test_other_failures_are_not_retried():
    work, calls = _flaky([neo_exc.ConfigurationError("bad")])
    with pytest.raises(neo_exc.ConfigurationError):
        retried(work, seconds=5)
    assert len(calls) == 1


def test_the_retry_window_ends_the_retries():
    work, calls = _flaky([neo_exc.ServiceUnavailable("gone")] * 50)
    with pytest.raises(neo_exc.ServiceUnavailable):
        retried(work, seconds=0.3)
    assert 2 <= len(calls) < 10


def test_no_retry_outlives_the_time_budget():
    work, calls = _flaky([neo_exc.ServiceUnavailable("gone")] * 50)
    with time_budget(0.2), pytest.raises((neo_exc.ServiceUnavailable, TimeLimitExceeded)):
        retried(work, seconds=30)
    assert len(calls) < 10
