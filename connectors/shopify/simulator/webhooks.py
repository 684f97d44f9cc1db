"""Webhook deliveries as Shopify sends them: REST-shaped JSON (snake_case,
numeric ``id`` plus ``admin_graphql_api_id``, two-decimal money strings,
shop-local offset timestamps, comma-separated ``tags``), signed with the app's
API secret over the raw body, and the ``X-Shopify-*`` headers the official
library requires.

The payloads are built from the simulator's own records, so a webhook and a
later GraphQL read of the same order agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from connectors.shopify.simulator.data import Record, iso_z
from connectors.simulator_server import sender_tls

JsonObject = dict[str, Any]


def sign(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 over the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_headers(
    body: bytes,
    topic: str,
    *,
    secret: str,
    shop_domain: str,
    api_version: str,
    webhook_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, str]:
    """Headers of one delivery; pass the same ``event_id`` with a new
    ``webhook_id`` to imitate Shopify's retry of one event."""
    now = datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": now.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{now.microsecond:06d}000Z",
    }


async def deliver(
    target: httpx.AsyncClient | str,
    body: bytes,
    headers: dict[str, str],
    *,
    path: str = "/webhooks/shopify",
) -> httpx.Response:
    """POST a delivery to a URL, or to ``path`` on a client's base URL."""
    if isinstance(target, httpx.AsyncClient):
        return await target.post(path, content=body, headers=headers)
    async with httpx.AsyncClient(verify=sender_tls()) as client:
        return await client.post(target, content=body, headers=headers)


class RestPayloads:
    """REST representations of simulator records, in the shop's time zone."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def when(self, text: str | None) -> str | None:
        if text is None:
            return None
        moment = datetime.fromisoformat(text).astimezone(self.zone)
        return moment.isoformat(timespec="seconds")

    def customer(self, c: Record) -> JsonObject:
        email = c["defaultEmailAddress"]
        phone = c["defaultPhoneNumber"]
        return {
            "id": c["_number"],
            "admin_graphql_api_id": c["id"],
            "email": c["email"],
            "first_name": c["firstName"],
            "last_name": c["lastName"],
            "phone": c["phone"],
            "state": c["state"].lower(),
            "note": c["note"],
            "verified_email": c["verifiedEmail"],
            "tags": ", ".join(c["tags"]),
            "currency": c["amountSpent"]["currencyCode"],
            "created_at": self.when(c["createdAt"]),
            "updated_at": self.when(c["updatedAt"]),
            "email_marketing_consent": {
                "state": email["marketingState"].lower(),
                "opt_in_level": "single_opt_in",
                "consent_updated_at": None,
            },
            "sms_marketing_consent": None
            if phone is None
            else {
                "state": phone["marketingState"].lower(),
                "opt_in_level": "single_opt_in",
                "consent_updated_at": None,
                "consent_collected_from": "OTHER",
            },
        }

    def order(self, o: Record) -> JsonObject:
        currency = o["currencyCode"]
        return {
            "id": o["_number"],
            "admin_graphql_api_id": o["id"],
            "name": o["name"],
            "order_number": int(o["name"].lstrip("#")),
            "email": o["email"],
            "currency": currency,
            "created_at": self.when(o["createdAt"]),
            "processed_at": self.when(o["processedAt"]),
            "updated_at": self.when(o["updatedAt"]),
            "cancelled_at": self.when(o["cancelledAt"]),
            "cancel_reason": (o["cancelReason"] or "").lower() or None,
            "closed_at": self.when(o["closedAt"]),
            "financial_status": (o["displayFinancialStatus"] or "").lower() or None,
            "fulfillment_status": "fulfilled"
            if o["displayFulfillmentStatus"] == "FULFILLED"
            else None,
            "total_price": _rest_money(o["totalPriceSet"]),
            "subtotal_price": _rest_money(o["subtotalPriceSet"]),
            "current_total_price": _rest_money(o["currentTotalPriceSet"]),
            "tags": ", ".join(o["tags"]),
            "note": o["note"],
            "customer": self.customer(o["customer"]),
            "line_items": [self.line_item(li) for li in o["lineItems"]],
            "refunds": [self.refund(o, r) for r in o["refunds"]],
        }

    def line_item(self, li: Record) -> JsonObject:
        product, variant = li["product"], li["variant"]
        return {
            "id": int(li["id"].rsplit("/", 1)[1]),
            "admin_graphql_api_id": li["id"],
            "title": li["title"],
            "name": li["name"],
            "quantity": li["quantity"],
            "sku": li["sku"],
            "variant_title": li["variantTitle"],
            "vendor": product["vendor"] if product else None,
            "product_id": int(product["id"].rsplit("/", 1)[1]) if product else None,
            "variant_id": int(variant["id"].rsplit("/", 1)[1]) if variant else None,
            "product_exists": product is not None,
            "price": _rest_money(li["originalUnitPriceSet"]),
            "price_set": _rest_bag(li["originalUnitPriceSet"]),
        }

    def refund(self, o: Record, r: Record) -> JsonObject:
        money = r["totalRefundedSet"]["shopMoney"]
        return {
            "id": int(r["id"].rsplit("/", 1)[1]),
            "admin_graphql_api_id": r["id"],
            "order_id": o["_number"],
            "created_at": self.when(iso_z(r["_created"])),
            "processed_at": self.when(iso_z(r["_created"])),
            "note": r["note"],
            "refund_line_items": [],
            "transactions": [
                {
                    "kind": "refund",
                    "status": "success",
                    "amount": _rest_money(r["totalRefundedSet"]),
                    "currency": money["currencyCode"],
                }
            ],
        }


def _rest_money(bag: Record | None) -> str | None:
    if bag is None:
        return None
    return f"{Decimal(bag['shopMoney']['amount']):.2f}"


def _rest_bag(bag: Record) -> JsonObject:
    return {
        name: {
            "amount": f"{Decimal(bag[key]['amount']):.2f}",
            "currency_code": bag[key]["currencyCode"],
        }
        for name, key in (
            ("shop_money", "shopMoney"),
            ("presentment_money", "presentmentMoney"),
        )
    }


def encode(payload: JsonObject) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
