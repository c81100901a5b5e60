"""Group commit for ``/api/v1/lineage``: concurrent requests share database round trips.

Two coalescers, one of each per app and event loop:

* ``LineageWriter`` writes the validated events of every waiting request that presents
  the same token in one transaction, which also looks up that token (with the runs'
  merge states, in one read) and refuses the whole group if it may not write; each request
  is answered only after that commit. If a group fails otherwise, its requests are written
  again one by one, so one bad request cannot fail another and each error reaches only its
  own request. Merging by ``runId`` is order-free (see ``kb.ingest.openlineage``), so two
  events of one run, or duplicates, in one group give the same graph as when written apart.
* ``TokenResolver`` looks up the bearer tokens of requests that are refused before the
  write (a malformed or oversized body: the caller must be known first) in a single read.
  Each request is answered by a read that began after it arrived.

Each coalescer runs one drain task that works back to back: a batch is whatever queued
while the previous one ran, so batches grow with the load, and the writers of one process
never deadlock each other. Under steady load the callers answered by one batch send their
next request while the next batch is taken; the writer waits for them (up to
``LineageWriter.linger``, and only when more requests were in flight during the previous
batch than are queued), so a group holds every concurrent caller instead of half of them.
A lone caller never waits, except once after a burst of others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from kb.api.auth import (
    Principal,
    bearer,
    principal_for_token,
    principal_from_request,
    principal_of,
    record_use,
    touch_due,
)
from kb.errors import Forbidden, GraphUnavailable, KbError, Unauthorized
from kb.graph import Graph
from kb.graph.tokens import Token, find_tokens, hash_secret
from kb.ingest.openlineage import Event, IngestResult, write_events_checked

log = logging.getLogger(__name__)

#: A write group stops taking requests once it holds this many events.
GROUP_EVENTS = 500
#: A token lookup takes at most this many requests.
GROUP_TOKENS = 256
#: After this long without requests (seconds), a writer no longer waits for the callers
#: it served before.
FORGET_PEAK = 1.0

I = TypeVar("I")  # noqa: E741 - the item a request queues
R = TypeVar("R")  # what the request gets back


@dataclass
class _Pending(Generic[I, R]):
    item: I
    done: asyncio.Future[R]


class Coalescer(Generic[I, R]):
    """Queue items from concurrent requests; a single drain task runs them in batches.

    ``run`` is blocking (it runs in a worker thread) and returns one outcome per item, in
    order: a result, or the exception that request must raise.
    """

    #: How long (seconds) a batch may wait for the requests that were in flight during
    #: the previous batch to come back; 0: never wait.
    linger = 0.0

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.loop = asyncio.get_running_loop()
        self._queue: deque[_Pending[I, R]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._active = 0  # submitted and not yet answered
        self._peak = 0  # the most active at once since the last batch was taken
        self._wanted = 0  # a lingering batch starts once this many are queued...
        self._full: asyncio.Future[None] | None = None  # ...which this tells it
        self._idle_since = 0.0  # when the drain task last ran out of work

    async def submit(self, item: I) -> R:
        pending: _Pending[I, R] = _Pending(item, self.loop.create_future())
        self._queue.append(pending)
        self._active += 1
        self._peak = max(self._peak, self._active)
        if self._full is not None and len(self._queue) >= self._wanted:
            _settle(self._full)
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._drain())
        return await pending.done

    def take(self, queue: deque[_Pending[I, R]]) -> list[_Pending[I, R]]:
        """The next batch, removed from ``queue``; by default everything queued."""
        taken = list(queue)
        queue.clear()
        return taken

    def run(self, items: list[I]) -> Sequence[R | Exception]:
        raise NotImplementedError

    async def _fill(self, wanted: int) -> None:
        """Wait until ``wanted`` requests are queued, or ``linger`` has passed."""
        self._wanted, self._full = wanted, self.loop.create_future()
        timer = self.loop.call_later(self.linger, _settle, self._full)
        try:
            await self._full
        finally:
            timer.cancel()
            self._full = None

    async def _drain(self) -> None:
        if self.loop.time() - self._idle_since > FORGET_PEAK:
            self._peak = self._active  # a new burst: what was in flight before is gone
        while self._queue:
            # Under steady load the requests answered by the previous batch come back
            # while this one waits: a short wait for them makes batches as large as the
            # concurrency, while a lone caller (peak 1) never waits.
            wanted, self._peak = self._peak, self._active
            if self.linger and len(self._queue) < wanted:
                await self._fill(wanted)
            taken = self.take(self._queue)
            batch = [p for p in taken if not p.done.done()]
            self._active -= len(taken) - len(batch)
            if not batch:
                continue
            try:
                outcomes = await run_in_threadpool(self.run, [p.item for p in batch])
            except Exception as exc:  # run() failed as a whole: answer every request
                log.exception("%s failed", type(self).__name__)
                outcomes = [exc] * len(batch)
            for pending, outcome in zip(batch, outcomes, strict=True):
                self._active -= 1
                if pending.done.done():  # the client went away
                    continue
                if isinstance(outcome, Exception):
                    pending.done.set_exception(outcome)
                else:
                    pending.done.set_result(outcome)
        self._idle_since = self.loop.time()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


Bearer = tuple[HTTPConnection, str]  # a request and the secret it presents


class TokenResolver(Coalescer[Bearer, Principal]):
    """One token read for every request waiting to be authorised."""

    def take(self, queue: deque[_Pending[Bearer, Principal]]
             ) -> list[_Pending[Bearer, Principal]]:
        return [queue.popleft() for _ in range(min(len(queue), GROUP_TOKENS))]

    def run(self, items: list[Bearer]) -> list[Principal | Exception]:
        try:
            tokens = find_tokens(self.graph, [secret for _, secret in items])
        except KbError as exc:
            return [exc] * len(items)
        outcomes: list[Principal | Exception] = []
        for request, secret in items:
            try:
                outcomes.append(principal_for_token(request, tokens.get(secret)))
            except KbError as exc:
                outcomes.append(exc)
        return outcomes


@dataclass(frozen=True)
class Submission:
    events: list[Event]
    secret: str


Written = tuple[IngestResult, Principal]


def _result(events: list[Event]) -> IngestResult:
    run_ids = list(dict.fromkeys(e.run_id for e in events))
    return IngestResult(events=len(events), runs=len(run_ids), run_ids=run_ids)


def write_group(graph: Graph, secret: str, groups: list[list[Event]]
                ) -> list[Written | Exception]:
    """Write every request's events in one transaction that also judges their token.

    All requests of a group present the same token, so a refused token refuses them all.
    Returns one outcome per request, in order. An unavailable graph fails them all at
    once (the driver has already retried); any other error is isolated by writing the
    requests again, one transaction each.
    """

    def check(token: Token | None) -> Principal:
        principal = principal_of(token)
        principal.require("write")
        return principal

    def one(events: list[Event]) -> Written:
        return write_events_checked(graph, events, hash_secret(secret), check)

    if len(groups) > 1:
        try:
            _, principal = one([e for events in groups for e in events])
            return [(_result(events), principal) for events in groups]
        except (GraphUnavailable, Unauthorized, Forbidden) as exc:
            return [exc for _ in groups]
        except Exception as exc:
            log.info("a group of %d lineage requests failed (%s); writing each alone",
                     len(groups), exc)
    outcomes: list[Written | Exception] = []
    for events in groups:
        try:
            outcomes.append(one(events))
        except KbError as exc:
            outcomes.append(exc)
        except Exception as exc:
            log.exception("lineage request not written")
            outcomes.append(exc)
    return outcomes


class LineageWriter(Coalescer[Submission, Written]):
    """The one writer of an app's lineage events on one event loop."""

    # Waiting a moment for the producers just answered doubles the events a transaction
    # carries under steady load, and a transaction's fixed cost is most of an event's.
    linger = 0.002

    def take(self, queue: deque[_Pending[Submission, Written]]
             ) -> list[_Pending[Submission, Written]]:
        """The oldest request and every queued one with the same token, up to the cap."""
        first = queue.popleft()
        taken, kept, size = [first], [], len(first.item.events)
        while queue:
            pending = queue.popleft()
            if (pending.item.secret == first.item.secret
                    and size + len(pending.item.events) <= GROUP_EVENTS):
                taken.append(pending)
                size += len(pending.item.events)
            else:
                kept.append(pending)
        queue.extend(kept)
        return taken

    def run(self, items: list[Submission]) -> list[Written | Exception]:
        # Looked up at call time, so tests can observe the groups.
        return write_group(self.graph, items[0].secret, [s.events for s in items])


