"""Shopify Admin GraphQL JSON -> canonical models.

The shapes read here (what ``queries.py`` asks for)::

    Customer {
      id: "gid://shopify/Customer/7301234560001", firstName, lastName,
      createdAt: "2025-03-20T13:14:05Z", updatedAt, tags: ["vip"], note, locale,
      state: "ENABLED", verifiedEmail, numberOfOrders: "7",   # UnsignedInt64 string
      amountSpent: {amount: "1284.5", currencyCode: "USD"},  # unpadded Decimal
      lifetimeDuration: "about 2 years",
      defaultEmailAddress: {emailAddress, marketingState} | null,
      defaultPhoneNumber: {phoneNumber, marketingState} | null,
    }
    Order {
      id, name: "#1001", createdAt, processedAt, cancelledAt | null,
      displayFinancialStatus: "PAID" | … | null, displayFulfillmentStatus,
      customer: {id} | null,
      totalPriceSet / subtotalPriceSet / totalRefundedSet:
          {shopMoney: {amount: "91.5", currencyCode: "EUR"}},
      lineItems: {nodes: [{id, title, quantity, sku: "NW-1" | "" | null,
          variantTitle, product: {id, productType, vendor} | null,  # null: deleted
          originalUnitPriceSet, discountedTotalSet}]},
      refunds: [{id, createdAt | null, note, totalRefundedSet}],  # a plain list
      returns: {nodes: [{id, name, status, createdAt, totalQuantity}]},
    }                  # an order summary: without subtotalPriceSet,
                       # totalRefundedSet, refunds and returns; lineItems only
                       # when asked, without discountedTotalSet or product.id
    Customer { id, numberOfOrders, orders: {nodes: [Order], pageInfo} }  # windows
    AbandonedCheckout {
      id, abandonedCheckoutUrl, createdAt, completedAt | null, customer: {id} | null,
      totalPriceSet, lineItems: {nodes: [{title | null, … discountedTotalPriceSet}]},
    }

Every field the 2025-07 schema declares nullable may be ``null`` here (``| null``
above, and ``subtotalPriceSet``, ``displayFinancialStatus``, ``firstName``,
``lastName``, ``note``, ``sku``, ``variantTitle``). A field absent from the node
was left out of the document for a missing access scope (``scopes.OPTIONAL``):
its canonical fields are marked ``unavailable`` instead of read as empty.

Enum values are passed through as strings, so a value added in a later API
version reaches the gateway instead of failing the read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.answers import reads_answers
from connectors.models import (
    Checkout,
    ExternalCustomer,
    LineItem,
    LineSummary,
    Money,
    Order,
    OrderSummary,
    Refund,
    Return,
)

SOURCE = "shopify"
Json = dict[str, Any]

PRODUCT_FIELDS = frozenset({"product_id", "category", "vendor"})
"""What a line item read without its ``product`` (``read_products``) lacks."""
ORDER_RETURNS = frozenset({"returns"})
"""What an order read without its ``returns`` (``read_returns``) lacks."""


def money(value: Json) -> Money:
    """A ``MoneyV2``, or a ``MoneyBag`` read in the shop's currency."""
    amount = value.get("shopMoney", value)
    return Money(Decimal(amount["amount"]), amount["currencyCode"])


def timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def optional_timestamp(text: str | None) -> datetime | None:
    return None if text is None else timestamp(text)


@reads_answers(SOURCE)
def customer(node: Json) -> ExternalCustomer:
    email = node.get("defaultEmailAddress") or {}
    phone = node.get("defaultPhoneNumber") or {}
    spent = node.get("amountSpent")
    orders = node.get("numberOfOrders")
    return ExternalCustomer(
        source=SOURCE,
        external_id=node["id"],
        email=email.get("emailAddress") or node.get("email"),
        phone=phone.get("phoneNumber") or node.get("phone"),
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        created_at=optional_timestamp(node.get("createdAt")),
        amount_spent=money(spent) if spent else None,
        number_of_orders=int(orders) if orders is not None else None,
        tags=tuple(node.get("tags") or ()),
        properties={
            "state": node.get("state"),
            "locale": node.get("locale"),
            "note": node.get("note"),
            "verified_email": node.get("verifiedEmail"),
            "updated_at": node.get("updatedAt"),
            "lifetime_duration": node.get("lifetimeDuration"),
            "email_marketing_state": email.get("marketingState"),
            "sms_marketing_state": phone.get("marketingState"),
        },
    )


