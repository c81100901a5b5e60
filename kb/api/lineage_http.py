"""OpenLineage over HTTP: ``POST /api/v1/lineage`` and ``POST /api/v1/lineage/batch``.

Answers the way Marquez does, because that is what Airflow, Spark, dbt and the
``openlineage-python`` HTTP transport already target: 201 when the event is taken,
400 naming what is wrong with a malformed event, 413 for a body over the cap (checked on
``Content-Length`` and again on the bytes actually streamed, before and after gunzip),
401/403 for a missing or read-only token, 409 when an event's ``runId`` names a run that
another source created and did not open to OpenLineage. Every refusal happens before anything is
written; the batch endpoint writes its whole array in one transaction or not at all.

Each request is validated on its own; the write is shared with the requests of the same
token waiting at the same moment, and that transaction also judges the token (group
commit, see ``kb.api.lineage_batching``). A request is answered 201 only after the
transaction holding its events has committed.

The body cap is ``app.state.lineage_max_bytes`` when the app sets it, else
``config.lineage_max_bytes`` when the configuration has it, else ``DEFAULT_MAX_BYTES``.
"""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kb.errors import (
    Conflict,
    Forbidden,
    GraphError,
    GraphUnavailable,
    InvalidInput,
    KbError,
    Unauthorized,
)
from kb.ingest.openlineage import Event, parse_event, parse_events

from .auth import bearer, principal_from_request
from .lineage_batching import authorise, write

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
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
    try:
        limit = max_bytes(request)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(limit)
        secret = bearer(request)
        if secret is None:  # no token: refused without a read
            principal_from_request(request).require("write")
        try:
            body = await read_body(request, limit)
            if len(body) <= INLINE_BYTES:
                events = decode_events(body, batch=batch)
            else:
                events = await run_in_threadpool(decode_events, body, batch=batch)
        except (BodyTooLarge, InvalidInput):
            (await authorise(request)).require("write")  # who asks is answered first
            raise
        if not events:
            (await authorise(request)).require("write")
            return JSONResponse({"accepted": 0, "runs": 0}, status_code=201)
        # The token is judged by the transaction that writes (one read for both).
        result = await write(request, events, secret)
    except BodyTooLarge as exc:
        return _error(413, "PAYLOAD_TOO_LARGE", str(exc))
    except Unauthorized as exc:
        return _error(401, exc.code, exc.message)
    except Forbidden as exc:
        return _error(403, exc.code, exc.message)
    except InvalidInput as exc:
        return _error(400, exc.code, exc.message)
    except Conflict as exc:
        return _error(409, exc.code, exc.message)
    except GraphUnavailable as exc:
        log.warning("lineage event not stored: %s", exc.message)
        return _error(503, exc.code, "the graph is unavailable; retry later")
    except GraphError:
        log.exception("lineage event not stored")
        return _error(500, GraphError.code, "internal error; the server logged it")
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
