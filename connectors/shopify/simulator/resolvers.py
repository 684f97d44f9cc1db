"""Resolvers that serve ``ShopifyStore`` records through the simulator schema,
with Shopify's connection rules (``pages.py``), the 60-day order window when
the app lacks ``read_all_orders``, and access scopes checked per field
(``access.py``). Discounts and collections have theirs in ``discounts.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from graphql import GraphQLError, GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema
from graphql import build_schema as build_sdl

from connectors.shopify.simulator import discounts, erasure
from connectors.shopify.simulator.access import SCOPES, guard_fields, readable
from connectors.shopify.simulator.data import Record, ShopifyStore, iso_z
from connectors.shopify.simulator.discount_schema import DISCOUNT_SDL
from connectors.shopify.simulator.erasure import ERASURE_SDL
from connectors.shopify.simulator.pages import (
    MAX_PAGE,
    SortKey,
    by_number,
    connection,
    positional,
)
from connectors.shopify.simulator.schema import SDL
from connectors.shopify.simulator.search import Getter, SearchQuery

ORDER_WINDOW = timedelta(days=60)


@dataclass(frozen=True, slots=True)
class SimContext:
    store: ShopifyStore
    granted: frozenset[str]
    """What the request's access token was granted."""
    now: datetime
    scopes: frozenset[str] = frozenset()
    """What the token may do: ``granted`` and the read scopes its write scopes
    include (``access.implied``)."""

    def visible(self, record: Record | None) -> Record | None:
        """Orders older than 60 days do not exist for an app without
        ``read_all_orders``; Shopify hides them silently."""
        if (
            record is None
            or "read_all_orders" in self.scopes
            or record["__typename"] != "Order"
        ):
            return record
        return record if self.now - record["_processed"] <= ORDER_WINDOW else None


def _at(key: str) -> SortKey:
    return lambda r: iso_z(r[key])


ORDER_SORT: dict[str, SortKey] = {
    "ID": by_number,
    "PROCESSED_AT": _at("_processed"),
    "CREATED_AT": _at("_processed"),
    "UPDATED_AT": _at("_updated"),
}
CUSTOMER_SORT: dict[str, SortKey] = {
    "ID": by_number,
    "CREATED_AT": _at("_created"),
    "UPDATED_AT": _at("_updated"),
}
CHECKOUT_SORT: dict[str, SortKey] = {"ID": by_number, "CREATED_AT": _at("_created")}

ORDER_FILTERS: dict[str, Getter] = {
    "customer_id": lambda r: r["_customer"],
    "email": lambda r: r["email"],
    "name": lambda r: r["name"],
    "financial_status": lambda r: r["displayFinancialStatus"],
    "fulfillment_status": lambda r: r["displayFulfillmentStatus"],
    "processed_at": lambda r: r["_processed"],
    "created_at": lambda r: r["_processed"],
    "updated_at": lambda r: r["_updated"],
    "_text": lambda r: f"{r['name']} {r['email']}",
}
CUSTOMER_FILTERS: dict[str, Getter] = {
    "id": lambda r: r["_number"],
    "email": lambda r: r["email"],
    "phone": lambda r: r["phone"],
    "first_name": lambda r: r["firstName"],
    "last_name": lambda r: r["lastName"],
    "created_at": lambda r: r["_created"],
    "updated_at": lambda r: r["_updated"],
    "_text": lambda r: f"{r['displayName']} {r['email']}",
}
CHECKOUT_FILTERS: dict[str, Getter] = {
    "id": lambda r: r["_number"],
    "created_at": lambda r: r["_created"],
    "updated_at": lambda r: r["_updated"],
    "status": lambda r: r["_status"],
    "recovery_state": lambda r: "recovered" if r["completedAt"] else "not_recovered",
}


def _lookup(ctx: SimContext, gid: str) -> Record | None:
    if not gid.startswith("gid://shopify/"):
        raise GraphQLError(f"Invalid global id '{gid}'")
    return ctx.visible(ctx.store.by_gid.get(gid))


def _filtered(
    items: Sequence[Record], query: str | None, filters: dict[str, Getter]
) -> list[Record]:
    search = SearchQuery(query)
    return [r for r in items if search.matches(r, filters)]


def resolve_nodes(_: None, info: Any, ids: list[str]) -> list[Any]:
    """Each id's record, ``None``, or the access error that takes its place."""
    if len(ids) > MAX_PAGE:
        raise GraphQLError(
            f"The input array size of {len(ids)} is greater than the maximum "
            f"allowed of {MAX_PAGE}."
        )
    ctx: SimContext = info.context
    return [readable(_lookup(ctx, gid), ctx.scopes, "nodes") for gid in ids]


