"""Signed deliveries whose fields are null or of the wrong type, generated
from the simulators' own payloads: every one is answered below 500, and a
refusal stores nothing. A body over the limit is 413."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from connectors.demo_world import CATALOG, World
from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.db import models
from gateway.demo.simulation import ZENDESK_WEBHOOK_SECRET, Simulators
from gateway.runtime.services import Services
from tests.conftest import ADMIN
from tests.integration.gateway.simulated import count

WORLD = World(seed=8, size=6)
WRONG: list[Any] = [None, 7, "x", [], {}, True]


@pytest.fixture
async def gateway(wired: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=wired))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gw", headers=ADMIN
    ) as http:
        yield http


@pytest.fixture
async def url(wired: Services) -> AsyncIterator[str]:
    async with serve_app(create_app(services=wired)) as base:
        yield f"{base}/webhooks/zendesk"


async def stored(wired: Services) -> int:
    tables = (models.WebhookDelivery, models.Identity, models.PrivacyRequest)
    return sum([await count(wired, table) for table in tables])


def variants(payload: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``payload`` with one field (top level or one level down) replaced."""
    for key, value in payload.items():
        for wrong in WRONG:
            yield f"{key}={wrong!r}", {**payload, key: wrong}
        if isinstance(value, dict):
            for inner in value:
                for wrong in WRONG:
                    changed = {**payload, key: {**value, inner: wrong}}
                    yield f"{key}.{inner}={wrong!r}", changed


async def assert_answered(
    response: httpx.Response, wired: Services, label: str, before: int
) -> None:
    assert response.status_code < 500, (label, response.text)
    if response.status_code >= 400:
        assert await stored(wired) == before, label


async def test_shopify_deliveries_with_null_or_mistyped_fields_are_never_a_500(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shopify = simulators.shopify
    order = shopify.add_order(1, [(CATALOG[0], 1)])
    payloads = {
        "orders/create": shopify.order_payload(order),
        "customers/create": shopify.customer_payload(2),
    }
    with caplog.at_level(logging.ERROR):
        for topic, payload in payloads.items():
            for n, (label, body) in enumerate(variants(payload)):
                before = await stored(wired)
                response = await shopify.send_webhook(
                    gateway, topic, body, webhook_id=f"{topic}-{n}"
                )
                await assert_answered(response, wired, f"{topic} {label}", before)
    assert "Traceback" not in caplog.text


async def test_zendesk_deliveries_with_null_or_mistyped_fields_are_never_a_500(
    simulators: Simulators, wired: Services, url: str
) -> None:
    zendesk = simulators.zendesk
    ticket_id = next(iter(zendesk.desk.tickets))
    detail = zendesk.ticket_event_detail(ticket_id)
    for n, (label, body) in enumerate(variants(detail)):
        before = await stored(wired)
        response = await zendesk.send_webhook(
            url, "ticket.created", body, ZENDESK_WEBHOOK_SECRET, event_id=f"e{n}"
        )
        await assert_answered(response, wired, f"ticket.created {label}", before)


async def test_a_two_megabyte_shopify_delivery_is_413_and_stores_nothing(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    shopify = simulators.shopify
    payload = {**shopify.customer_payload(1), "note": "x" * 2_000_000}
    response = await shopify.send_webhook(gateway, "customers/create", payload)
    assert response.status_code == 413
    assert await stored(wired) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "#" + "9" * 5000), ("currency", "DOLLARS"), ("email", "x" * 400)],
)
async def test_shopify_strings_longer_than_their_columns_are_never_a_500(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    field: str,
    value: str,
) -> None:
    shopify = simulators.shopify
    order = shopify.order_payload(shopify.add_order(2, [(CATALOG[0], 1)]))
    if field == "email":
        order["customer"] = {**order["customer"], "email": value}
        order["customer"].pop("admin_graphql_api_id", None)
    else:
        order[field] = value
    response = await shopify.send_webhook(gateway, "orders/create", order)
    await assert_answered(response, wired, field, 0)
