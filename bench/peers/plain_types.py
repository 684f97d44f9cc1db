"""The plain peer's leaf types (``bench/peers/plain.py``) and how upstream
JSON becomes them: money, addresses, orders and their line items, Zendesk
tickets, PostHog events."""

from __future__ import annotations

from typing import Any

import strawberry

Json = dict[str, Any]


@strawberry.type
class Money:
    amount: str
    currency_code: str


def money(bag: Json) -> Money:
    shop = bag["shopMoney"]
    return Money(amount=str(shop["amount"]), currency_code=shop["currencyCode"])


@strawberry.type
class Address:
    line1: str | None
    city: str | None
    region: str | None
    postcode: str | None
    country: str | None


@strawberry.type
class LineItem:
    title: str
    quantity: int
    sku: str | None
    unit_price: Money


@strawberry.type
class Order:
    id: str
    name: str
    processed_at: str
    financial_status: str | None
    fulfillment_status: str
    total: Money
    line_items: list[LineItem]


@strawberry.type
class Ticket:
    id: int
    subject: str | None
    status: str
    priority: str | None
    channel: str | None
    tags: list[str]
    created_at: str
    updated_at: str


@strawberry.type
class Event:
    id: str
    kind: str
    name: str
    occurred_at: str
    path: str | None
    session_id: str | None


def order(node: Json) -> Order:
    return Order(
        id=node["id"],
        name=node["name"],
        processed_at=node["processedAt"],
        financial_status=node.get("displayFinancialStatus"),
        fulfillment_status=node["displayFulfillmentStatus"],
        total=money(node["totalPriceSet"]),
        line_items=[
            LineItem(
                title=i["node"]["title"],
                quantity=i["node"]["quantity"],
                sku=i["node"].get("sku"),
                unit_price=money(i["node"]["originalUnitPriceSet"]),
            )
            for i in node["lineItems"]["edges"]
        ],
    )


def ticket(t: Json) -> Ticket:
    return Ticket(
        id=t["id"],
        subject=t.get("subject"),
        status=t["status"],
        priority=t.get("priority"),
        channel=(t.get("via") or {}).get("channel"),
        tags=t.get("tags") or [],
        created_at=t["created_at"],
        updated_at=t["updated_at"],
    )


def event(e: Json) -> Event:
    properties = e.get("properties") or {}
    return Event(
        id=e["id"],
        kind=e["event"],
        name=e["event"],
        occurred_at=e["timestamp"],
        path=properties.get("$pathname"),
        session_id=properties.get("$session_id"),
    )
