"""``POST /webhooks/posthog``: PostHog's HTTP Webhook destination, driven by
the simulator's emitter with the real template's body and retries. An event
becomes one mirror row, whatever how often it is delivered; a refusal (no or a
wrong secret, not configured, a malformed or hostile body, one too large)
stores nothing. Both databases."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from connectors.demo_world import World
from connectors.posthog.destination import SECRET_HEADER
from connectors.posthog.simulator.destination import WebhookDestination
from gateway.app import create_app
from gateway.db import models
from gateway.demo.simulation import POSTHOG_WEBHOOK_SECRET, Simulators
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from tests.integration.gateway.simulated import (
    count,
    customer_id_by_email,
    record_changes,
    services_on,
)
from tests.security.hostile_json import Deep, encode

WORLD = World(seed=12, size=6)
URL = "http://gw/webhooks/posthog"
SECRET = {SECRET_HEADER: POSTHOG_WEBHOOK_SECRET}


def transport(services: Services) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_app(services=services))


@pytest.fixture
def destination() -> WebhookDestination:
    return WebhookDestination(URL, SECRET, backoff=0)


@pytest.fixture
async def gateway(wired: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport(wired), base_url="http://gw") as c:
        yield c


def new_event(simulators: Simulators, n: int = 0, *, anonymous: bool = False) -> dict:
    """A page view captured by the simulated PostHog just now."""
    analytics = simulators.posthog.analytics
    person = analytics.persons[n]
    return analytics.capture(
        person.distinct_ids[1 if anonymous else 0],
        "$pageview",
        {
            "$current_url": "https://shop.northwind.example/products/7",
            "$pathname": "/products/7",
            "$session_id": "0190c1c4-aaaa-7000-8000-000000000001",
            "$ip": "192.0.2.9",
            "$browser": "Firefox",
        },
        WORLD.now + timedelta(minutes=n + 1),
    )


async def link(services: Services, simulators: Simulators, n: int = 0) -> int:
    """Link our customer to the simulated person ``n``; our id of it."""
    person = simulators.posthog.analytics.persons[n]
    customer_id = await customer_id_by_email(services, person.properties["email"])
    async with services.sessions() as session, session.begin():
        session.add(
            models.Identity(
                customer_id=customer_id,
                source="posthog",
                external_id=person.distinct_ids[0],
                linked_by="email",
            )
        )
    return customer_id


async def rows(services: Services) -> list[models.PostHogEvent]:
    async with services.sessions() as session:
        return list(await session.scalars(select(models.PostHogEvent)))


async def test_a_delivery_of_the_template_body_is_one_mirror_row_and_announced(
    simulators: Simulators, wired: Services, destination: WebhookDestination
) -> None:
    customer_id = await link(wired, simulators)
    changes = record_changes(wired)
    event = new_event(simulators)
    statuses = await destination.deliver(
        simulators.posthog.analytics, [event], transport=transport(wired)
    )
    assert statuses == [200]
    (row,) = await rows(wired)
    assert (row.uuid, row.distinct_id, row.event) == (
        event["uuid"],
        event["distinct_id"],
        "$pageview",
    )
    assert row.occurred_at == event["timestamp"]
    assert (row.url, row.path, row.session_id) == (
        "https://shop.northwind.example/products/7",
        "/products/7",
        "0190c1c4-aaaa-7000-8000-000000000001",
    )
    assert row.properties == {"$browser": "Firefox"}
    assert row.via == "destination"
    assert [(c.customer_id, c.source, c.kind) for c in changes] == [
        (customer_id, "posthog", "$pageview")
    ]


async def test_a_redelivered_event_is_stored_once_and_announced_once(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    await link(wired, simulators)
    changes = record_changes(wired)
    body = WebhookDestination(URL, SECRET).body(
        simulators.posthog.analytics, new_event(simulators)
    )
    answers = [
        await gateway.post("/webhooks/posthog", json=body, headers=SECRET)
        for _ in range(3)
    ]
    assert [a.json() for a in answers] == [
        {"status": "processed"},
        {"status": "duplicate"},
        {"status": "duplicate"},
    ]
    assert len(await rows(wired)) == 1
    assert len(changes) == 1


async def test_an_event_of_an_unlinked_distinct_id_is_stored_and_announces_nothing(
    simulators: Simulators, wired: Services, destination: WebhookDestination
) -> None:
    changes = record_changes(wired)
    event = new_event(simulators, 1, anonymous=True)
    await destination.deliver(
        simulators.posthog.analytics, [event], transport=transport(wired)
    )
    assert [r.distinct_id for r in await rows(wired)] == [event["distinct_id"]]
    assert changes == []


async def test_posthog_retries_a_refused_delivery_three_times_in_all(
    simulators: Simulators, wired: Services
) -> None:
    wrong = WebhookDestination(URL, {SECRET_HEADER: "not-the-secret"}, backoff=0)
    statuses = await wrong.deliver(
        simulators.posthog.analytics,
        [new_event(simulators)],
        transport=transport(wired),
    )
    assert statuses == [401]
    assert wrong.attempts == [401, 401, 401]
    assert await count(wired, models.PostHogEvent) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: ""}, {SECRET_HEADER: POSTHOG_WEBHOOK_SECRET + "x"}],
    ids=["none", "empty", "wrong"],
)
async def test_a_delivery_without_the_secret_is_401_and_stores_nothing(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    headers: dict[str, str],
) -> None:
    body = WebhookDestination(URL, {}).body(
        simulators.posthog.analytics, new_event(simulators)
    )
    response = await gateway.post("/webhooks/posthog", json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert set(response.json()) == {"error", "code"}
    assert await count(wired, models.PostHogEvent) == 0


async def test_without_a_configured_secret_deliveries_are_503(
    simulators: Simulators, db: Services, upstreams: Upstreams, wired: Services
) -> None:
    unconfigured = services_on(simulators, db, upstreams, posthog_webhook_secret=None)
    body = WebhookDestination(URL, {}).body(
        simulators.posthog.analytics, new_event(simulators)
    )
    async with httpx.AsyncClient(
        transport=transport(unconfigured), base_url="http://gw"
    ) as client:
        response = await client.post("/webhooks/posthog", json=body, headers=SECRET)
    assert response.status_code == 503
    assert response.json()["code"] == "NOT_CONFIGURED"
    assert await count(wired, models.PostHogEvent) == 0


async def test_a_two_megabyte_delivery_is_413_and_stores_nothing(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    body = WebhookDestination(URL, {}).body(
        simulators.posthog.analytics, new_event(simulators)
    )
    body["event"]["properties"]["note"] = "x" * 2_000_000
    response = await gateway.post("/webhooks/posthog", json=body, headers=SECRET)
    assert response.status_code == 413
    assert await count(wired, models.PostHogEvent) == 0


def template_body(simulators: Simulators) -> dict[str, Any]:
    return WebhookDestination(URL, {}).body(
        simulators.posthog.analytics, new_event(simulators)
    )


HOSTILE: list[tuple[str, Any]] = [
    ("a distinct id of 201 characters", ("distinct_id", "d" * 201)),
    ("a name of 401 characters", ("event", "e" * 401)),
    ("a session id of 201 characters", ("properties", {"$session_id": "s" * 201})),
    ("a lone surrogate in the distinct id", ("distinct_id", "\ud800")),
    ("a NUL in a property", ("properties", {"sku": "A\x00"})),
    ("a number past 64 bits", ("properties", {"n": 2**64})),
    ("properties nested 100,000 deep", ("properties", {"deep": Deep(100_000)})),
    ("a uuid that is not one", ("uuid", "0190c1c4")),
    ("a timestamp in 9999", ("timestamp", "9999-12-31T23:59:59Z")),
    ("a boolean distinct id", ("distinct_id", True)),
]


@pytest.mark.parametrize(
    "change", [case[1] for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
async def test_a_hostile_delivery_is_400_with_a_short_error_and_stores_nothing(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    change: tuple[str, Any],
) -> None:
    body = template_body(simulators)
    key, value = change
    body["event"][key] = value
    with caplog.at_level(logging.INFO):
        response = await gateway.post(
            "/webhooks/posthog",
            content=encode(body),
            headers={**SECRET, "Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["code"] in ("BAD_REQUEST", "BAD_USER_INPUT")
    assert set(response.json()) == {"error", "code"}
    assert len(response.text) < 300
    assert await count(wired, models.PostHogEvent) == 0
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", json.dumps({"event": None}).encode(), b'{"a": 1}'],
    ids=["empty", "not json", "a list", "event null", "another shape"],
)
async def test_a_body_that_is_not_a_delivery_is_400(
    wired: Services, gateway: httpx.AsyncClient, body: bytes
) -> None:
    response = await gateway.post("/webhooks/posthog", content=body, headers=SECRET)
    assert response.status_code == 400
    assert await count(wired, models.PostHogEvent) == 0