def line_item(node: Json, *, total_key: str = "discountedTotalSet") -> LineItem:
    product = node.get("product")
    return LineItem(
        id=node["id"],
        title=node.get("title"),
        quantity=int(node["quantity"]),
        unit_price=money(node["originalUnitPriceSet"]),
        total=money(node[total_key]),
        sku=node.get("sku") or None,
        variant_title=node.get("variantTitle"),
        product_id=product["id"] if product else None,
        category=(product.get("productType") or None) if product else None,
        vendor=product.get("vendor") if product else None,
        unavailable=frozenset() if "product" in node else PRODUCT_FIELDS,
    )


def line_summary(node: Json) -> LineSummary:
    product = node.get("product")
    return LineSummary(
        id=node["id"],
        title=node.get("title"),
        quantity=int(node["quantity"]),
        unit_price=money(node["originalUnitPriceSet"]),
        sku=node.get("sku") or None,
        variant_title=node.get("variantTitle"),
        category=(product.get("productType") or None) if product else None,
        vendor=product.get("vendor") if product else None,
        unavailable=frozenset() if "product" in node else PRODUCT_FIELDS,
    )


@reads_answers(SOURCE)
def order_summary(node: Json, owner: str | None = None) -> OrderSummary:
    """``owner``: the customer gid, when the order was read under its customer
    (``Customer.orders``) rather than with ``customer { id }``. Its line items'
    summaries when the node has them (``queries.ORDER_LINES_WINDOWS``)."""
    lines = node.get("lineItems")
    return _summary(
        node,
        owner,
        None if lines is None else tuple(line_summary(li) for li in _nodes(lines)),
    )


def _summary(
    node: Json, owner: str | None, line_items: tuple[LineSummary, ...] | None = None
) -> OrderSummary:
    customer = node.get("customer")
    return OrderSummary(
        id=node["id"],
        customer_id=owner or (customer["id"] if customer else None),
        name=node["name"],
        created_at=timestamp(node["createdAt"]),
        processed_at=timestamp(node["processedAt"]),
        total=money(node["totalPriceSet"]),
        financial_status=node.get("displayFinancialStatus"),
        fulfillment_status=node["displayFulfillmentStatus"],
        cancelled_at=optional_timestamp(node.get("cancelledAt")),
        line_items=line_items,
    )


@reads_answers(SOURCE)
def order(node: Json, owner: str | None = None) -> Order:
    summary = _summary(node, owner)
    subtotal = node.get("subtotalPriceSet")
    refunded = node.get("totalRefundedSet")
    return Order(
        id=summary.id,
        customer_id=summary.customer_id,
        name=summary.name,
        created_at=summary.created_at,
        processed_at=summary.processed_at,
        total=summary.total,
        subtotal=money(subtotal) if subtotal else summary.total,
        total_refunded=money(refunded)
        if refunded
        else Money(Decimal(0), summary.total.currency),
        financial_status=summary.financial_status,
        fulfillment_status=summary.fulfillment_status,
        cancelled_at=summary.cancelled_at,
        line_items=tuple(line_item(li) for li in _nodes(node.get("lineItems"))),
        refunds=tuple(refund(r, node["id"]) for r in node.get("refunds") or ()),
        returns=tuple(return_(r, node["id"]) for r in _nodes(node.get("returns"))),
        unavailable=frozenset() if "returns" in node else ORDER_RETURNS,
    )


def refund(node: Json, order_id: str) -> Refund:
    return Refund(
        id=node["id"],
        order_id=order_id,
        created_at=optional_timestamp(node.get("createdAt")),
        total=money(node["totalRefundedSet"]),
        note=node.get("note"),
    )


def return_(node: Json, order_id: str) -> Return:
    return Return(
        id=node["id"],
        order_id=order_id,
        name=node["name"],
        status=node["status"],
        created_at=optional_timestamp(node.get("createdAt")),
        quantity=int(node.get("totalQuantity") or 0),
    )


@reads_answers(SOURCE)
def checkout(node: Json) -> Checkout:
    owner = node.get("customer")
    return Checkout(
        id=node["id"],
        customer_id=owner["id"] if owner else None,
        created_at=timestamp(node["createdAt"]),
        total=money(node["totalPriceSet"]),
        url=node.get("abandonedCheckoutUrl"),
        completed_at=optional_timestamp(node.get("completedAt")),
        line_items=tuple(
            line_item(li, total_key="discountedTotalPriceSet")
            for li in _nodes(node.get("lineItems"))
        ),
    )


def _nodes(connection: Json | None) -> list[Json]:
    """Items of a connection read either as ``nodes`` or as ``edges { node }``."""
    if not connection:
        return []
    if "nodes" in connection:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges", ())]
