"""The schema, built from configuration; ``python -m kb.api.schema`` prints its SDL.

Extensions are passed as classes (strawberry builds one per request), so limits and
error shaping never share state between concurrent requests.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql import GraphQLError
from kb.config import Config

from .errors import ErrorPolicy, log_errors, request_id_of
from .execution import KbExecutionContext
from .limits import Limits, LimitSettings
from .mutations import Mutation
from .query import Query
from .types import ENTITY_TYPES

log = logging.getLogger(__name__)

#: Distinct query texts whose parsed documents are kept (an LRU, shared by requests).
PARSED_DOCUMENTS = 256
#: Validation results kept, by document (strawberry's LRU, shared by requests).
VALIDATED_DOCUMENTS = 256


class KbSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        context: Any = execution_context.context if execution_context else None
        log_errors(errors, request_id_of(context))


class _ParserCache(ParserCache):
    """Strawberry's parse cache, except that a document that does not parse is left to
    strawberry's own parse, which reports the syntax error the way every other request
    error is reported (an error raised from the hook itself would skip that)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        with contextlib.suppress(GraphQLError):
            ctx.graphql_document = self.cached_parse_document(ctx.query, **ctx.parse_options)
        yield


def _parser_cache() -> ParserCache:
    return _ParserCache(maxsize=PARSED_DOCUMENTS)


def _validation_cache() -> ValidationCache:
    return ValidationCache(maxsize=VALIDATED_DOCUMENTS)


def build_schema(config: Config | None = None, limits: LimitSettings | None = None
                 ) -> strawberry.Schema:
    config = config or Config()
    # Order matters: the caches fill in the parsed document (keyed by its text and the
    # token limit Limits sets first; a parse over that limit raises and is not cached) and
    # the validation results, then Limits refuses what is over a limit, then ErrorPolicy
    # shapes whatever errors there are.
    extensions: list[Any] = [_parser_cache, _validation_cache,
                             Limits.configured(limits or LimitSettings()),
                             ErrorPolicy.configured(suggestions=config.introspection)]
    if not config.introspection:
        extensions.append(DisableIntrospection)
    return KbSchema(
        query=Query, mutation=Mutation, types=list(ENTITY_TYPES), extensions=extensions,
        execution_context_class=KbExecutionContext if config.api_fast_lists else None,
        config=StrawberryConfig(disable_field_suggestions=not config.introspection),
    )


def sdl() -> str:
    """The exported contract: ``graphql/schema.graphql``."""
    return build_schema(Config()).as_str() + "\n"


if __name__ == "__main__":
    sys.stdout.write(sdl())
