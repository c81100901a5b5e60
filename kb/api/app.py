"""The starlette app: ``/graphql`` (GraphiQL in a browser, its assets under ``/graphiql/``),
``/healthz``, ``/readyz``.

No request can hold a worker for long or answer more than a client can take: a
``/graphql`` body above ``api_max_body_bytes`` is refused (413) before it is read whole,
execution stops at ``api_request_seconds`` (Neo4j stops its transactions at the same
moment), and an answer above ``api_max_response_bytes`` is replaced by an error. Only
the configured host names are served (DNS rebinding); the probes answer any host.

The lifespan owns the Graph when none is passed in, and an ``AsyncGraph`` twin of it on
which the questions' reads are awaited; everything else reads the Graph in worker threads,
which see the request's time budget (starlette copies the context into them). Every response carries
``X-Request-Id``; the same id is in error extensions and in the server's log lines.
Responses follow GraphQL-over-HTTP: ``application/graphql-response+json`` when the client
asks for it (with 4xx for requests that never executed), ``application/json`` otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.types import ExecutionResult

from graphql import GraphQLError

try:  # optional: a faster encoder for large answers (json gives equivalent JSON)
    import orjson
except ImportError:  # pragma: no cover - depends on the installation
    orjson = None

from kb.config import Config
from kb.errors import KbError, TimeLimitExceeded
from kb.graph import Graph
from kb.graph.async_driver import AsyncGraph
from kb.graph.driver import PING_SECONDS, time_budget

from . import graphiql
from .auth import LOOPBACK, Principal, principal_from_request
from .context import Context
from .loaders import Loaders
from .schema import build_schema

log = logging.getLogger(__name__)

GRAPHQL_RESPONSE = "application/graphql-response+json"
_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: Paths served whatever the Host header: probes call by pod or node address, and these
#: answer no data.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class BodyTooLarge(KbError):
    code = "LIMIT_EXCEEDED"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than the {limit}-byte limit; send a "
                         "smaller query or fewer variables")


def allowed_hosts(config: Config) -> list[str]:
    """The Host names served: ``KB_API_ALLOWED_HOSTS``, else the loopback names on a
    loopback address (a page elsewhere cannot rebind its own name to this server), else
    any (a server on the network needs tokens for reads unless told otherwise)."""
    if config.api_allowed_hosts is not None:
        return list(config.api_allowed_hosts)
    if config.api_host.strip().lower() in LOOPBACK:
        return sorted(LOOPBACK)
    return ["*"]


class HostCheck:
    """Starlette's ``TrustedHostMiddleware`` for every path but the probes (400 for a
    Host header that is not allowed)."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.checked = TrustedHostMiddleware(app, allowed_hosts=hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in PROBE_PATHS:
            await self.app(scope, receive, send)
        else:
            await self.checked(scope, receive, send)


