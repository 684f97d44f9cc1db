"""Validly signed deliveries carrying what an outside attack run sent (issue 13):
NUL and lone surrogates in ids and text, numbers past 64 bits, past a money or
integer column or at 1e308, JSON nested 100,000 deep, ``detail`` null or not an
object, missing keys, booleans for ids, numbers as strings, bodies that are not
objects. Each was a 500 with a traceback; each is now a 400 with a short JSON
error, and nothing of it is stored (order facts included), on SQLite and
PostgreSQL. A well-formed control row proves each table reaches the writes."""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from connectors.demo_world import CATALOG, World
from connectors.shopify.simulator.webhooks import webhook_headers
from connectors.zendesk.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from gateway.app import create_app
from gateway.db import models
from gateway.demo.simulation import SHOPIFY_SECRET, ZENDESK_WEBHOOK_SECRET, Simulators
from gateway.insights.refresh import refresh_all
from gateway.insights.tables import (
    CustomerRfm,
    CustomerTraits,
    OrderFact,
    OrderLineFact,
)
from gateway.runtime.services import Services
from tests.conftest import ADMIN
from tests.integration.gateway.simulated import count
from tests.security.hostile_json import Deep, encode

WORLD = World(seed=9, size=6)
Edit = Callable[[Any], Any]
TABLES = (
    models.WebhookDelivery,
    models.Identity,
    models.PrivacyRequest,
    models.Customer,
    OrderFact,
    OrderLineFact,
)


def put(*path: str | int, value: Any) -> Edit:
    """The payload with the value at ``path`` replaced."""

    def edit(payload: Any) -> Any:
        changed = copy.deepcopy(payload)
        target = changed
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        return changed

    return edit


def drop(*path: str | int) -> Edit:
    def edit(payload: Any) -> Any:
        changed = copy.deepcopy(payload)
        target = changed
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]
        return changed

    return edit


def unchanged(payload: Any) -> Any:
    return payload


SHOPIFY: list[tuple[str, str, Edit]] = [
    (
        "orders/create",
        "a NUL in the order gid",
        put("admin_graphql_api_id", value="gid://shopify/Order/1\x00"),
    ),
    (
        "orders/create",
        "a lone surrogate in the customer gid",
        put("customer", "admin_graphql_api_id", value="gid://shopify/Customer/\ud800"),
    ),
    (
        "orders/create",
        "a NUL in a line item's title",
        put("line_items", 0, "title", value="Parka\x00"),
    ),
    (
        "orders/create",
        "a total of 2**63 as a string",
        put("total_price", value=str(2**63)),
    ),
    ("orders/create", "a total of 2**63 as a number", put("total_price", value=2**63)),
    ("orders/create", "a total of 1e308 as a number", put("total_price", value=1e308)),
    (
        "orders/create",
        "a total of 1e308 as a string",
        put("total_price", value="1e308"),
    ),
    (
        "orders/create",
        "a total past NUMERIC(14, 2)",
        put("total_price", value="1000000000000.00"),
    ),
    (
        "orders/create",
        "a price of 1e999999999",
        put("line_items", 0, "price", value="1e999999999"),
    ),
    ("orders/create", "a price of NaN", put("line_items", 0, "price", value="NaN")),
    (
        "orders/create",
        "a quantity of 2**63",
        put("line_items", 0, "quantity", value=2**63),
    ),
    (
        "orders/create",
        "a quantity past INTEGER",
        put("line_items", 0, "quantity", value=2**31),
    ),
    (
        "orders/create",
        "a quantity of 1e308",
        put("line_items", 0, "quantity", value=1e308),
    ),
    (
        "orders/create",
        "a quantity as a string",
        put("line_items", 0, "quantity", value="2"),
    ),
    (
        "orders/create",
        "a boolean customer id",
        put("customer", value={"id": True, "email": "x@example.com"}),
    ),
    (
        "orders/create",
        "a customer id past 2**64",
        put("customer", value={"id": 2**64 + 1}),
    ),
    ("orders/create", "a customer that is a list", put("customer", value=[1])),
    (
        "orders/create",
        "line items that are an object",
        put("line_items", value={"id": 1}),
    ),
    (
        "orders/create",
        "a line item that is a string",
        put("line_items", value=["Parka"]),
    ),
    (
        "orders/create",
        "created in year 1",
        put("created_at", value="0001-01-01T00:00:00+00:00"),
    ),
    (
        "orders/create",
        "processed in year 9999",
        put("processed_at", value="9999-12-31T23:59:59+00:00"),
    ),
    (
        "orders/create",
        "cancelled in 1969",
        put("cancelled_at", value="1969-12-31T23:59:59Z"),
    ),
    ("orders/create", "no currency", drop("currency")),
    (
        "orders/create",
        "no order id",
        lambda p: {
            k: v for k, v in p.items() if k not in ("id", "admin_graphql_api_id")
        },
    ),
    ("orders/create", "a line item without a price", drop("line_items", 0, "price")),
    (
        "orders/create",
        "an attribute nested 100,000 deep",
        put("note_attributes", value=Deep(100_000)),
    ),
    (
        "orders/create",
        "an attribute nested 100,000 deep in objects",
        put("note_attributes", value=Deep(100_000, objects=True)),
    ),
    (
        "orders/create",
        "a line item property nested 40 deep",
        put("line_items", 0, "properties", value=Deep(40)),
    ),
    ("orders/create", "an array body", lambda p: [p]),
    ("orders/create", "a string body", lambda p: "order"),
    ("orders/create", "a number body", lambda p: 2**64),
    (
        "customers/create",
        "a lone surrogate in the first name",
        put("first_name", value="Ma\udc00ya"),
    ),
    (
        "customers/create",
        "a NUL in the email",
        put("email", value="maya\x00@example.com"),
    ),
    ("customers/create", "a numeric tags field", put("tags", value=7)),
    (
        "customers/create",
        "a string id and no gid",
        lambda p: {**p, "admin_graphql_api_id": None, "id": "7301"},
    ),
    (
        "customers/redact",
        "a customer id past 2**64",
        put("customer", "id", value=2**64),
    ),
    (
        "customers/redact",
        "a customer that is a string",
        put("customer", value="191167"),
    ),
    ("customers/redact", "a boolean customer id", put("customer", "id", value=False)),
    ("refunds/create", "a boolean order id", put("order_id", value=True)),
    (
        "refunds/create",
        "an order id as a string",
        put("order_id", value="5600000001025"),
    ),
]


