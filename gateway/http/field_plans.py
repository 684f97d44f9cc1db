"""How ``/graphql``'s executor (``gateway.http.fragments.FragmentExecutor``)
reads a field without graphql-core's per-field machinery, decided once per
schema and field: a plain scalar or enum (``leaf_plan``: read, serialize,
maybe show through ``Pii``), or a plain object or list of them
(``object_plan``: read, then completed). A field is plain when Strawberry
would only read an attribute (its default resolver, no extension or
argument) or call a method that takes only ``self`` (``_method``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, EnumMeta
from types import FunctionType
from typing import Any, cast
from weakref import WeakKeyDictionary

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from strawberry.schema.schema_converter import (
    CustomGraphQLEnumType,
    GraphQLCoreConverter,
)
from strawberry.types.field import StrawberryField

from gateway.auth.pii import Pii

CACHED_TYPE = "Customer"
"""The type the executor serves from its cached fragments
(``FragmentExecutor.complete_object_value``): never an ``object_plan``."""

LeafPlan = tuple[Callable[[Any, str], Any], str, Callable[[Any], Any], bool, Pii | None]
ObjectPlan = tuple[Callable[[Any, str], Any], str, GraphQLField, list[FieldNode]]
FieldSetPlan = tuple[
    tuple[str, FieldDetailsList, "LeafPlan | None", "ObjectPlan | None"], ...
]
_Plain = tuple[Callable[[Any, str], Any], str, GraphQLField]
PLANS: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], Any]]
PLANS = WeakKeyDictionary()
"""Per schema, what ``leaf_plan`` and ``object_plan`` found of a field."""


class ByConsent(Exception):
    """A ``Pii`` value the customer's consents decide: read graphql-core's way."""


def _plain(parent_type: GraphQLObjectType, name: str) -> _Plain | None:
    """A Strawberry field read off its object as it is (no resolver, extension
    or argument): Strawberry's default resolver, the attribute's name and the
    field; or one a plain method resolves (``_method``); ``None`` for any
    other."""
    found = _attribute(parent_type, name)
    if found is not None and getattr(found[2].resolve, "_is_default", False):
        definition = found[2].extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        if definition.is_basic_field:
            return found
    return _method(parent_type, name)


def _method(parent_type: GraphQLObjectType, name: str) -> _Plain | None:
    """A Strawberry field resolved by a method of its object that takes only
    ``self`` (no argument, info or root), is not async and has no extension
    (``LineItem.category``, ``Order.lineItems``): read by calling it, as
    Strawberry's resolver chain would with nothing to add; as ``_plain``.
    (Strawberry's exception handlers apply only to a field whose type is a
    union with their error type, which is never read directly.)"""
    field = parent_type.fields.get(name)
    definition = (
        field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
    )
    if (
        field is None
        or field.args
        or not isinstance(definition, StrawberryField)
        or definition.extensions
        or definition.base_resolver is None
    ):
        return None
    resolver = definition.base_resolver
    if (
        resolver.is_async
        or resolver.self_parameter is None
        or len(resolver.signature.parameters) != 1
    ):
        return None
    method = resolver.wrapped_func
    if not isinstance(method, FunctionType):
        return None
    return (lambda source, _name: method(source)), definition.python_name, field


def _attribute(parent_type: GraphQLObjectType, name: str) -> _Plain | None:
    """A Strawberry field of an attribute (no resolver or argument), its
    extensions aside: as ``_plain``."""
    field = parent_type.fields.get(name)
    definition = (
        field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
    )
    if (
        field is not None
        and isinstance(definition, StrawberryField)
        and definition.base_resolver is None
        and not field.args
    ):
        return definition.default_resolver, definition.python_name, field
    return None


def _personal(parent_type: GraphQLObjectType, name: str) -> tuple[_Plain, Pii] | None:
    """A Strawberry attribute field whose one extension is ``Pii``, and it."""
    found = _attribute(parent_type, name)
    if found is None:
        return None
    definition = found[2].extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    match definition.extensions:
        case [Pii() as pii]:
            return found, pii
    return None


def leaf_plan(
    plans: dict[tuple[str, str], Any],
    parent_type: GraphQLObjectType,
    name: str,
) -> LeafPlan | None:
    """How to read ``parent_type.name`` as a plain scalar or enum: Strawberry's
    default resolver and the attribute's name, the type's ``serialize``,
    whether a value is required, and the field's ``Pii`` extension when that
    is its only one; ``None`` for any other field. Remembered in ``plans``,
    the schema's (``PLANS``)."""
    key = (parent_type.name, name)
    if key in plans:
        return cast(LeafPlan | None, plans[key])
    plan = None
    plain = _plain(parent_type, name)
    pii = None
    if plain is None and (personal := _personal(parent_type, name)) is not None:
        plain, pii = personal
    if plain is not None:
        read, attribute, field = plain
        kind = field.type
        required = isinstance(kind, GraphQLNonNull)
        leaf = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
            plan = (read, attribute, serializer(leaf), required, pii)
    plans[key] = plan
    return plan


def serializer(leaf: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """The leaf type's ``serialize``; for a Strawberry enum, a look-up of
    each member's name made once, answering as Strawberry's ``serialize``
    does (it scans the type's values for every value it serializes: ~1 % of
    an executed view's CPU), which still serializes anything else."""
    if not isinstance(leaf, CustomGraphQLEnumType):
        return leaf.serialize
    wrapped = leaf.wrapped_cls
    serialize = leaf.serialize
    if not isinstance(wrapped, EnumMeta):
        return serialize
    names: dict[int, str] = {}
    """By the member's identity: a member need not be hashable (an enum
    defining ``__eq__`` alone is not)."""
    member: Enum
    for member in wrapped:
        for name, value in leaf.values.items():
            if member.value == value.value:
                names[id(member)] = name
                break

    def by_name(value: Any) -> Any:
        if type(value) is wrapped and (name := names.get(id(value))) is not None:
            return name
        return serialize(value)

    return by_name


def object_plan(
    plans: dict[tuple[str, str], Any],
    parent_type: GraphQLObjectType,
    name: str,
    details: FieldDetailsList,
) -> ObjectPlan | None:
    """How to read ``parent_type.name`` as a plain object, or list of them,
    that graphql-core completes: not an interface's or union's, whose type is
    resolved, nor a ``Customer``, which ``complete_object_value`` serves
    from its fragment; ``None`` for any other field. Remembered in ``plans``
    but for the field's nodes, this request's."""
    key = (parent_type.name, f"{name} object")
    if key in plans:
        found = cast(_Plain | None, plans[key])
    else:
        found = _plain(parent_type, name)
        if found is not None:
            named = get_named_type(found[2].type)
            if not isinstance(named, GraphQLObjectType) or named.name == CACHED_TYPE:
                found = None
        plans[key] = found
    if found is None:
        return None
    read, attribute, field = found
    return read, attribute, field, [d.node for d in details]
