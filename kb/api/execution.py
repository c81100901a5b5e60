"""The executor: graphql-core's, with lists of plain records completed in one step.

graphql-core completes every field of every object through resolve, complete and
coerce, about ten microseconds a field; a lineage answer has thousands of leaf fields,
which made execution most of the request. A *plain* field is a strawberry field without
resolver, arguments or extensions, of a scalar or enum type or a list of plain records; a
*plain record* type is an object type with plain fields (it may have others, such as
resolvers). For a list of plain records whose selected fields are all plain, the executor
completes each field as ``getattr`` of the record coerced by its scalar, over the fields
the query selected (aliases, ``__typename``, ``@skip``/``@include`` applied by
graphql-core's own field collection). Anything else - a selected field that is not plain,
a null where the schema says non-null, a scalar that refuses a value, ``@defer``/``@stream``
- falls back to the normal path for the whole list, so answers and errors are what
graphql-core would have produced. ``KB_API_FAST_LISTS=false`` leaves every field to
graphql-core (tests/integration/test_api_execution.py checks both give the same answers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from graphql import (
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    Undefined,
    is_leaf_type,
)

log = logging.getLogger(__name__)
DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF  # where a field's definition is kept
_TEXT = (GraphQLString, GraphQLID)  # scalars that give a str back as it is


class _Field:
    """How one field of a plain record completes: a leaf serialized, or a list of plain
    records (``record``) completed the same way."""

    __slots__ = ("attr", "item_non_null", "leaf", "non_null", "record")

    def __init__(self, attr: str, non_null: bool, leaf: Any = None,
                 record: GraphQLObjectType | None = None, item_non_null: bool = False):
        self.attr, self.non_null, self.leaf = attr, non_null, leaf
        self.record, self.item_non_null = record, item_non_null


_Plan = dict[str, _Field]
_plans: dict[GraphQLObjectType, _Plan | None] = {}


def _unwrap(type_: Any) -> tuple[Any, bool]:
    return (type_.of_type, True) if isinstance(type_, GraphQLNonNull) else (type_, False)


def plain_record_plan(type_: GraphQLObjectType) -> _Plan | None:
    """How to complete the plain fields of ``type_`` by attribute access, or None when it
    has none. A field that needs the resolver path (a resolver, arguments, an object
    that is not a list of plain records) is left out of the plan: a selection that names
    it takes the normal path for the whole list. Schemas are built once, so this is
    memoised per type."""
    if type_ in _plans:
        return _plans[type_]
    _plans[type_] = None  # a type that contains itself is not plain
    if type_.is_type_of is not None:
        return None
    plan: _Plan = {}
    for name, field in type_.fields.items():
        definition = (field.extensions or {}).get(DEFINITION)
        # A basic field (no resolver, no extensions) resolves to its attribute; kb
        # declares no field exception handlers, the one other thing that wraps it.
        if field.args or definition is None or not definition.is_basic_field:
            continue
        inner, non_null = _unwrap(field.type)
        if is_leaf_type(inner):
            plan[name] = _Field(definition.python_name, non_null, leaf=inner)
            continue
        item, item_non_null = _unwrap(inner.of_type) if isinstance(inner, GraphQLList) else (
            None, False)
        if isinstance(item, GraphQLObjectType) and plain_record_plan(item) is not None:
            plan[name] = _Field(definition.python_name, non_null, record=item,
                                item_non_null=item_non_null)
    _plans[type_] = plan or None
    return _plans[type_]


class _Fallback(Exception):
    """Something graphql-core must complete itself, to report it as it would."""


_Spec = tuple[str, _Field | None, Any]  # response key, how it completes, field details
_Layout = tuple[list[_Spec], list[str], Any]


class KbExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with the plain-record list fast path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Layouts by id of their field details, kept with the details: see ``_layout``.
        self._layouts: dict[int, tuple[Any, GraphQLObjectType, _Layout]] = {}

    def complete_list_value(self, return_type: GraphQLList[GraphQLOutputType],
                            field_details_list: Any, info: GraphQLResolveInfo, path: Any,
                            result: Any, position_context: Any) -> Any:
        object_type, item_non_null = _unwrap(return_type.of_type)
        if isinstance(object_type, GraphQLObjectType) and isinstance(result, list | tuple):
            plan = plain_record_plan(object_type)
            if plan is not None:
                try:
                    out = self._records(object_type, plan, field_details_list, path, result,
                                        not item_non_null)
                except _Fallback:
                    pass
                else:
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug("%s: %d %s completed as plain records", path.as_list(),
                                  len(out), object_type.name)
                    return out
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def _layout(self, type_: GraphQLObjectType, plan: _Plan, field_details_list: Any,
                path: Any) -> _Layout:
        """The selected fields of ``type_`` in response order, and a reader for rows of
        text fields only. A nested list (each item's ``path``, say) asks again for every
        item with the same field details: the answer is kept for the request."""
        known = self._layouts.get(id(field_details_list))
        if known is not None and known[0] is field_details_list and known[1] is type_:
            return known[2]
        if self.get_stream_usage(field_details_list, path) is not None:
            raise _Fallback
        grouped, defers, _ = self.collect_subfields(type_, field_details_list)
        if defers:
            raise _Fallback
        specs: list[tuple[str, _Field | None, Any]] = []
        for key, details in grouped.items():
            name = details[0].node.name.value
            if name == "__typename":
                specs.append((key, None, None))
            elif name in plan:
                specs.append((key, plan[name], details))
            else:
                raise _Fallback
        # Fields that are strings or ids hold ``str`` values, which those scalars return
        # unchanged: such rows are read with one attrgetter call.
        direct = all(spec is not None and spec.leaf in _TEXT for _, spec, _ in specs)
        keys = [key for key, _, _ in specs]
        read = attrgetter(*(spec.attr for _, spec, _ in specs)) if direct and specs else None
        layout = (specs, keys, read)
        # The details object is kept with its entry, so its id cannot be reused meanwhile.
        self._layouts[id(field_details_list)] = (field_details_list, type_, layout)
        return layout

    def _records(self, type_: GraphQLObjectType, plan: _Plan, field_details_list: Any,
                 path: Any, items: Sequence[Any], nullable_items: bool) -> list[Any]:
        specs, keys, read = self._layout(type_, plan, field_details_list, path)
        out: list[Any] = []
        for item in items:
            if item is None:
                if not nullable_items:
                    raise _Fallback
                out.append(None)
                continue
            if read is not None:
                values = read(item)
                if len(keys) == 1:
                    if type(values) is str:
                        out.append({keys[0]: values})
                        continue
                else:
                    for value in values:
                        if type(value) is not str:
                            break
                    else:
                        # As many values as keys (one attrgetter over the keys' fields):
                        # zip's strict check would cost more than the row's dict.
                        out.append(dict(zip(keys, values)))  # noqa: B905
                        continue
            out.append(self._row(type_, specs, item, path))
        return out

    def _row(self, type_: GraphQLObjectType, specs: list[_Spec], item: Any, path: Any
             ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key, spec, details in specs:
            if spec is None:
                row[key] = type_.name
                continue
            value = getattr(item, spec.attr)
            if value is not None:
                if spec.leaf is not None:
                    try:
                        value = spec.leaf.coerce_output_value(value)
                    except Exception:  # the normal path reports what was refused
                        raise _Fallback from None
                    if value is None or value is Undefined:
                        raise _Fallback
                elif isinstance(value, list | tuple):
                    value = self._records(spec.record, _plans[spec.record], details,
                                          path, value, not spec.item_non_null)
                else:
                    raise _Fallback
            if value is None and spec.non_null:
                raise _Fallback
            row[key] = value
        return row