class RequestIdMiddleware:
    """Gives each request an id (the caller's ``X-Request-Id`` when sane) and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _RID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _wants_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")


def error_response(request: Request, exc: KbError, status: int,
                   **extensions: Any) -> Response:
    rid = request.state.request_id
    body = {"errors": [{"message": exc.message,
                        "extensions": {"code": exc.code, **extensions, "requestId": rid}}]}
    media = GRAPHQL_RESPONSE if _wants_graphql_response(request) else "application/json"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(json.dumps(body), status_code=status, media_type=media, headers=headers)


class KbGraphQL(GraphQL):
    """Strawberry's ASGI view with kb's auth, context and GraphQL-over-HTTP statuses."""

    def __init__(self, config: Config, **kw: Any) -> None:
        super().__init__(build_schema(config), graphql_ide="graphiql" if config.graphiql
                         else None, **kw)
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            if request.method == "POST":
                replay = await self._bounded_body(request, scope, receive, send)
                if replay is None:
                    return
                receive = replay
            if not _is_ide_request(request):
                try:
                    # Only a token needs a database read; anonymous callers skip the thread.
                    principal = (await run_in_threadpool(principal_from_request, request)
                                 if "authorization" in request.headers
                                 else principal_from_request(request))
                except KbError as exc:
                    status = 403 if exc.code == "FORBIDDEN" else 401
                    if exc.code not in ("FORBIDDEN", "UNAUTHENTICATED"):
                        log.error("request %s: auth failed: %s", request.state.request_id,
                                  exc.message)
                        status = 503
                    await error_response(request, exc, status)(scope, receive, send)
                    return
                scope["state"]["principal"] = principal
        await super().__call__(scope, receive, send)

    async def _bounded_body(self, request: Request, scope: Scope, receive: Receive,
                            send: Send) -> Receive | None:
        """The body read up to ``api_max_body_bytes`` and handed on as a fresh ``receive``;
        None once a larger one was answered 413 (on its Content-Length when declared, else
        as soon as the bytes streamed pass the limit)."""
        limit = self.config.api_max_body_bytes
        declared = request.headers.get("content-length", "")
        chunks: list[bytes] = []
        size = int(declared) if declared.isdigit() else 0
        if size <= limit:
            size = 0
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        break
                    chunks.append(chunk)
            except ClientDisconnect:
                return None
        if size > limit:
            await error_response(request, BodyTooLarge(limit), 413, limit="bodyBytes",
                                 allowed=limit)(
                scope, receive, send)
            return None
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """Strawberry's execution within the request's time budget: stopped on the event
        loop when it runs out, and every Neo4j transaction it starts times out with it."""
        seconds = self.config.api_request_seconds
        with time_budget(seconds):
            try:
                async with asyncio.timeout(seconds):
                    return await super().execute_single(*args, **kwargs)
            except TimeoutError:
                context = kwargs.get("context")
                rid = getattr(context, "request_id", None)
                log.warning("request %s: stopped at its time budget of %g s", rid, seconds)
                error = GraphQLError(TimeLimitExceeded(seconds).message, extensions={
                    "code": "LIMIT_EXCEEDED", "limit": "time", "allowed": seconds,
                    "requestId": rid})
                return ExecutionResult(data=None, errors=[error])

    async def get_context(self, request: Any, response: Any) -> Context:
        app = request.app
        # Only a GraphiQL page request gets here without a principal; it runs nothing.
        principal: Principal = getattr(request.state, "principal", None) or Principal(
            "anonymous", frozenset(), authenticated=False)
        return Context(request=request, response=response, graph=app.state.graph,
                       aio=app.state.aio,
                       config=self.config, principal=principal,
                       request_id=request.state.request_id,
                       loaders=Loaders(app.state.graph))

    async def render_graphql_ide(self, request: Request) -> Response:
        """kb's GraphiQL page, whose scripts this server serves (``kb.api.graphiql``)."""
        return graphiql.ide_response(request, self.config)

    def encode_json(self, data: object) -> str | bytes:
        if orjson is not None:
            try:
                return orjson.dumps(data)
            except TypeError:  # e.g. an integer beyond 64 bits in a JSON scalar
                pass
        return super().encode_json(data)

    async def process_result(self, request: Any, result: Any) -> Any:
        data = await super().process_result(request, result)
        errors = data.get("errors") or []
        if data.get("data") is None and errors and not any(e.get("path") for e in errors):
            data.pop("data", None)  # a request error: nothing executed, so no data entry
        return data

    async def get_sub_response(self, request: Any) -> Response:
        sub = await super().get_sub_response(request)
        sub.kb_request = request  # type: ignore[attr-defined]
        return sub

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        request: Request | None = getattr(sub_response, "kb_request", None)
        limit = self.config.api_max_response_bytes
        if len(response.body) > limit:
            return self._too_large(request, len(response.body), limit)
        if request is None or isinstance(response_data, list):
            return response
        codes = {(e.get("extensions") or {}).get("code")
                 for e in response_data.get("errors") or []}
        executed = "data" in response_data and response_data["data"] is not None
        nothing = not executed or not any(v is not None
                                          for v in (response_data.get("data") or {}).values())
        if _wants_graphql_response(request):
            response.headers["content-type"] = GRAPHQL_RESPONSE + "; charset=utf-8"
            if "data" not in response_data:
                response.status_code = 400
        if nothing and "UNAUTHENTICATED" in codes:
            response.status_code = 401
        elif nothing and "FORBIDDEN" in codes and not _wants_graphql_response(request):
            response.status_code = 403
        return response


    def _too_large(self, request: Request | None, size: int, limit: int) -> Response:
        rid = request.state.request_id if request is not None else None
        log.warning("request %s: answer of %d bytes replaced (limit %d)", rid, size, limit)
        body = {"data": None, "errors": [{
            "message": f"the answer is {size} bytes, above the {limit}-byte limit; ask for "
                       "less in one request (a smaller first, fewer fields)",
            "extensions": {"code": "LIMIT_EXCEEDED", "limit": "responseBytes",
                           "allowed": limit, "actual": size, "requestId": rid}}]}
        wants = request is not None and _wants_graphql_response(request)
        return Response(json.dumps(body), status_code=200,
                        media_type=GRAPHQL_RESPONSE if wants else "application/json")


