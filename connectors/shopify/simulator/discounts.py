"""Code discounts in the simulated shop: ``discountCodeBasicCreate`` checks its
input (``discount_rules.py``) and either answers every problem as
``userErrors`` with ``codeDiscountNode: null``, or stores the discount and
answers it; stored discounts are read back through ``codeDiscountNodeByCode``
(whatever the case of the code), ``codeDiscountNode(id:)``, ``discountNodes``
and ``node(id:)``. Collections are served here too (``collections(query:)``,
``collection(id:)``). A discount's ``status`` follows the real clock (a code is
created for the real now), not the demo world's.

Scopes (``access.py``): the mutation needs ``write_discounts``, reading
discounts ``read_discounts`` (which ``write_discounts`` implies), collections
``read_products``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLUnionType

from connectors.shopify.simulator.collections import COLLECTION_FILTERS
from connectors.shopify.simulator.data import Record, ShopifyStore, iso_z
from connectors.shopify.simulator.discount_rules import check, moment
from connectors.shopify.simulator.history import gid, money_str
from connectors.shopify.simulator.pages import (
    SortKey,
    by_number,
    connection,
    positional,
)
from connectors.shopify.simulator.search import Getter, SearchQuery

DISCOUNT_ID_BASE = 1_470_000_000_000


def _status(basic: Record) -> str:
    now = datetime.now(UTC)
    if basic["_starts"] > now:
        return "SCHEDULED"
    if basic["_ends"] is not None and basic["_ends"] <= now:
        return "EXPIRED"
    return "ACTIVE"


DISCOUNT_FILTERS: dict[str, Getter] = {
    "id": lambda r: r["_number"],
    "code": lambda r: r["discount"]["codes"][0]["code"],
    "title": lambda r: r["discount"]["title"],
    "status": lambda r: _status(r["discount"]),
    "starts_at": lambda r: r["discount"]["_starts"],
    "ends_at": lambda r: r["discount"]["_ends"],
    "method": lambda r: "code",
    "discount_type": lambda r: r["discount"]["_type"],
    "_text": lambda r: f"{r['discount']['title']} {r['discount']['codes'][0]['code']}",
}
DISCOUNT_SORT: dict[str, SortKey] = {
    "ID": by_number,
    "RELEVANCE": by_number,
    "TITLE": lambda r: r["discount"]["title"],
    "CREATED_AT": lambda r: r["discount"]["createdAt"],
    "UPDATED_AT": lambda r: r["discount"]["updatedAt"],
    "STARTS_AT": lambda r: r["discount"]["startsAt"],
    "ENDS_AT": lambda r: r["discount"]["endsAt"] or "",
}
COLLECTION_SORT: dict[str, SortKey] = {
    "ID": by_number,
    "RELEVANCE": by_number,
    "TITLE": lambda r: r["title"],
    "UPDATED_AT": lambda r: r["updatedAt"],
}


def by_code(store: ShopifyStore, code: str) -> Record | None:
    wanted = code.casefold()
    return next((d for d in store.discounts if d["_code"] == wanted), None)


def create(store: ShopifyStore, given: Record) -> Record:
    """The mutation's payload: the stored discount, or every problem."""

    def exists(typename: str, gid_: str) -> bool:
        record = store.by_gid.get(gid_)
        return record is not None and record["__typename"] == typename

    errors = check(
        given, taken=lambda code: by_code(store, code) is not None, exists=exists
    )
    if errors:
        return {"codeDiscountNode": None, "userErrors": errors}
    number = DISCOUNT_ID_BASE + len(store.discounts) + 1
    basic = _basic(store, given, number)
    node: Record = {
        "__typename": "DiscountCodeNode",
        "id": gid("DiscountCodeNode", number),
        "codeDiscount": basic,
        "_number": number,
        "_code": given["code"].casefold(),
    }
    listed: Record = {
        "__typename": "DiscountNode",
        "id": gid("DiscountNode", number),
        "discount": basic,
        "_number": number,
    }
    store.discounts.append(node)
    store.by_gid[node["id"]] = node
    store.by_gid[listed["id"]] = listed
    return {"codeDiscountNode": node, "userErrors": []}


def _basic(store: ShopifyStore, given: Record, number: int) -> Record:
    now = datetime.now(UTC).replace(microsecond=0)
    starts = moment(given["startsAt"], "startsAt")
    ends = moment(given.get("endsAt"), "endsAt")
    assert starts is not None
    gets = given["customerGets"]
    value, kind = _value(gets["value"])
    items = _items(store, gets["items"])
    combines = given.get("combinesWith") or {}
    once = bool(given.get("appliesOncePerCustomer"))
    return {
        "__typename": "DiscountCodeBasic",
        "title": given["title"],
        "appliesOncePerCustomer": once,
        "asyncUsageCount": 0,
        "codes": [
            {
                "__typename": "DiscountRedeemCode",
                "id": gid("DiscountRedeemCode", number),
                "code": given["code"],
                "asyncUsageCount": 0,
            }
        ],
        "codesCount": {"count": 1, "precision": "EXACT"},
        "combinesWith": {
            key: bool(combines.get(key))
            for key in ("orderDiscounts", "productDiscounts", "shippingDiscounts")
        },
        "createdAt": iso_z(now),
        "updatedAt": iso_z(now),
        "customerGets": {
            "appliesOnOneTimePurchase": gets.get("appliesOnOneTimePurchase")
            is not False,
            "appliesOnSubscription": bool(gets.get("appliesOnSubscription")),
            "items": items,
            "value": value,
        },
        "customerSelection": _selection(store, given["customerSelection"]),
        "startsAt": iso_z(starts),
        "endsAt": iso_z(ends) if ends else None,
        "usageLimit": given.get("usageLimit"),
        "summary": f"{kind} • One use per customer" if once else kind,
        "shortSummary": kind,
        "_starts": starts,
        "_ends": ends,
        "_type": "percentage" if "percentage" in value else "fixed_amount",
    }