def resolve_node(_: None, info: Any, id: str) -> Any:  # noqa: A002
    ctx: SimContext = info.context
    return readable(_lookup(ctx, id), ctx.scopes, "node")


def resolve_installation(_: None, info: Any) -> Record:
    """``currentAppInstallation``: the scopes the token was granted."""
    scopes = sorted(info.context.granted)
    return {
        "id": "gid://shopify/AppInstallation/1",
        "accessScopes": [
            {"handle": scope, "description": SCOPES.get(scope, scope)}
            for scope in scopes
        ],
    }


def resolve_typed(typename: str) -> Callable[..., Record | None]:
    def resolve(_: None, info: Any, id: str) -> Record | None:  # noqa: A002
        record = _lookup(info.context, id)
        return record if record and record["__typename"] == typename else None

    return resolve


def resolve_customers(_: None, info: Any, **args: Any) -> Record:
    ctx: SimContext = info.context
    items = _filtered(
        list(ctx.store.customers.values()), args.get("query"), CUSTOMER_FILTERS
    )
    return connection(
        items,
        first=args.get("first"),
        after=args.get("after"),
        key=CUSTOMER_SORT[args["sortKey"]],
        reverse=args["reverse"],
    )


def _orders(ctx: SimContext, items: Sequence[Record], args: dict[str, Any]) -> Record:
    visible = [o for o in items if ctx.visible(o) is not None]
    return connection(
        _filtered(visible, args.get("query"), ORDER_FILTERS),
        first=args.get("first"),
        after=args.get("after"),
        key=ORDER_SORT[args["sortKey"]],
        reverse=args["reverse"],
    )


def resolve_orders(_: None, info: Any, **args: Any) -> Record:
    store: ShopifyStore = info.context.store
    numbers = SearchQuery(args.get("query")).equals("customer_id")
    if numbers is None:
        return _orders(info.context, store.orders, args)
    owners = {int(n) for n in numbers if n.isdigit()}
    items = [o for n in owners for o in store.orders_by_customer.get(n, ())]
    return _orders(info.context, items, {**args, "query": None})


def resolve_customer_orders(customer: Record, info: Any, **args: Any) -> Record:
    items = info.context.store.orders_by_customer[customer["_number"]]
    return _orders(info.context, items, args)


def resolve_checkouts(_: None, info: Any, **args: Any) -> Record:
    ctx: SimContext = info.context
    return connection(
        _filtered(ctx.store.checkouts, args.get("query"), CHECKOUT_FILTERS),
        first=args.get("first"),
        after=args.get("after"),
        key=CHECKOUT_SORT[args["sortKey"]],
        reverse=args["reverse"],
    )


def _nested(key: str) -> Callable[..., Record]:
    def resolve(parent: Record, _: Any, **args: Any) -> Record:
        return positional(parent[key], args.get("first"), args.get("after"))

    return resolve


def _refunds(order: Record, _: Any, first: int | None = None) -> list[Record]:
    refunds: list[Record] = order["refunds"]
    return refunds if first is None else refunds[:first]


@cache
def build_schema() -> GraphQLSchema:
    """The simulated Admin API's schema with its resolvers: built once per
    process (~0.1 s; every simulator of the tests would build it again), as
    it holds nothing of one simulator's (its data is the ``SimContext``)."""
    schema = build_sdl(SDL + DISCOUNT_SDL + ERASURE_SDL)
    root = schema.query_type
    assert root is not None
    resolvers: dict[tuple[GraphQLObjectType, str], Callable[..., Any]] = {
        (root, "nodes"): resolve_nodes,
        (root, "node"): resolve_node,
        (root, "customer"): resolve_typed("Customer"),
        (root, "order"): resolve_typed("Order"),
        (root, "customers"): resolve_customers,
        (root, "orders"): resolve_orders,
        (root, "abandonedCheckouts"): resolve_checkouts,
        (root, "currentAppInstallation"): resolve_installation,
    }
    for typename, field, resolver in (
        ("Customer", "orders", resolve_customer_orders),
        ("Order", "lineItems", _nested("lineItems")),
        ("Order", "returns", _nested("returns")),
        ("Order", "refunds", _refunds),
        ("Return", "returnLineItems", _nested("returnLineItems")),
        ("AbandonedCheckout", "lineItems", _nested("lineItems")),
    ):
        object_type = schema.get_type(typename)
        assert isinstance(object_type, GraphQLObjectType)
        resolvers[(object_type, field)] = resolver
    for (object_type, field), resolver in resolvers.items():
        object_type.fields[field].resolve = resolver
    node = schema.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    node.resolve_type = lambda value, *_: value["__typename"]
    discounts.register(schema)
    erasure.register(schema)
    guard_fields(schema)
    return schema
