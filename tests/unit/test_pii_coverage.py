"""Every field that may hold personal data declares its kind, on every schema.

The walk covers every object and interface type of the built schemas, so a new
field named like personal data (``email``, ``…Phone``, ``body``, ``title``…)
fails here until it carries a ``Pii`` extension or is listed, with its reason,
in ``NOT_PERSONAL``. No new test is needed per field or type.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
import strawberry
from graphql import (
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
)

from gateway.auth.pii import Pii
from gateway.auth.policy import PII_POLICY, may_hide
from gateway.schema import build_schema
from gateway.schema.embed import build_embed_schema

PERSONAL = re.compile(
    r"email|phone|birth|address|line\d|street|postcode|zip|name|body|note|comment"
    r"|subject|title|summary|reason|url|path|external|properties",
    re.IGNORECASE,
)
"""Field names that suggest personal data (names, contact details, free text).
Checked on fields of scalar values: an object field (``Ticket.comments``) is
covered by its type's own fields."""

NOT_PERSONAL: dict[tuple[str, str], str] = {
    ("Order", "name"): "the order number, e.g. #1001",
    ("Return", "name"): "the return's number",
    ("LineItem", "title"): "a product's title, from the catalogue",
    ("LineItem", "variantTitle"): "a product variant's title, from the catalogue",
    ("Product", "title"): "a product's title, from its latest order line",
    ("SavedSegment", "name"): "a segment's name, chosen by staff",
    ("AudienceConnection", "listName"): "a Klaviyo list's name, chosen by staff",
    ("EmbedToken", "url"): "the embed page, returned to the writer who made it",
    ("WebhookEndpoint", "url"): "an outbound webhook's target, set by an admin"
    " (admin only)",
    ("WebhookEndpoint", "disabledReason"): "`operator` or `gone`, not a person's words",
    ("LoyaltyEntry", "reason"): "returned only to the writer who just wrote it",
    ("Automation", "name"): "an automation's name, chosen by staff",
    ("AutomationRan", "automationName"): "an automation's name, chosen by staff",
    ("AutomationDryRun", "note"): "a fixed sentence about the trigger",
}
"""Fields whose names match ``PERSONAL`` but hold none, each with why."""

ROOTS = {"Query", "Mutation", "Subscription"}

SCHEMAS = {"api": build_schema(), "embed": build_embed_schema()}

FieldRef = tuple[str, str, object]


def _fields(schema: strawberry.Schema) -> Iterator[FieldRef]:
    """(type name, field name, GraphQL field) of every object and interface."""
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in ROOTS:
            continue
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                yield name, field_name, field


def _pii(field: object) -> Pii | None:
    definition = field.extensions.get("strawberry-definition")  # type: ignore[attr-defined]
    found = [e for e in getattr(definition, "extensions", ()) if isinstance(e, Pii)]
    return found[0] if found else None


def _allowed(schema: strawberry.Schema, type_name: str, field_name: str) -> bool:
    graphql_type = schema._schema.type_map[type_name]
    owners = [type_name, *(i.name for i in getattr(graphql_type, "interfaces", ()))]
    return any((owner, field_name) in NOT_PERSONAL for owner in owners)


@pytest.mark.parametrize("schema_name", SCHEMAS)
def test_every_field_named_like_personal_data_declares_its_kind(
    schema_name: str,
) -> None:
    schema = SCHEMAS[schema_name]
    undeclared = [
        f"{type_name}.{field_name}"
        for type_name, field_name, field in _fields(schema)
        if PERSONAL.search(field_name)
        and is_leaf_type(get_named_type(field.type))  # type: ignore[attr-defined]
        and _pii(field) is None
        and not _allowed(schema, type_name, field_name)
    ]
    assert undeclared == []


@pytest.mark.parametrize("schema_name", SCHEMAS)
def test_a_field_some_role_may_not_see_is_nullable_or_has_a_redacted_value(
    schema_name: str,
) -> None:
    """A hidden value is null: a non-null field must say what to show instead."""
    broken = []
    for type_name, field_name, field in _fields(SCHEMAS[schema_name]):
        pii = _pii(field)
        hidden_somewhere = pii is not None and any(
            may_hide(role, pii.kind) for role in PII_POLICY
        )
        non_null = isinstance(field.type, GraphQLNonNull)  # type: ignore[attr-defined]
        if hidden_somewhere and non_null and pii.redacted is None:  # type: ignore[union-attr]
            broken.append(f"{type_name}.{field_name}")
    assert broken == []


@pytest.mark.parametrize("schema_name", SCHEMAS)
def test_every_type_with_personal_data_names_its_customer_for_the_audit(
    schema_name: str,
) -> None:
    """``Pii`` audits a read against ``source.customer_id``: without it a read
    through ``node(id:)``, the timeline or a subscription would go unaudited."""
    schema = SCHEMAS[schema_name]
    missing = set()
    for type_name, _, field in _fields(schema):
        graphql_type = schema._schema.type_map[type_name]
        if _pii(field) is None or isinstance(graphql_type, GraphQLInterfaceType):
            continue
        origin = graphql_type.extensions["strawberry-definition"].origin
        names = {f.name for f in dataclasses.fields(origin)}
        if "customer_id" not in names and not hasattr(origin, "customer_id"):
            missing.add(type_name)
    assert sorted(missing) == []