def _is_ide_request(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    graph: Graph | None = getattr(request.app.state, "graph", None)
    try:
        # The probe's own deadline: a database that accepts connections but does not
        # answer would otherwise hold the probe as long as the driver waits.
        async with asyncio.timeout(PING_SECONDS):
            ok = graph is not None and await run_in_threadpool(graph.ping)
    except TimeoutError:
        ok = False
    return JSONResponse({"status": "ready" if ok else "unavailable",
                         "neo4j": "reachable" if ok else "unreachable"},
                        status_code=200 if ok else 503)


#: How long a request retries a database that does not answer before it is told so
#: (``GRAPH_UNAVAILABLE``): a client's own timeout is seldom longer, and every waiting
#: request holds a task or a worker thread. Deadlocks, the common transient fault under
#: load, are over in milliseconds.
REQUEST_RETRY_SECONDS = 5.0


def _open_graph(config: Config) -> Graph:
    from kb.localdb import resolve

    conn = resolve(config, start=True)
    graph = Graph.connect(conn.uri, conn.user, conn.password, database=conn.database,
                          retry_seconds=REQUEST_RETRY_SECONDS)
    graph.ensure_schema()
    return graph


def _extra_routes() -> list[Any]:
    try:
        from kb.api.lineage_http import lineage_routes
    except ImportError:
        log.info("OpenLineage routes not available in this build")
        return []
    return list(lineage_routes())


def create_app(config: Config, graph: Graph | None = None) -> Starlette:
    """The API; without ``graph`` the lifespan opens one from ``config`` and closes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = app.state.graph is None
        if owned:
            app.state.graph = await run_in_threadpool(_open_graph, config)
        # The questions' reads await this on the loop; it lives as long as the loop.
        if config.api_async_reads:
            app.state.aio = AsyncGraph.twin(app.state.graph)
        # Everything imported and built so far lives as long as the process: keep it out
        # of the collector's full passes, which otherwise walk it on every request burst.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if app.state.aio is not None:
                await app.state.aio.close()
                app.state.aio = None
            if owned and app.state.graph is not None:
                app.state.graph.close()
                app.state.graph = None

    routes = [
        Route("/graphql", KbGraphQL(config), methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *_extra_routes(),
        *(graphiql.routes(config) if config.graphiql else []),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(HostCheck, hosts=allowed_hosts(config))
    app.add_middleware(RequestIdMiddleware)
    app.state.config = config
    app.state.graph = graph
    app.state.aio = None  # without a lifespan (in-process clients), questions use threads
    return app


def create_app_from_env() -> Starlette:
    """The factory ``kb serve`` hands to uvicorn, so each worker builds its own app (and
    stops when the supervisor that started it dies)."""
    from .parent_watch import leave_with_supervisor

    leave_with_supervisor()
    return create_app(Config.from_env())
