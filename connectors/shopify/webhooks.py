"""Shopify webhook deliveries: signature check, required headers, and the REST
payloads of the topics the customer graph reacts to, as canonical models.

Shopify signs ``base64(HMAC-SHA256(api_secret, raw_body))`` and sends it in
``X-Shopify-Hmac-Sha256``; there is no timestamp in the scheme, so duplicates
are dropped by ``X-Shopify-Webhook-Id``. Payloads are REST-shaped, not GraphQL::

    orders/create, orders/updated, orders/paid, orders/cancelled:
      {"id": 5600000001025, "admin_graphql_api_id": "gid://shopify/Order/…",
       "name": "#2026", "currency": "USD", "total_price": "1978.00",
       "subtotal_price": "1978.00", "financial_status": "partially_refunded",
       "fulfillment_status": null | "fulfilled" | "partial",
       "created_at": "2025-05-20T15:44:16-04:00", "processed_at": …,
       "cancelled_at": null, "tags": "vip, gift",
       "customer": {"id": 7301234560001, "admin_graphql_api_id": …, …},
       "line_items": [{"id", "title", "quantity", "sku", "price": "54.00",
                       "product_id": 8410000000301 | null, "vendor", …}],
       "refunds": [{"id", "created_at", "note", "transactions": [{"amount"}]}]}
    customers/create, customers/update:
      {"id", "admin_graphql_api_id", "email", "first_name", "last_name", "phone",
       "tags": "vip, newsletter", "state": "enabled", "created_at", …}
    customers/delete: {"id": 7301234560001}
    refunds/create: {"id", "order_id": 5600000001025, "created_at", "transactions"}
    customers/data_request, customers/redact:
      {"shop_id", "shop_domain", "customer": {"id": 191167, "email", "phone"},
       "orders_requested" | "orders_to_redact": [299938, …]}
    shop/redact: {"shop_id", "shop_domain"}

Every topic parses into an ``UpstreamChange``; one the graph does not react to
(``topic not in TOPICS``) carries no customer, order or profile. The body is
read by ``connectors.payloads`` (bounded depth, no NUL, numbers within 64 bits)
and every field the graph uses by its declared type: ids are integers (``true``
or ``"123"`` is refused) or ``gid://shopify/<Kind>/…`` strings, money is a
decimal string, quantities are integers. Anything else is an
``UpstreamBadResponse`` naming the field, before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal, overload

from connectors.models import (
    ExternalCustomer,
    LineItem,
    Money,
    Order,
    Refund,
    UpstreamChange,
)
from connectors.payloads import Fields, read_object
from connectors.shapes import check_shape

SOURCE = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
REQUIRED_HEADERS = (
    HMAC_HEADER,
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-API-Version",
    "X-Shopify-Webhook-Id",
)
ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled"}
)
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact"})
TOPICS = (
    ORDER_TOPICS
    | CUSTOMER_TOPICS
    | PRIVACY_TOPICS
    | {"customers/delete", "refunds/create", "shop/redact"}
)


def verify_hmac(raw_body: bytes, header: str | None, secret: str) -> bool:
    """True when ``header`` is the base64 HMAC-SHA256 of the exact raw body."""
    if not header or not secret:
        return False
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), header.strip().encode())


def missing_headers(headers: Mapping[str, str]) -> list[str]:
    """Required ``X-Shopify-*`` headers absent from a delivery (case-insensitive)."""
    present = {name.lower() for name, value in headers.items() if value}
    return [name for name in REQUIRED_HEADERS if name.lower() not in present]


def parse_delivery(raw_body: bytes, headers: Mapping[str, str]) -> UpstreamChange:
    """Read a verified delivery; raises ``UpstreamBadResponse`` when the body
    is not JSON or not the topic's payload."""
    lower = {name.lower(): value for name, value in headers.items()}
    topic = lower.get("x-shopify-topic", "")
    payload = read_object(SOURCE, raw_body)
    fields = Fields(SOURCE, payload, "body")
    order: Order | None = None
    customer: ExternalCustomer | None = None
    customer_id: str | None = None
    if topic in ORDER_TOPICS:
        order = rest_order(fields)
        customer_id = order.customer_id
        embedded = fields.object("customer")
        customer = rest_customer(embedded) if embedded.data else None
    elif topic in CUSTOMER_TOPICS:
        customer = rest_customer(fields)
        customer_id = customer.external_id
    elif topic == "customers/delete":
        customer_id = _gid("Customer", fields)
    elif topic in PRIVACY_TOPICS:
        customer_id = _gid("Customer", fields.object("customer"))
    elif topic == "refunds/create":
        order_id = fields.whole("order_id")
        if order_id is not None:
            payload = {**payload, "order_gid": f"gid://shopify/Order/{order_id}"}
    for model in (order, customer):
        if model is not None:
            check_shape(SOURCE, model)
    return UpstreamChange(
        source=SOURCE,
        topic=topic,
        customer_external_id=customer_id,
        delivery_id=lower.get("x-shopify-webhook-id"),
        event_id=lower.get("x-shopify-event-id"),
        payload=payload,
        order=order,
        customer=customer,
    )


