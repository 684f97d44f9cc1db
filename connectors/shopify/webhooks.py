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
(``topic not in TOPICS``) carries no customer, order or profile.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.errors import UpstreamProtocolError
from connectors.models import (
    ExternalCustomer,
    LineItem,
    Money,
    Order,
    Refund,
    UpstreamChange,
)
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
Json = dict[str, Any]


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
    """Read a verified delivery; raises ``UpstreamProtocolError`` on bad JSON."""
    lower = {name.lower(): value for name, value in headers.items()}
    topic = lower.get("x-shopify-topic", "")
    try:
        payload = json.loads(raw_body)
    except ValueError as exc:
        raise UpstreamProtocolError(SOURCE, "webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise UpstreamProtocolError(SOURCE, "webhook body is not an object")
    order: Order | None = None
    customer: ExternalCustomer | None = None
    customer_id: str | None = None
    if topic in ORDER_TOPICS:
        order = rest_order(payload)
        customer_id = order.customer_id
    elif topic in CUSTOMER_TOPICS:
        customer = rest_customer(payload)
        customer_id = customer.external_id
    elif topic == "customers/delete":
        customer_id = _gid("Customer", payload)
    elif topic in PRIVACY_TOPICS:
        customer_id = _gid("Customer", payload.get("customer") or {})
    elif topic == "refunds/create" and payload.get("order_id") is not None:
        payload = {**payload, "order_gid": f"gid://shopify/Order/{payload['order_id']}"}
    if order is not None:
        check_shape(SOURCE, order)
    if customer is not None:
        check_shape(SOURCE, customer)
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


def rest_customer(payload: Json) -> ExternalCustomer:
    consent = payload.get("email_marketing_consent") or {}
    return ExternalCustomer(
        source=SOURCE,
        external_id=_gid("Customer", payload) or "",
        email=payload.get("email"),
        phone=payload.get("phone"),
        first_name=payload.get("first_name"),
        last_name=payload.get("last_name"),
        created_at=_when(payload.get("created_at")),
        tags=_tags(payload.get("tags")),
        properties={
            "state": _upper(payload.get("state")),
            "note": payload.get("note"),
            "verified_email": payload.get("verified_email"),
            "updated_at": payload.get("updated_at"),
            "email_marketing_state": _upper(consent.get("state")),
        },
    )


def rest_order(payload: Json) -> Order:
    """A REST order; line items carry no category (REST has no product type)."""
    order_id = _gid("Order", payload) or ""
    currency = payload["currency"]
    total = Money(Decimal(payload["total_price"]), currency)
    refunds = tuple(_refund(r, order_id, currency) for r in payload.get("refunds", ()))
    refunded = sum((r.total.amount for r in refunds), Decimal(0))
    created = _required_when(payload, "created_at")
    return Order(
        id=order_id,
        customer_id=_gid("Customer", payload.get("customer") or {}),
        name=payload["name"],
        created_at=created,
        processed_at=_when(payload.get("processed_at")) or created,
        total=total,
        subtotal=Money(
            Decimal(payload.get("subtotal_price") or total.amount), currency
        ),
        total_refunded=Money(refunded, currency),
        financial_status=_upper(payload.get("financial_status")),
        fulfillment_status=_FULFILLMENT.get(
            payload.get("fulfillment_status"),
            str(_upper(payload.get("fulfillment_status"))),
        ),
        cancelled_at=_when(payload.get("cancelled_at")),
        line_items=tuple(
            _line_item(li, currency) for li in payload.get("line_items", ())
        ),
        refunds=refunds,
    )


_FULFILLMENT = {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED"}


def _line_item(item: Json, currency: str) -> LineItem:
    price = Decimal(item["price"])
    quantity = int(item["quantity"])
    discount = Decimal(item.get("total_discount") or 0)
    product = item.get("product_id")
    return LineItem(
        id=_gid("LineItem", item) or "",
        title=item["title"],
        quantity=quantity,
        unit_price=Money(price, currency),
        total=Money(price * quantity - discount, currency),
        sku=item.get("sku") or None,
        variant_title=item.get("variant_title"),
        product_id=f"gid://shopify/Product/{product}" if product else None,
        vendor=item.get("vendor"),
    )


def _refund(refund: Json, order_id: str, currency: str) -> Refund:
    amount = sum(
        (Decimal(t["amount"]) for t in refund.get("transactions", ())), Decimal(0)
    )
    created = _required_when(refund, "created_at")
    return Refund(
        id=_gid("Refund", refund) or "",
        order_id=order_id,
        created_at=created,
        total=Money(amount, currency),
        note=refund.get("note"),
    )


def _gid(kind: str, obj: Mapping[str, Any]) -> str | None:
    """The object's gid; privacy payloads carry only the numeric ``id``."""
    if obj.get("admin_graphql_api_id"):
        return str(obj["admin_graphql_api_id"])
    return None if obj.get("id") is None else f"gid://shopify/{kind}/{obj['id']}"


def _required_when(obj: Json, key: str) -> datetime:
    moment = _when(obj.get(key))
    if moment is None:
        raise UpstreamProtocolError(SOURCE, f"webhook field {key} is missing")
    return moment


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _tags(text: str | None) -> tuple[str, ...]:
    return tuple(tag.strip() for tag in (text or "").split(",") if tag.strip())


def _upper(value: str | None) -> str | None:
    return value.upper() if value else None
