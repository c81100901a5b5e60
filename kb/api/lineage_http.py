"""OpenLineage over HTTP: ``POST /api/v1/lineage`` and ``POST /api/v1/lineage/batch``.

Answers the way Marquez does, because that is what Airflow, Spark, dbt and the
``openlineage-python`` HTTP transport already target: 201 when the event is taken,
400 naming what is wrong with a malformed event, 413 for a body over the cap (checked on
``Content-Length`` and again on the bytes actually streamed, before and after gunzip),
401/403 for a missing or read-only token. Every refusal happens before anything is
written; the batch endpoint writes its whole array in one transaction or not at all.

Group commit: each request is authorised and its events validated on its own, then handed
to the app's ``LineageWriter``, which writes whatever requests are waiting (by the same
actor) in one transaction while the previous one commits. A request is answered 201 only
after the transaction holding its events has committed. If a group fails, its requests are
written again one by one, so one bad request cannot fail another and each error reaches
only its own request. Merging by ``runId`` is order-free (see ``kb.ingest.openlineage``),
so two events of one run, or duplicates, in one group give the same graph as apart.

The body cap is ``app.state.lineage_max_bytes`` when the app sets it, else
``config.lineage_max_bytes`` when the configuration has it, else ``DEFAULT_MAX_BYTES``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kb.errors import Forbidden, GraphUnavailable, InvalidInput, KbError, Unauthorized
from kb.graph import Graph
from kb.ingest.client import Client
from kb.ingest.openlineage import Event, IngestResult, parse_event, parse_events, write_events

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
#: A group stops taking requests once it holds this many events.
GROUP_EVENTS = 500
#: Bodies up to this size are decoded and validated on the event loop; larger ones in a
#: worker thread, so one big batch does not hold up every other request.
INLINE_BYTES = 64 * 1024
LINEAGE_PATH = "/api/v1/lineage"
BATCH_PATH = "/api/v1/lineage/batch"


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than the {limit}-byte limit; "
                         "send fewer events per request")
        self.limit = limit


def max_bytes(request: Request) -> int:
    state_cap = getattr(request.app.state, "lineage_max_bytes", None)
    if state_cap:
        return int(state_cap)
    config = getattr(request.app.state, "config", None)
    return int(getattr(config, "lineage_max_bytes", None) or DEFAULT_MAX_BYTES)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, gunzipped when sent with ``Content-Encoding: gzip``, never above ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BodyTooLarge(limit)
        except ValueError:
            raise InvalidInput("Content-Length", "must be an integer", declared) from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise InvalidInput("Content-Encoding", "only gzip or identity is accepted", encoding)
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise BodyTooLarge(limit)
        out += inflater.flush()
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise InvalidInput("body", f"is not valid gzip: {exc}") from None
    if len(out) > limit:
        raise BodyTooLarge(limit)
    return out


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise InvalidInput("body", "is empty; send one OpenLineage run event as JSON")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("body", f"is not JSON: {exc}") from None


@dataclass
class _Pending:
    events: list[Event]
    actor: str
    done: asyncio.Future[IngestResult]


def _result(events: list[Event]) -> IngestResult:
    run_ids = list(dict.fromkeys(e.run_id for e in events))
    return IngestResult(events=len(events), runs=len(run_ids), run_ids=run_ids)


def write_group(graph: Graph, actor: str, groups: list[list[Event]]
                ) -> list[IngestResult | Exception]:
    """Write every request's events in one transaction; on failure, each on its own.

    Blocking; returns one outcome per request, in order. An unavailable graph fails them
    all at once (the driver has already retried); any other error is isolated by writing
    the requests again, one transaction each.
    """
    client = Client(graph, actor=actor)
    if len(groups) > 1:
        try:
            write_events(client, [e for events in groups for e in events])
            return [_result(events) for events in groups]
        except GraphUnavailable as exc:
            return [exc for _ in groups]
        except Exception as exc:
            log.info("a group of %d lineage requests failed (%s); writing each alone",
                     len(groups), exc)
    outcomes: list[IngestResult | Exception] = []
    for events in groups:
        try:
            outcomes.append(write_events(client, events))
        except KbError as exc:
            outcomes.append(exc)
        except Exception as exc:
            log.exception("lineage request not written")
            outcomes.append(exc)
    return outcomes


class LineageWriter:
    """The one writer of an app's lineage events on one event loop (group commit).

    ``submit`` queues a request's validated events and waits for the commit that holds
    them. A single drain task writes groups back to back, so groups grow with the load
    instead of with a timer, and writers of one process never deadlock each other.
    """

    def __init__(self, graph: Graph, *, group_events: int = GROUP_EVENTS) -> None:
        self.graph = graph
        self.loop = asyncio.get_running_loop()
        self.group_events = group_events
        self._queue: deque[_Pending] = deque()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, events: list[Event], actor: str) -> IngestResult:
        item = _Pending(events, actor, self.loop.create_future())
        self._queue.append(item)
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._drain())
        return await item.done

    def _take(self) -> list[_Pending]:
        """The oldest request and every queued one of the same actor, up to the cap."""
        first = self._queue.popleft()
        taken, kept, size = [first], deque(), len(first.events)
        while self._queue:
            item = self._queue.popleft()
            if item.actor == first.actor and size + len(item.events) <= self.group_events:
                taken.append(item)
                size += len(item.events)
            else:
                kept.append(item)
        self._queue.extendleft(reversed(kept))
        return [item for item in taken if not item.done.done()]

    async def _drain(self) -> None:
        while self._queue:
            group = self._take()
            if not group:
                continue
            try:
                outcomes = await run_in_threadpool(
                    write_group, self.graph, group[0].actor, [i.events for i in group])
            except Exception as exc:  # the thread hop itself failed: answer everyone
                log.exception("lineage group write failed")
                outcomes = [exc] * len(group)
            for item, outcome in zip(group, outcomes, strict=True):
                if item.done.done():
                    continue
                if isinstance(outcome, BaseException):
                    item.done.set_exception(outcome)
                else:
                    item.done.set_result(outcome)


def lineage_writer(request: Request) -> LineageWriter:
    """The app's writer for the running loop and the app's current graph."""
    state = request.app.state
    writer: LineageWriter | None = getattr(state, "lineage_writer", None)
    if (writer is None or writer.graph is not state.graph
            or writer.loop is not asyncio.get_running_loop()):
        writer = state.lineage_writer = LineageWriter(state.graph)
    return writer


def decode_events(body: bytes, *, batch: bool) -> list[Event]:
    """The request's events, parsed and validated; ``InvalidInput`` names the field."""
    payload = parse_json(body)
    if batch:
        if not isinstance(payload, list):
            raise InvalidInput("body", "must be a JSON array of OpenLineage run events",
                               type(payload).__name__)
        return parse_events(payload)
    if not isinstance(payload, dict):
        raise InvalidInput("body", "must be one OpenLineage run event (a JSON object);"
                           f" send arrays to {BATCH_PATH}", type(payload).__name__)
    return [parse_event(payload)]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "error": code, "message": message}, status_code=status)


