"""Access scopes, as Shopify enforces them on the Admin GraphQL API.

Each object type needs a scope (the ``requiredAccess`` of the type in Shopify's
published 2025-07 Admin schema, ``admin_2025-07.json.gz`` in the Shopify/cli
repository, packages/shopify-dev-tools/src/data/): ``Customer`` needs
``read_customers``; ``Order``, ``LineItem``, ``Refund``, ``AbandonedCheckout``
and its lines ``read_orders``; ``Product`` and ``Collection``
``read_products``; ``Return`` ``read_returns``; the discount types
``read_discounts``, which ``write_discounts`` implies; the
``discountCodeBasicCreate`` mutation ``write_discounts``. A field whose items
are of a type the token may not read answers ``null`` with an error naming
the field, and the rest of the document answers (partial data + errors), in
the shape Shopify's responses have since 2020-07
(shopify.dev/changelog/new-error-messages-for-graphql-operations-
without-necessary-access-scopes)::

    {"message": "Access denied for returns field. Required access:
                 `read_returns` access scope.",
     "path": ["nodes", 0, "orders", "nodes", 3, "returns"],
     "extensions": {"code": "ACCESS_DENIED",
                    "documentation": "https://shopify.dev/api/usage/access-scopes",
                    "requiredAccess": "`read_returns` access scope."}}

A non-null field that is denied nulls its parent, as GraphQL's null
propagation does in any server; whether Shopify bubbles a denied non-null field
the same way is not documented [unverified]. Without ``read_all_orders`` the
orders older than 60 days are absent, not denied (``resolvers.SimContext``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    default_field_resolver,
)

DOCUMENTATION = "https://shopify.dev/api/usage/access-scopes"

SCOPES: dict[str, str] = {
    "read_customers": "Read customers",
    "read_orders": "Read orders, transactions and fulfillments",
    "read_all_orders": "Read all orders, not only those of the last 60 days",
    "read_products": "Read products, variants and collections",
    "read_returns": "Read returns",
    "write_discounts": "Modify discounts",
    "write_customer_data_erasure": "Request customer data erasure",
}
"""What the simulated app can be granted, with ``AccessScope.description``."""

REQUIRED: dict[str, str] = {
    "Customer": "read_customers",
    "Order": "read_orders",
    "LineItem": "read_orders",
    "Refund": "read_orders",
    "AbandonedCheckout": "read_orders",
    "AbandonedCheckoutLineItem": "read_orders",
    "Product": "read_products",
    "Return": "read_returns",
    "Collection": "read_products",
    "DiscountCodeNode": "read_discounts",
    "DiscountNode": "read_discounts",
    "DiscountRedeemCode": "read_discounts",
}
"""Object type → the scope its ``requiredAccess`` names first."""

REQUIRED_FIELDS: dict[tuple[str, str], str] = {
    ("Mutation", "discountCodeBasicCreate"): "write_discounts",
    ("Mutation", "customerRequestDataErasure"): "write_customer_data_erasure",
}
"""Fields that need a scope whatever they return (a mutation writes)."""


def implied(granted: frozenset[str]) -> frozenset[str]:
    """``granted`` and the read scope each write scope includes
    (``write_discounts`` reads discounts too, as Shopify's scopes do)."""
    writes = (s.removeprefix("write_") for s in granted if s.startswith("write_"))
    reads = {f"read_{resource}" for resource in writes}
    return granted | reads


def access_denied(field: str, scope: str) -> GraphQLError:
    required = f"`{scope}` access scope."
    return GraphQLError(
        f"Access denied for {field} field. Required access: {required}",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": DOCUMENTATION,
            "requiredAccess": required,
        },
    )


def _item_type(kind: GraphQLType) -> GraphQLNamedType:
    """The type of what a field lists: ``[Refund!]!`` → Refund,
    ``OrderConnection!`` → Order."""
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    assert isinstance(kind, GraphQLNamedType)
    if isinstance(kind, GraphQLObjectType) and kind.name.endswith("Connection"):
        return _item_type(kind.fields["nodes"].type)
    return kind


def _guarded(name: str, scope: str, resolve: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(parent: Any, info: Any, **args: Any) -> Any:
        if scope not in info.context.scopes:
            raise access_denied(name, scope)
        return resolve(parent, info, **args)

    return guarded


def guard_fields(schema: GraphQLSchema) -> None:
    """Make every field whose items need a scope check it first."""
    for kind in schema.type_map.values():
        if not isinstance(kind, GraphQLObjectType) or kind.name.startswith("__"):
            continue
        for name, field in kind.fields.items():
            scope = REQUIRED_FIELDS.get((kind.name, name)) or REQUIRED.get(
                _item_type(field.type).name
            )
            if scope is not None:
                _guard(field, name, scope)


def _guard(field: GraphQLField, name: str, scope: str) -> None:
    field.resolve = _guarded(name, scope, field.resolve or default_field_resolver)


def readable(record: Any, scopes: frozenset[str], field: str) -> Any:
    """A record a ``Node`` field returns, or the error that replaces it when
    the token may not read its type (``nodes(ids:)`` answers per id)."""
    if record is None:
        return None
    scope = REQUIRED.get(record["__typename"])
    if scope is not None and scope not in scopes:
        return access_denied(field, scope)
    return record
