"""The schema, built from configuration; ``python -m kb.api.schema`` prints its SDL.

Extensions are passed as classes (strawberry builds one per request), so limits and
error shaping never share state between concurrent requests.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql import GraphQLError
from kb.config import Config

from .errors import ErrorPolicy, log_errors, request_id_of
from .limits import Limits, LimitSettings
from .mutations import Mutation
from .query import Query
from .types import ENTITY_TYPES

log = logging.getLogger(__name__)


class KbSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        context: Any = execution_context.context if execution_context else None
        log_errors(errors, request_id_of(context))


def build_schema(config: Config | None = None, limits: LimitSettings | None = None
                 ) -> strawberry.Schema:
    config = config or Config()
    # Order matters: the cache fills in validation results, then Limits refuses
    # what is over a limit, then ErrorPolicy shapes whatever errors there are.
    extensions: list[Any] = [ValidationCache,
                             Limits.configured(limits or LimitSettings()), ErrorPolicy]
    if not config.introspection:
        extensions.append(DisableIntrospection)
    return KbSchema(
        query=Query, mutation=Mutation, types=list(ENTITY_TYPES), extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=not config.introspection),
    )


def sdl() -> str:
    """The exported contract: ``graphql/schema.graphql``."""
    return build_schema(Config()).as_str() + "\n"


if __name__ == "__main__":
    sys.stdout.write(sdl())
