"""The schema documents itself, on every schema a client can read.

The walk covers every type of the built schemas (the API, with and without
federation, and the embed schema), so a new type, field, enum value or input
field fails here until it has a description, and a new nullable field until
its description says when it is null (the convention in
``gateway.schema.descriptions``). No new test is needed per field or type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    get_nullable_type,
    specified_scalar_types,
)

from gateway.auth.pii import Pii
from gateway.auth.policy import PII_POLICY, may_hide
from gateway.schema import build_schema
from gateway.schema.embed import build_embed_schema

SCHEMAS = {
    "api": build_schema(),
    "plain": build_schema(federation=False),
    "embed": build_embed_schema(),
}

FEDERATION = ("_Service", "_Any", "_Entity", "link__", "federation__", "_FieldSet")
"""Federation's own machinery (``gateway.schema.federation``), documented by
the Apollo Federation spec, not by us."""

NULL_WHEN = re.compile(r"\bnull (when|where)\b", re.IGNORECASE)

NOT_OURS: dict[str, str] = {
    "PageInfo": "Strawberry's Relay PageInfo: its cursors are null on an empty page,"
    " as the Relay connection spec says",
}
"""Types whose descriptions come from a library, each with why they are fine."""


def _types(schema: strawberry.Schema) -> Iterator[GraphQLNamedType]:
    roots = {
        schema._schema.query_type,
        schema._schema.mutation_type,
        schema._schema.subscription_type,
    }
    for name, graphql_type in schema._schema.type_map.items():
        if (
            name.startswith("__")
            or name.startswith(FEDERATION)
            or name in specified_scalar_types
            or graphql_type in roots
        ):
            continue
        yield graphql_type


def _parts(schema: strawberry.Schema) -> Iterator[tuple[str, str | None]]:
    """(what, description) of every type, field, enum value and input field;
    the root types are described by their fields."""
    for graphql_type in _types(schema):
        yield graphql_type.name, graphql_type.description
    roots = [
        schema._schema.query_type,
        schema._schema.mutation_type,
        schema._schema.subscription_type,
    ]
    for graphql_type in [*_types(schema), *filter(None, roots)]:
        if isinstance(graphql_type, GraphQLEnumType):
            for value_name, value in graphql_type.values.items():
                yield f"{graphql_type.name}.{value_name}", value.description
        elif isinstance(
            graphql_type,
            GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType,
        ):
            for field_name, field in graphql_type.fields.items():
                if field_name in ("_service", "_entities"):
                    continue
                yield f"{graphql_type.name}.{field_name}", field.description


def _output_fields(schema: strawberry.Schema) -> Iterator[tuple[str, object]]:
    for graphql_type in _types(schema):
        if graphql_type.name in NOT_OURS:
            continue
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                yield f"{graphql_type.name}.{field_name}", field


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_type_field_enum_value_and_input_field_has_a_description(
    name: str,
) -> None:
    missing = [what for what, text in _parts(SCHEMAS[name]) if not text]
    assert missing == [], f"undocumented in the {name} schema: {missing}"


@pytest.mark.parametrize("name", SCHEMAS)
def test_no_description_only_restates_the_name(name: str) -> None:
    def words(text: str) -> str:
        spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
        return re.sub(r"[^a-z ]", "", spaced.lower()).strip()

    restated = [
        what
        for what, text in _parts(SCHEMAS[name])
        if text and words(text) == words(what.rsplit(".", 1)[-1])
    ]
    assert restated == []


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_nullable_field_says_when_it_is_null(name: str) -> None:
    silent = [
        what
        for what, field in _output_fields(SCHEMAS[name])
        if not isinstance(field.type, GraphQLNonNull)  # type: ignore[attr-defined]
        and not NULL_WHEN.search(field.description or "")  # type: ignore[attr-defined]
    ]
    assert silent == [], f'say "Null when …" / "null where …" on: {silent}'


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_field_a_role_may_hide_names_the_roles(name: str) -> None:
    """A field whose personal data some role gets as null says so, naming
    those roles (a field with a ``redacted`` value is never null)."""
    silent = []
    for what, field in _output_fields(SCHEMAS[name]):
        definition = field.extensions.get("strawberry-definition")  # type: ignore[attr-defined]
        pii = [e for e in getattr(definition, "extensions", ()) if isinstance(e, Pii)]
        if not pii or pii[0].redacted is not None:
            continue
        hidden = [r.value for r in PII_POLICY if may_hide(r, pii[0].kind)]
        text = field.description or ""  # type: ignore[attr-defined]
        if "role may not see it" not in text or not all(r in text for r in hidden):
            silent.append(what)
    assert silent == []


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_list_filter_says_what_an_empty_list_reads(name: str) -> None:
    """``tickets(status:)``, ``activity(kinds:)``, the timeline's ``kinds``
    and ``sources`` on both endpoints, an embed token's ``sources``: a list
    left empty reads all, as one left out does, and the argument says so."""
    schema = SCHEMAS[name]._schema
    filters = [
        (f"{graphql_type.name}.{field_name}({arg_name}:)", arg.description or "")
        for graphql_type in schema.type_map.values()
        if isinstance(graphql_type, GraphQLObjectType)
        for field_name, field in graphql_type.fields.items()
        for arg_name, arg in field.args.items()
        if arg_name in ("status", "kinds", "sources")
        and isinstance(get_nullable_type(arg.type), GraphQLList)
    ]
    assert filters
    silent = [where for where, text in filters if "left out or empty" not in text]
    assert silent == [], f"undocumented empty lists in the {name} schema: {silent}"
