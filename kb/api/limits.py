"""Request limits, checked on the parsed document before anything reaches Neo4j.

Depth, aliases, tokens, page size and a cost budget. Cost is estimated the way GitHub's
GraphQL API does it: every list field multiplies the bounds of the lists above it, its
bound being its ``first`` or, for a list without one, the most items the server returns
in it (``LIST_BOUND``); the ``edges``/``nodes`` of a connection are its page, counted
once on the connection. ``requests`` sums, over the fields that take ``first``, the
product of the bounds of their parents (how many lists must be fetched), and ``nodes``
sums, over every list, the product including its own bound (how many items may come
back). Both are refused above their budget, and the estimate is returned in the
response's ``extensions.cost``.

``Limits`` is a schema extension *class*: strawberry builds one per request, so the
estimate of one request never leaks into another's. It checks after validation (which
strawberry's ``ValidationCache`` memoises) and before execution.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from strawberry.extensions import SchemaExtension

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    build_schema,
    get_named_type,
    is_composite_type,
    value_from_ast,
)

log = logging.getLogger(__name__)

MAX_PAGE = 100
#: The most items a list without ``first`` holds per parent: the server's cap on its
#: relationship lists, and the size the answers' inner lists are counted at.
LIST_BOUND = 100
#: The fields of a connection that hold its page (already counted on the connection).
PAGE_FIELDS = frozenset({"edges", "nodes"})


@dataclass(frozen=True)
class LimitSettings:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_page: int = MAX_PAGE
    max_requests: int = 1000
    max_nodes: int = 100_000


@dataclass
class Estimate:
    depth: int = 0
    aliases: int = 0
    requests: int = 0
    nodes: int = 0
    errors: list[GraphQLError] = field(default_factory=list)
    uses_variables: bool = False  # a page size came from a variable


def limit_error(limit: str, message: str, allowed: int, actual: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "LIMIT_EXCEEDED", "limit": limit,
                                             "allowed": allowed, "actual": actual})


class _Walker:
    """Walks one operation with the schema's types, resolving fragments and variables."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], settings: LimitSettings) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.settings = settings
        self.est = Estimate()

    def page_size(self, node: FieldNode, parent: Any) -> int | None:
        fields = getattr(parent, "fields", None) or {}
        definition = fields.get(node.name.value)
        if definition is None:
            return None
        if "first" not in definition.args:
            return self.list_bound(node, parent, definition.type)
        arg = definition.args["first"]
        value = None
        for given in node.arguments or ():
            if given.name.value == "first":
                if isinstance(given.value, VariableNode):
                    self.est.uses_variables = True
                    value = self.variables.get(given.value.name.value)
                else:
                    value = value_from_ast(given.value, arg.type, self.variables)
        if value is None:
            value = arg.default_value if isinstance(arg.default_value, int) else MAX_PAGE
        if isinstance(value, int) and value > self.settings.max_page:
            self.est.errors.append(limit_error(
                "pageSize", f"first: {value} on {node.name.value} is above the page size "
                f"limit of {self.settings.max_page}; page with first/after",
                self.settings.max_page, value))
        return max(int(value), 0) if isinstance(value, int) else MAX_PAGE

    @staticmethod
    def list_bound(node: FieldNode, parent: Any, type_: Any) -> int | None:
        """``LIST_BOUND`` for a list of objects without ``first``, None for anything else."""
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if not isinstance(type_, GraphQLList) or not is_composite_type(get_named_type(type_)):
            return None
        if node.name.value in PAGE_FIELDS and getattr(parent, "name", "").endswith("Connection"):
            return None
        return LIST_BOUND

    def walk(self, selection_set: SelectionSetNode | None, parent: Any, depth: int,
             multiplier: int, seen: frozenset[str]) -> None:
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
                if name.startswith("__"):
                    continue  # introspection is bounded by the schema itself
                if sel.alias is not None:
                    self.est.aliases += 1
                self.est.depth = max(self.est.depth, depth)
                fields = getattr(parent, "fields", None) or {}
                definition = fields.get(name)
                child = get_named_type(definition.type) if definition else None
                size = self.page_size(sel, parent)
                inner = multiplier
                if size is not None:
                    if definition is not None and "first" in definition.args:
                        self.est.requests += multiplier
                    self.est.nodes += multiplier * size
                    inner = multiplier * max(size, 1)
                self.walk(sel.selection_set, child, depth + 1, inner, seen)
            elif isinstance(sel, InlineFragmentNode):
                cond = (self.schema.get_type(sel.type_condition.name.value)
                        if sel.type_condition else parent)
                self.walk(sel.selection_set, cond, depth, multiplier, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                frag = self.fragments.get(name)
                if frag is None or name in seen:
                    continue
                cond = self.schema.get_type(frag.type_condition.name.value)
                self.walk(frag.selection_set, cond, depth, multiplier, seen | {name})


def estimate(schema: GraphQLSchema, operation: OperationDefinitionNode,
             fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
             settings: LimitSettings) -> Estimate:
    root: GraphQLObjectType | GraphQLInterfaceType | None = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    walker = _Walker(schema, fragments, variables, settings)
    walker.walk(operation.selection_set, root, 1, 1, frozenset())
    est = walker.est
    checks = (("depth", est.depth, settings.max_depth, "query depth"),
              ("aliases", est.aliases, settings.max_aliases, "number of aliases"),
              ("cost", est.requests, settings.max_requests, "cost (lists to fetch)"),
              ("nodes", est.nodes, settings.max_nodes, "cost (items that may return)"))
    for limit, actual, allowed, text in checks:
        if actual > allowed:
            est.errors.append(limit_error(limit, f"the {text} is {actual}, above the limit of "
                                          f"{allowed}; ask for less in one request",
                                          allowed, actual))
    return est


# Estimates of documents whose page sizes are literals, by document text: the same text
# always costs the same, so the walk runs once per document (an LRU of ESTIMATES entries).
ESTIMATES = 256
_estimates: OrderedDict[tuple[Any, ...], Estimate] = OrderedDict()


def _remember(key: tuple[Any, ...], est: Estimate) -> None:
    _estimates[key] = est
    _estimates.move_to_end(key)
    while len(_estimates) > ESTIMATES:
        _estimates.popitem(last=False)



_core_schemas: weakref.WeakKeyDictionary[Any, GraphQLSchema] = weakref.WeakKeyDictionary()


def core_schema(schema: Any) -> GraphQLSchema:
    """A strawberry schema's types as graphql-core describes them, built once from its
    printed SDL: the cost walk needs only types, fields and arguments, and strawberry keeps
    its own graphql-core schema private."""
    core = _core_schemas.get(schema)
    if core is None:
        core = _core_schemas[schema] = build_schema(schema.as_str())
    return core

class Limits(SchemaExtension):
    """Refuses a document over any limit during validation, and reports its cost."""

    settings = LimitSettings()

    def __init__(self, *, execution_context: Any = None) -> None:
        self.estimate: Estimate | None = None

    @classmethod
    def configured(cls, settings: LimitSettings) -> type[Limits]:
        return type("Limits", (cls,), {"settings": settings})

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.settings.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        """Runs after validation (``ValidationCache`` is listed before it) and before execution: a
        document over a limit becomes a request error and nothing is executed."""
        ctx = self.execution_context
        if not ctx.pre_execution_errors and ctx.graphql_document is not None:
            errors = self.check(core_schema(ctx.schema), ctx.graphql_document)
            if errors:
                ctx.pre_execution_errors = errors
        yield

    def check(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        wanted = self.execution_context.operation_name
        query = self.execution_context.query
        key = (schema, query, wanted, self.settings)
        self.estimate = _estimates.get(key) if isinstance(query, str) else None
        if self.estimate is None:
            fragments = {d.name.value: d for d in document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            operations = [d for d in document.definitions
                          if isinstance(d, OperationDefinitionNode)]
            if wanted:
                operations = [o for o in operations if o.name and o.name.value == wanted]
            variables = self.execution_context.variables or {}
            for op in operations[:1]:
                self.estimate = estimate(schema, op, fragments, variables, self.settings)
                if isinstance(query, str) and not self.estimate.uses_variables:
                    _remember(key, self.estimate)
        return list(self.estimate.errors) if self.estimate else []

    def get_results(self) -> dict[str, Any]:
        if self.estimate is None:
            return {}
        est, s = self.estimate, self.settings
        return {"cost": {"requests": est.requests, "nodes": est.nodes, "depth": est.depth,
                         "aliases": est.aliases, "limits": {
                             "requests": s.max_requests, "nodes": s.max_nodes,
                             "depth": s.max_depth, "aliases": s.max_aliases,
                             "tokens": s.max_tokens, "pageSize": s.max_page}}}