def coalescer(request: HTTPConnection, name: str, make: Callable[[Graph], Any]) -> Any:
    """The app's coalescer ``name`` for the running loop and the app's current graph."""
    state = request.app.state
    current = getattr(state, name, None)
    if (current is None or current.graph is not state.graph
            or current.loop is not asyncio.get_running_loop()):
        current = make(state.graph)
        setattr(state, name, current)
    return current


async def authorise(request: HTTPConnection) -> Principal:
    """The caller; requests with a token share one token read with their neighbours."""
    secret = bearer(request)  # a malformed header is refused here, alone
    if secret is None:
        return principal_from_request(request)  # no token: nothing to read
    resolver: TokenResolver = coalescer(request, "lineage_tokens", TokenResolver)
    return await resolver.submit((request, secret))


async def write(request: HTTPConnection, events: list[Event], secret: str) -> IngestResult:
    """Write ``events`` with the next group of the same token; returns once it committed.

    The token is judged by that group's transaction: ``Unauthorized``/``Forbidden``
    come back from here, and nothing of the request was written.
    """
    writer: LineageWriter = coalescer(request, "lineage_writer", LineageWriter)
    result, principal = await writer.submit(Submission(events, secret))
    if principal.token_id is not None and touch_due(request, principal.token_id):
        await run_in_threadpool(record_use, request, principal.token_id)
    return result
