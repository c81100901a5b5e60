"""Who is asking: ``Authorization: Bearer <secret>`` resolved to a ``Principal``.

Scopes nest (admin includes write, write includes read). Reads without a token are
allowed only when the configuration says so; ``anonymous_reads=None`` means "only when
the server listens on a loopback address", so a laptop works out of the box and a shared
server does not leak by default.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from kb.config import Config
from kb.errors import Forbidden, Unauthorized
from kb.graph.tokens import Token, find_token, touch_token

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
ANONYMOUS = "anonymous"
#: lastUsedAt is refreshed at most this often per token, so reads stay reads.
TOUCH_EVERY = 60.0


@dataclass(frozen=True)
class Principal:
    """The actor every write is stamped with, and what it may do."""

    actor: str
    scopes: frozenset[str]
    authenticated: bool = field(default=True, compare=False)
    token_id: str | None = field(default=None, compare=False)

    def require(self, scope: str) -> None:
        if scope in self.scopes:
            return
        if not self.authenticated:
            raise Unauthorized(f"this operation needs a token with the {scope!r} scope; "
                               "send Authorization: Bearer <token> (see `kb token create`)")
        raise Forbidden(f"the token of {self.actor!r} lacks the {scope!r} scope this "
                        "operation needs; ask an admin for a token with it")


def anonymous_reads_allowed(config: Config) -> bool:
    if config.anonymous_reads is not None:
        return config.anonymous_reads
    return config.api_host.strip().lower() in LOOPBACK


def bearer(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return secret.strip()


def principal_from_request(request: HTTPConnection) -> Principal:
    """Resolve the caller; blocking (one token read), so call it off the event loop."""
    config: Config = request.app.state.config
    secret = bearer(request)
    if secret is None:
        if anonymous_reads_allowed(config):
            return Principal(ANONYMOUS, frozenset({"read"}), authenticated=False)
        raise Unauthorized("this server needs a token: send Authorization: Bearer <token> "
                           "(create one with `kb token create`)")
    return principal_for_token(request, find_token(request.app.state.graph, secret))


def principal_of(token: Token | None) -> Principal:
    """The caller behind a looked-up token (None: unknown); raises when it may not call."""
    if token is None:
        raise Unauthorized("the token is not known to this server")
    if not token.active:
        raise Unauthorized(f"the token {token.name!r} was revoked")
    return Principal(token.actor, token.scopes, authenticated=True, token_id=token.id)


def principal_for_token(request: HTTPConnection, token: Token | None) -> Principal:
    """``principal_of``, recording the token's use now and then; blocking."""
    principal = principal_of(token)
    if principal.token_id is not None and touch_due(request, principal.token_id):
        record_use(request, principal.token_id)
    return principal


def touch_due(request: HTTPConnection, token_id: str) -> bool:
    """Whether the token's lastUsedAt should be refreshed now (then counts it as done)."""
    state = request.app.state
    seen: dict[str, float] | None = getattr(state, "token_seen", None)
    if seen is None:
        seen = state.token_seen = {}
    now = time.monotonic()
    if now - seen.get(token_id, -TOUCH_EVERY) < TOUCH_EVERY:
        return False
    seen[token_id] = now
    return True


def record_use(request: HTTPConnection, token_id: str) -> None:
    """Refresh the token's lastUsedAt; blocking, and never fails a request."""
    try:
        touch_token(request.app.state.graph, token_id)
    except Exception:  # bookkeeping must never fail a request
        log.warning("could not record the use of token %s", token_id, exc_info=True)
