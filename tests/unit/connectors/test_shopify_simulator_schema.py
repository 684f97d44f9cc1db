"""The simulator's discount and collection schema is Shopify's: every type,
field and argument it declares exists in the published 2025-07 Admin schema
with the same type and nullability, its inputs take every field Shopify's take,
its enums hold Shopify's values, its unions only Shopify's members; and the
scopes it enforces are the ones the published schema names."""

from __future__ import annotations

import pytest
from graphql import (
    EnumTypeDefinitionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    UnionTypeDefinitionNode,
    parse,
)

from connectors.shopify.simulator.access import REQUIRED, REQUIRED_FIELDS
from connectors.shopify.simulator.discount_schema import DISCOUNT_SDL
from connectors.shopify.simulator.resolvers import build_schema
from tests.unit.connectors.published import published_schema, required_access

SIMULATED = build_schema()
ROOTS = {"Query": "QueryRoot", "Mutation": "Mutation"}
DEFINED = [
    d.name.value
    for d in parse(DISCOUNT_SDL).definitions
    if isinstance(
        d,
        ObjectTypeDefinitionNode
        | ObjectTypeExtensionNode
        | InputObjectTypeDefinitionNode
        | EnumTypeDefinitionNode
        | UnionTypeDefinitionNode,
    )
]


def published(name: str) -> object:
    found = published_schema().get_type(ROOTS.get(name, name))
    assert found is not None, f"{name} is not in Shopify's schema"
    return found


@pytest.mark.parametrize("name", DEFINED)
def test_each_discount_type_is_shopifys(name: str) -> None:
    ours, theirs = SIMULATED.get_type(name), published(name)
    if isinstance(ours, GraphQLEnumType):
        assert isinstance(theirs, GraphQLEnumType)
        assert set(ours.values) == set(theirs.values)
    elif isinstance(ours, GraphQLUnionType):
        assert isinstance(theirs, GraphQLUnionType)
        assert {t.name for t in ours.types} <= {t.name for t in theirs.types}
    elif isinstance(ours, GraphQLInputObjectType):
        assert isinstance(theirs, GraphQLInputObjectType)
        assert {n: str(f.type) for n, f in ours.fields.items()} == {
            n: str(f.type) for n, f in theirs.fields.items()
        }
    else:
        assert isinstance(ours, GraphQLObjectType)
        assert isinstance(theirs, GraphQLObjectType)
        fields = DEFINED_FIELDS(name)
        for field in fields:
            mine, shopify = ours.fields[field], theirs.fields[field]
            assert str(mine.type) == str(shopify.type), field
            for arg, value in mine.args.items():
                assert str(value.type) == str(shopify.args[arg].type), (field, arg)


def DEFINED_FIELDS(name: str) -> list[str]:  # noqa: N802
    """The fields ``DISCOUNT_SDL`` gives ``name`` (for Query: its extension)."""
    return [
        f.name.value
        for d in parse(DISCOUNT_SDL).definitions
        if isinstance(d, ObjectTypeDefinitionNode | ObjectTypeExtensionNode)
        and d.name.value == name
        for f in d.fields or ()
    ]


@pytest.mark.parametrize("type_name", sorted(REQUIRED))
def test_each_scope_the_simulator_enforces_is_the_one_shopify_names(
    type_name: str,
) -> None:
    assert REQUIRED[type_name] in required_access(type_name)


@pytest.mark.parametrize("coordinate", sorted(REQUIRED_FIELDS))
def test_each_field_scope_is_the_one_shopify_names(coordinate: tuple[str, str]) -> None:
    type_name, field = coordinate
    scope = REQUIRED_FIELDS[coordinate]
    assert scope in required_access(ROOTS.get(type_name, type_name), field)
