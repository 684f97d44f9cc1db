"""Shopify webhook signatures and REST payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.errors import UpstreamBadResponse
from connectors.shopify import webhooks

SECRET = "shpss_test_secret"
BODY = b'{"id":5600000001025,"name":"#2026"}'
SIGNATURE = base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest())


def headers(topic: str) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": SIGNATURE.decode(),
        "X-Shopify-Shop-Domain": "northwind-outfitters.myshopify.com",
        "X-Shopify-API-Version": "2025-07",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "e1",
    }


ORDER = {
    "id": 5600000001025,
    "admin_graphql_api_id": "gid://shopify/Order/5600000001025",
    "name": "#2026",
    "currency": "USD",
    "total_price": "1284.50",
    "subtotal_price": "1284.50",
    "financial_status": "partially_refunded",
    "fulfillment_status": None,
    "created_at": "2025-03-20T09:14:05-04:00",
    "processed_at": "2025-03-20T09:14:05-04:00",
    "cancelled_at": None,
    "tags": "vip, gift",
    "customer": {
        "id": 7301234560001,
        "admin_graphql_api_id": "gid://shopify/Customer/7301234560001",
    },
    "line_items": [
        {
            "id": 1,
            "admin_graphql_api_id": "gid://shopify/LineItem/1",
            "title": "Rain Parka",
            "quantity": 2,
            "sku": "",
            "price": "179.50",
            "product_id": None,
            "vendor": "Fjellrev",
        }
    ],
    "refunds": [
        {
            "id": 9,
            "admin_graphql_api_id": "gid://shopify/Refund/9",
            "created_at": "2025-03-21T10:00:00-04:00",
            "note": None,
            "transactions": [{"amount": "79.00", "kind": "refund"}],
        }
    ],
}


def test_a_signature_over_the_raw_body_with_the_secret_is_accepted() -> None:
    assert webhooks.verify_hmac(BODY, SIGNATURE.decode(), SECRET)


def test_a_signature_with_another_secret_or_body_is_rejected() -> None:
    assert not webhooks.verify_hmac(BODY, SIGNATURE.decode(), "other")
    assert not webhooks.verify_hmac(BODY + b" ", SIGNATURE.decode(), SECRET)
    assert not webhooks.verify_hmac(BODY, None, SECRET)
    assert not webhooks.verify_hmac(BODY, SIGNATURE.hex(), SECRET)


def test_a_delivery_missing_a_required_header_is_reported() -> None:
    sent = headers("orders/create")
    del sent["X-Shopify-Webhook-Id"]
    lower = {k.lower(): v for k, v in sent.items()}
    assert webhooks.missing_headers(lower) == ["X-Shopify-Webhook-Id"]
    assert webhooks.missing_headers(headers("orders/create")) == []


def test_an_order_payload_becomes_a_canonical_order_in_utc() -> None:
    change = webhooks.parse_delivery(
        json.dumps(ORDER).encode(), headers("orders/create")
    )
    order = change.order
    assert order is not None
    assert change.customer_external_id == "gid://shopify/Customer/7301234560001"
    assert change.delivery_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert change.event_id == "e1"
    assert order.processed_at == datetime(2025, 3, 20, 13, 14, 5, tzinfo=UTC)
    assert order.total.amount == Decimal("1284.50")
    assert order.total_refunded.amount == Decimal("79.00")
    assert order.financial_status == "PARTIALLY_REFUNDED"
    assert order.fulfillment_status == "UNFULFILLED"
    assert order.line_items[0].total.amount == Decimal("359.00")
    assert order.line_items[0].sku is None


def test_a_customer_payload_becomes_an_external_customer() -> None:
    payload = {
        "id": 7301234560001,
        "admin_graphql_api_id": "gid://shopify/Customer/7301234560001",
        "email": "maya@example.com",
        "first_name": "Maya",
        "tags": "vip, newsletter",
        "state": "enabled",
        "created_at": "2024-01-01T00:00:00+01:00",
    }
    change = webhooks.parse_delivery(
        json.dumps(payload).encode(), headers("customers/update")
    )
    assert change.customer is not None
    assert change.customer.tags == ("vip", "newsletter")
    assert change.customer.created_at == datetime(2023, 12, 31, 23, tzinfo=UTC)
    assert change.customer_external_id == payload["admin_graphql_api_id"]


@pytest.mark.parametrize("topic", ["customers/redact", "customers/data_request"])
def test_a_privacy_request_names_the_customer_by_gid(topic: str) -> None:
    payload = {"shop_id": 954889, "customer": {"id": 191167, "email": "j@example.com"}}
    change = webhooks.parse_delivery(json.dumps(payload).encode(), headers(topic))
    assert change.customer_external_id == "gid://shopify/Customer/191167"


def test_a_refund_names_its_order_because_the_payload_has_no_customer() -> None:
    payload = {"id": 9, "order_id": 5600000001025, "created_at": "2025-03-21T10:00:00Z"}
    change = webhooks.parse_delivery(
        json.dumps(payload).encode(), headers("refunds/create")
    )
    assert change.customer_external_id is None
    assert change.payload["order_gid"] == "gid://shopify/Order/5600000001025"


def test_an_unknown_topic_parses_into_a_change_with_nothing_to_do() -> None:
    change = webhooks.parse_delivery(b"{}", headers("carts/update"))
    assert change.topic not in webhooks.TOPICS
    assert change.customer_external_id is None
    assert change.order is None
    assert change.customer is None


def test_a_body_that_is_not_json_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamBadResponse):
        webhooks.parse_delivery(b"not json", headers("orders/create"))