def _value(given: Record) -> tuple[Record, str]:
    if given.get("percentage") is not None:
        share = float(given["percentage"])
        text = f"{Decimal(str(share * 100)).normalize():f}% off"
        return {"__typename": "DiscountPercentage", "percentage": share}, text
    amount = given["discountAmount"]
    money = {"amount": money_str(Decimal(str(amount["amount"]))), "currencyCode": "USD"}
    return (
        {
            "__typename": "DiscountAmount",
            "amount": money,
            "appliesOnEachItem": bool(amount.get("appliesOnEachItem")),
        },
        f"${money['amount']} off",
    )


def _items(store: ShopifyStore, given: Record) -> Record:
    if given.get("all"):
        return {"__typename": "AllDiscountItems", "allItems": True}
    if given.get("collections"):
        added = given["collections"].get("add") or []
        return {
            "__typename": "DiscountCollections",
            "collections": [store.by_gid[g] for g in added],
        }
    products = given["products"]
    return {
        "__typename": "DiscountProducts",
        "products": [store.by_gid[g] for g in products.get("productsToAdd") or []],
        "productVariants": [
            store.by_gid[g] for g in products.get("productVariantsToAdd") or []
        ],
    }


def _selection(store: ShopifyStore, given: Record) -> Record:
    if given.get("all"):
        return {"__typename": "DiscountCustomerAll", "allCustomers": True}
    added = given["customers"].get("add") or []
    return {
        "__typename": "DiscountCustomers",
        "customers": [store.by_gid[g] for g in added],
    }


def _typed(store: ShopifyStore, gid_: str, typename: str) -> Record | None:
    if not gid_.startswith("gid://shopify/"):
        raise GraphQLError(f"Invalid global id '{gid_}'")
    record = store.by_gid.get(gid_)
    return record if record and record["__typename"] == typename else None


def _list(
    items: Callable[[ShopifyStore], list[Record]],
    filters: dict[str, Getter],
    sort: dict[str, SortKey],
) -> Callable[..., Record]:
    def resolve(_: None, info: Any, **args: Any) -> Record:
        search = SearchQuery(args.get("query"))
        found = [r for r in items(info.context.store) if search.matches(r, filters)]
        return connection(
            found,
            first=args.get("first"),
            after=args.get("after"),
            key=sort[args["sortKey"]],
            reverse=args["reverse"],
        )

    return resolve


def _nested(key: str) -> Callable[..., Record]:
    def resolve(parent: Record, _: Any, **args: Any) -> Record:
        return positional(parent[key], args.get("first"), args.get("after"))

    return resolve


def _listed(store: ShopifyStore) -> list[Record]:
    return [store.by_gid[gid("DiscountNode", d["_number"])] for d in store.discounts]


def register(schema: GraphQLSchema) -> None:
    """Set the resolvers of the discount and collection fields on ``schema``."""
    fields: dict[tuple[str, str], Callable[..., Any]] = {
        ("Mutation", "discountCodeBasicCreate"): lambda _, info, basicCodeDiscount: (
            create(info.context.store, basicCodeDiscount)
        ),
        ("Query", "codeDiscountNodeByCode"): lambda _, info, code: by_code(
            info.context.store, code
        ),
        ("Query", "codeDiscountNode"): lambda _, info, id: _typed(  # noqa: A006
            info.context.store, id, "DiscountCodeNode"
        ),
        ("Query", "collection"): lambda _, info, id: _typed(  # noqa: A006
            info.context.store, id, "Collection"
        ),
        ("Query", "discountNodes"): _list(_listed, DISCOUNT_FILTERS, DISCOUNT_SORT),
        ("Query", "collections"): _list(
            lambda store: store.collections, COLLECTION_FILTERS, COLLECTION_SORT
        ),
        ("DiscountCodeBasic", "status"): lambda basic, _: _status(basic),
        ("DiscountCodeBasic", "codes"): _nested("codes"),
        ("DiscountCollections", "collections"): _nested("collections"),
        ("DiscountProducts", "products"): _nested("products"),
        ("DiscountProducts", "productVariants"): _nested("productVariants"),
        ("Collection", "products"): _nested("products"),
    }
    for (typename, field), resolver in fields.items():
        kind = schema.get_type(typename)
        assert isinstance(kind, GraphQLObjectType)
        kind.fields[field].resolve = resolver
    for kind in schema.type_map.values():
        if isinstance(kind, GraphQLUnionType):
            kind.resolve_type = lambda value, *_: value["__typename"]