async def _handle(request: Request, *, batch: bool) -> Response:
    from kb.api.auth import principal_from_request

    try:
        limit = max_bytes(request)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(limit)
        principal = await run_in_threadpool(principal_from_request, request)
        principal.require("write")
        body = await read_body(request, limit)
        if len(body) <= INLINE_BYTES:
            events = decode_events(body, batch=batch)
        else:
            events = await run_in_threadpool(decode_events, body, batch=batch)
        if not events:
            return JSONResponse({"accepted": 0, "runs": 0}, status_code=201)
        result = await lineage_writer(request).submit(events, principal.actor)
    except BodyTooLarge as exc:
        return _error(413, "PAYLOAD_TOO_LARGE", str(exc))
    except Unauthorized as exc:
        return _error(401, exc.code, exc.message)
    except Forbidden as exc:
        return _error(403, exc.code, exc.message)
    except InvalidInput as exc:
        return _error(400, exc.code, exc.message)
    except GraphUnavailable as exc:
        log.warning("lineage event not stored: %s", exc.message)
        return _error(503, exc.code, "the graph is unavailable; retry later")
    except KbError as exc:
        return _error(422, exc.code, exc.message)
    return JSONResponse({"accepted": result.events, "runs": result.runs}, status_code=201)


async def post_lineage(request: Request) -> Response:
    return await _handle(request, batch=False)


async def post_lineage_batch(request: Request) -> Response:
    return await _handle(request, batch=True)


def lineage_routes() -> list[Route]:
    """The routes to mount in the app beside ``/graphql``."""
    return [
        Route(LINEAGE_PATH, post_lineage, methods=["POST"]),
        Route(BATCH_PATH, post_lineage_batch, methods=["POST"]),
    ]
