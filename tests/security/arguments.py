"""Documents built from the schema: a root field called with a value for every
required argument (the subject's ids, plain scalars), so a table over root
fields covers a new field the day it exists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    get_named_type,
)

if TYPE_CHECKING:
    from tests.security.conftest import Stage

SCALARS: dict[str, Any] = {
    "String": "sec-x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "DateTime": "2030-01-01T00:00:00+00:00",
    "Date": "1990-01-01",
    "JSON": {},
}
KINDS = ("query", "mutation", "subscription")


def value(stage: Stage, type_: Any, name: str, returns: str) -> Any:
    """A valid value of ``type_`` for argument ``name`` of a field returning
    ``returns``: the subject's task for ``completeTask(id:)``-like fields, the
    subject's customer for every other ID."""
    if isinstance(type_, GraphQLNonNull):
        return value(stage, type_.of_type, name, returns)
    if isinstance(type_, GraphQLList):
        return [value(stage, type_.of_type, name, returns)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            field_name: value(stage, field.type, field_name, returns)
            for field_name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull)
            and field.default_value is Undefined
        }
    assert isinstance(type_, GraphQLScalarType)
    if type_.name == "ID":
        return (
            stage.subject.task_gid
            if returns == "Task" and name == "id"
            else stage.subject.gid
        )
    return SCALARS[type_.name]


def root(schema: GraphQLSchema, kind: str) -> GraphQLObjectType | None:
    """The root type of ``kind`` (``None``: the schema has no such operation)."""
    return {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[kind]


def call(
    stage: Stage,
    schema: GraphQLSchema,
    kind: str,
    name: str,
    override: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """``kind`` (query, mutation, subscription) calling ``name`` with variables
    for every required argument and those in ``override``; object results
    select ``__typename``."""
    operations = root(schema, kind)
    assert operations is not None, kind
    field: GraphQLField = operations.fields[name]
    returns = get_named_type(field.type).name
    override = override or {}
    passed = {
        arg_name: arg
        for arg_name, arg in field.args.items()
        if arg_name in override
        or (isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined)
    }
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in passed.items())
    arguments = ", ".join(f"{a}: ${a}" for a in passed)
    head = f"{kind}({declared})" if declared else kind
    invoked = f"{name}({arguments})" if arguments else name
    leaf = isinstance(get_named_type(field.type), GraphQLScalarType | GraphQLEnumType)
    selection = "" if leaf else " { __typename }"
    variables = {
        a: override[a] if a in override else value(stage, arg.type, a, returns)
        for a, arg in passed.items()
    }
    return f"{head} {{ {invoked}{selection} }}", variables
