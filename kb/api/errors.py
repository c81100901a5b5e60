"""How errors reach clients: a code, a message without internals, and the request id.

    client mistakes   BAD_USER_INPUT, NOT_FOUND, CONFLICT, UNAUTHENTICATED, FORBIDDEN,
                      LIMIT_EXCEEDED - the message is kept, it says what to fix
    server faults     INTERNAL, GRAPH_UNAVAILABLE - the message is replaced; the server
                      logs the original with the same request id

Strawberry's ``MaskErrors`` masks everything by default, including validation and limit
messages; ``ErrorPolicy`` tells it which errors are the client's. With introspection off
it also drops every "Did you mean ...?" that graphql-core adds (fields, arguments, types,
enum values, input fields), since those name parts of the schema the client did not ask
for.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from strawberry.extensions import MaskErrors

from graphql import GraphQLError
from kb.errors import GraphUnavailable, KbError, TimeLimitExceeded

log = logging.getLogger(__name__)

CLIENT_CODES = frozenset({"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "UNAUTHENTICATED",
                          "FORBIDDEN", "LIMIT_EXCEEDED"})
TOKEN_LIMIT_TEXT = "Document contains more than"
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """``message`` without graphql-core's "Did you mean ...?" hints."""
    return _SUGGESTION.sub("", message)


def error_code(error: GraphQLError) -> str:
    """The code a client sees for ``error``."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        code = (error.extensions or {}).get("code")
        if code:
            return code
        if TOKEN_LIMIT_TEXT in error.message:
            return "LIMIT_EXCEEDED"
        return "BAD_USER_INPUT"  # a syntax or validation error in the document
    if isinstance(original, GraphUnavailable):
        return "GRAPH_UNAVAILABLE"
    if isinstance(original, KbError) and original.code in CLIENT_CODES:
        return original.code
    return "INTERNAL"


def shaped(error: GraphQLError, request_id: str | None, suggestions: bool = True
           ) -> GraphQLError:
    """A copy of ``error`` safe to send: code and request id added, internals masked, and
    without schema suggestions unless ``suggestions``."""
    code = error_code(error)
    extensions: dict[str, Any] = {}
    if code in CLIENT_CODES:
        message = error.message if suggestions else without_suggestions(error.message)
        extensions.update(error.extensions or {})
        original = error.original_error
        if code == "LIMIT_EXCEEDED" and TOKEN_LIMIT_TEXT in message:
            extensions.setdefault("limit", "tokens")
        if original is not None and hasattr(original, "field"):
            extensions.setdefault("field", original.field)
        if isinstance(original, TimeLimitExceeded):
            extensions.setdefault("limit", original.limit)
            if original.seconds is not None:
                extensions.setdefault("allowed", original.seconds)
    elif code == "GRAPH_UNAVAILABLE":
        message = "the knowledge graph database is unavailable; try again shortly"
    else:
        message = f"internal error; quote request id {request_id} when reporting it"
    extensions["code"] = code
    if request_id:
        extensions["requestId"] = request_id
    return GraphQLError(message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path, original_error=None,
                        extensions=extensions)


def request_id_of(context: Any) -> str | None:
    return getattr(context, "request_id", None)


class ErrorPolicy(MaskErrors):
    """Mask server faults, keep client mistakes, add ``code`` and ``requestId`` to all."""

    suggestions = True

    @classmethod
    def configured(cls, *, suggestions: bool) -> type[ErrorPolicy]:
        return type("ErrorPolicy", (cls,), {"suggestions": suggestions})

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        rid = request_id_of(self.execution_context.context)
        return [shaped(e, rid, self.suggestions) for e in errors]

    def _process_result(self, result: object) -> None:
        # MaskErrors checks ``result`` against a runtime Protocol first, which costs more
        # than the rest of an error-free request's masking; an attribute read says the same.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def log_errors(errors: list[GraphQLError], request_id: str | None) -> None:
    """Server faults with their traceback, client mistakes at debug level."""
    for error in errors:
        code = error_code(error)
        if code in CLIENT_CODES:
            log.debug("request %s: %s %s", request_id, code, error.message)
        else:
            original = error.original_error or error
            log.error("request %s: %s at %s: %s", request_id, code, error.path, error.message,
                      exc_info=(type(original), original, original.__traceback__))