def rest_customer(fields: Fields) -> ExternalCustomer:
    consent = fields.object("email_marketing_consent")
    return ExternalCustomer(
        source=SOURCE,
        external_id=_gid("Customer", fields, required=True),
        email=fields.text("email"),
        phone=fields.text("phone"),
        first_name=fields.text("first_name"),
        last_name=fields.text("last_name"),
        created_at=fields.time("created_at"),
        tags=_tags(fields.text("tags")),
        properties={
            "state": _upper(fields.text("state")),
            "note": fields.text("note"),
            "verified_email": fields.flag("verified_email"),
            "updated_at": fields.text("updated_at"),
            "email_marketing_state": _upper(consent.text("state")),
        },
    )


def rest_order(fields: Fields) -> Order:
    """A REST order; line items carry no category (REST has no product type)."""
    order_id = _gid("Order", fields, required=True)
    currency = fields.text("currency", required=True)
    total = Money(fields.amount("total_price", required=True), currency)
    refunds = tuple(_refund(r, order_id, currency) for r in fields.objects("refunds"))
    refunded = sum((r.total.amount for r in refunds), Decimal(0))
    created = fields.time("created_at", required=True)
    fulfillment = fields.text("fulfillment_status")
    return Order(
        id=order_id,
        customer_id=_gid("Customer", fields.object("customer")),
        name=fields.text("name", required=True),
        created_at=created,
        processed_at=fields.time("processed_at") or created,
        total=total,
        subtotal=Money(fields.amount("subtotal_price") or total.amount, currency),
        total_refunded=Money(refunded, currency),
        financial_status=_upper(fields.text("financial_status")),
        fulfillment_status=_FULFILLMENT.get(fulfillment, str(_upper(fulfillment))),
        cancelled_at=fields.time("cancelled_at"),
        line_items=tuple(
            _line_item(li, currency) for li in fields.objects("line_items")
        ),
        refunds=refunds,
    )


_FULFILLMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED"}


def _line_item(item: Fields, currency: str) -> LineItem:
    price = item.amount("price", required=True)
    quantity = item.whole("quantity", required=True)
    if quantity < 0:
        raise item.error("quantity", "is negative")
    discount = item.amount("total_discount") or Decimal(0)
    product = item.whole("product_id")
    return LineItem(
        id=_gid("LineItem", item) or "",
        title=item.text("title", required=True),
        quantity=quantity,
        unit_price=Money(price, currency),
        total=Money(price * quantity - discount, currency),
        sku=item.text("sku") or None,
        variant_title=item.text("variant_title"),
        product_id=f"gid://shopify/Product/{product}" if product else None,
        vendor=item.text("vendor"),
    )


def _refund(refund: Fields, order_id: str, currency: str) -> Refund:
    amount = sum(
        (t.amount("amount", required=True) for t in refund.objects("transactions")),
        Decimal(0),
    )
    return Refund(
        id=_gid("Refund", refund) or "",
        order_id=order_id,
        created_at=refund.time("created_at", required=True),
        total=Money(amount, currency),
        note=refund.text("note"),
    )


@overload
def _gid(kind: str, fields: Fields, *, required: Literal[True]) -> str: ...
@overload
def _gid(kind: str, fields: Fields, *, required: bool = False) -> str | None: ...
def _gid(kind: str, fields: Fields, *, required: bool = False) -> str | None:
    """The object's gid (``admin_graphql_api_id``), else one made of its
    numeric ``id`` (privacy payloads carry only that)."""
    gid = fields.text("admin_graphql_api_id")
    if gid:
        if not gid.startswith(f"gid://shopify/{kind}/"):
            raise fields.error("admin_graphql_api_id", f"is not a {kind} gid")
        return gid
    number = fields.whole("id", required=required)
    if number is None:
        return None
    if number <= 0:
        raise fields.error("id", "is not a positive id")
    return f"gid://shopify/{kind}/{number}"


def _tags(text: str | None) -> tuple[str, ...]:
    return tuple(tag.strip() for tag in (text or "").split(",") if tag.strip())


def _upper(value: str | None) -> str | None:
    return value.upper() if value else None