@pytest.fixture
async def gateway(wired: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=wired))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gw", headers=ADMIN
    ) as http:
        yield http


async def stored(wired: Services) -> list[int]:
    return [await count(wired, table) for table in TABLES]


def shopify_payload(simulators: Simulators, topic: str) -> dict[str, Any]:
    shopify = simulators.shopify
    if topic == "orders/create":
        return shopify.order_payload(shopify.add_order(1, [(CATALOG[0], 2)]))
    if topic == "customers/create":
        return shopify.customer_payload(2)
    if topic == "customers/redact":
        return {"shop_id": 954889, "customer": {"id": 191167}}
    return {"id": 9, "order_id": 5600000001025, "created_at": "2025-03-21T10:00:00Z"}


async def post_shopify(
    gateway: httpx.AsyncClient, topic: str, body: Any, **extra: str
) -> httpx.Response:
    raw = encode(body)
    headers = webhook_headers(
        raw,
        topic,
        secret=SHOPIFY_SECRET,
        shop_domain="northwind-outfitters.myshopify.com",
        api_version="2025-07",
    )
    headers.update(extra)
    return await gateway.post("/webhooks/shopify", content=raw, headers=headers)


async def assert_refused(
    response: httpx.Response, wired: Services, before: list[int]
) -> None:
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error", "code"}
    assert len(response.text) < 300, response.text
    assert "Traceback" not in response.text
    assert await stored(wired) == before


@pytest.mark.parametrize(
    ("topic", "edit"),
    [case[::2] for case in SHOPIFY],
    ids=[f"{case[0]}: {case[1]}" for case in SHOPIFY],
)
async def test_a_signed_shopify_delivery_of_a_hostile_value_is_400_and_stores_nothing(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    topic: str,
    edit: Edit,
) -> None:
    body = edit(shopify_payload(simulators, topic))
    before = await stored(wired)
    with caplog.at_level(logging.INFO):
        response = await post_shopify(gateway, topic, body)
    await assert_refused(response, wired, before)
    assert "Traceback" not in caplog.text


async def test_the_shopify_control_order_reaches_the_order_facts(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    response = await post_shopify(
        gateway, "orders/create", shopify_payload(simulators, "orders/create")
    )
    assert response.json() == {"status": "processed"}
    assert await count(wired, OrderFact) == 1


@pytest.mark.parametrize("webhook_id", ["w\x00", "w" * 300])
async def test_a_shopify_webhook_id_the_claims_cannot_hold_is_400(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    webhook_id: str,
) -> None:
    body = shopify_payload(simulators, "orders/create")
    before = await stored(wired)
    response = await post_shopify(
        gateway, "orders/create", body, **{"X-Shopify-Webhook-Id": webhook_id}
    )
    await assert_refused(response, wired, before)


def zendesk_envelope(simulators: Simulators) -> dict[str, Any]:
    ticket_id = next(iter(simulators.zendesk.desk.tickets))
    detail = simulators.zendesk.ticket_event_detail(ticket_id)
    return {
        "type": "zen:event-type:ticket.created",
        "account_id": 1234,
        "id": "7d9c0b7e-2f6b-4b8e-9f5e-1f0c8a9d2e11",
        "time": "2025-01-08T10:12:07.672717030Z",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": detail,
        "event": {},
    }


ZENDESK: list[tuple[str, Edit]] = [
    ("detail null", put("detail", value=None)),
    ("detail missing", drop("detail")),
    ("detail a list", put("detail", value=[1])),
    ("detail a string", put("detail", value="10042")),
    ("detail a number", put("detail", value=7)),
    ("a ticket without an id", drop("detail", "id")),
    (
        "a user event without an id",
        lambda e: {**e, "type": "zen:event-type:user.created", "detail": {}},
    ),
    ("a NUL in the requester id", put("detail", "requester_id", value="3001\x00")),
    (
        "a lone surrogate in the requester id",
        put("detail", "requester_id", value="\ud800"),
    ),
    ("a boolean requester id", put("detail", "requester_id", value=True)),
    ("a requester id past 2**64", put("detail", "requester_id", value=2**64)),
    ("a requester id of 20 digits", put("detail", "requester_id", value="1" * 20)),
    ("a requester id that is not a number", put("detail", "requester_id", value="abc")),
    ("a requester id of 1e308", put("detail", "requester_id", value=1e308)),
    ("a NUL in the event id", put("id", value="e\x00")),
    ("a lone surrogate in the event id", put("id", value="e\udfff")),
    ("a boolean event id", put("id", value=True)),
    ("no event id", drop("id")),
    ("an event id of 300 characters", put("id", value="e" * 300)),
    (
        "a type of 200 characters",
        put("type", value="zen:event-type:ticket." + "x" * 200),
    ),
    ("an event nested 100,000 deep", put("event", value=Deep(100_000))),
    ("an event that is a list", put("event", value=[])),
    ("an array body", lambda e: [e]),
    ("a string body", lambda e: "zen:event-type:ticket.created"),
    ("a number body", lambda e: 1e308),
]


async def post_zendesk(gateway: httpx.AsyncClient, body: Any) -> httpx.Response:
    raw = encode(body)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(raw, stamp, ZENDESK_WEBHOOK_SECRET),
    }
    return await gateway.post("/webhooks/zendesk", content=raw, headers=headers)


@pytest.mark.parametrize(
    "edit", [case[1] for case in ZENDESK], ids=[case[0] for case in ZENDESK]
)
async def test_a_signed_zendesk_delivery_of_a_hostile_value_is_400_and_stores_nothing(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    edit: Edit,
) -> None:
    before = await stored(wired)
    with caplog.at_level(logging.INFO):
        response = await post_zendesk(gateway, edit(zendesk_envelope(simulators)))
    await assert_refused(response, wired, before)
    assert "Traceback" not in caplog.text


async def test_the_zendesk_control_envelope_is_processed(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    response = await post_zendesk(gateway, zendesk_envelope(simulators))
    assert response.json() == {"status": "processed"}
    assert await count(wired, models.WebhookDelivery) == 1


@pytest.mark.parametrize("source", ["shopify", "zendesk"])
async def test_a_signed_two_megabyte_delivery_is_413_and_stores_nothing(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient, source: str
) -> None:
    before = await stored(wired)
    if source == "shopify":
        body = {**shopify_payload(simulators, "customers/create"), "note": "x" * 2**21}
        response = await post_shopify(gateway, "customers/create", body)
    else:
        envelope = zendesk_envelope(simulators)
        body = put("detail", "description", value="x" * 2**21)(envelope)
        response = await post_zendesk(gateway, body)
    assert response.status_code == 413
    assert set(response.json()) == {"error", "code"}
    assert await stored(wired) == before


async def test_orders_whose_sum_passes_the_money_columns_keep_the_traits_at_its_top(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    """Each order fits ``NUMERIC(14, 2)``, their sum does not: the second was a
    500 on PostgreSQL (the customer's lifetime value overflowed)."""
    for _ in range(2):
        body = shopify_payload(simulators, "orders/create")
        body = put("total_price", value="999999999999.00")(body)
        response = await post_shopify(gateway, "orders/create", body)
        assert response.json() == {"status": "processed"}
    async with wired.sessions() as session:
        (traits,) = (await session.scalars(select(CustomerTraits))).all()
    assert traits.lifetime_value == Decimal("999999999999.99")
    assert traits.order_count == 2
    await refresh_all(wired.sessions, wired.settings)
    async with wired.sessions() as session:
        revenue = await session.scalar(select(CustomerRfm.revenue))
    assert revenue == Decimal("999999999999.99")
