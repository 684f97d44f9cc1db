"""``POST /webhooks/shopify``: signed deliveries from the Shopify simulator,
processed once, linked to our customers, announced on the change bus."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from connectors.demo_world import CATALOG, World
from connectors.shopify.simulator.webhooks import encode, webhook_headers
from gateway.app import create_app
from gateway.db import models
from gateway.demo.simulation import SHOPIFY_SECRET, Simulators
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from tests.conftest import ADMIN
from tests.integration.gateway.simulated import (
    count,
    customer_id_by_email,
    record_changes,
    services_on,
)

WORLD = World(seed=5, size=12)


@pytest.fixture
async def gateway(wired: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=wired))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gw", headers=ADMIN
    ) as http:
        yield http


async def nothing_stored(wired: Services) -> bool:
    return (
        await count(wired, models.WebhookDelivery) == 0
        and await count(wired, models.Identity) == 0
        and await count(wired, models.PrivacyRequest) == 0
    )


async def post(
    gateway: httpx.AsyncClient, body: bytes, topic: str = "orders/create", **h: str
) -> httpx.Response:
    """``body`` signed here with the known secret; ``h`` overrides headers."""
    headers = webhook_headers(
        body,
        topic,
        secret=SHOPIFY_SECRET,
        shop_domain="northwind-outfitters.myshopify.com",
        api_version="2025-07",
    )
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(digest).decode()
    headers.update(h)
    return await gateway.post("/webhooks/shopify", content=body, headers=headers)


async def test_an_order_webhook_links_the_customer_by_email_and_announces_it(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    changes = record_changes(wired)
    order = simulators.shopify.add_order(3, [(CATALOG[0], 2)])
    response = await simulators.shopify.send_webhook(
        gateway, "orders/create", simulators.shopify.order_payload(order)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "processed"}
    expected = await customer_id_by_email(wired, WORLD.customers[3].email)
    assert [(c.customer_id, c.source, c.kind) for c in changes] == [
        (expected, "shopify", "orders/create")
    ]
    async with wired.sessions() as session:
        link = await session.scalar(select(models.Identity))
    assert link is not None
    assert (link.customer_id, link.external_id, link.linked_by) == (
        expected,
        simulators.shopify.customer_gid(3),
        "email",
    )


async def test_a_refund_finds_its_customer_through_the_order_upstream(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    changes = record_changes(wired)
    order = next(o for o in simulators.shopify.store.orders if o["refunds"])
    index = order["customer"]["_index"]
    async with wired.sessions() as session, session.begin():
        session.add(
            models.Identity(
                customer_id=await customer_id_by_email(
                    wired, WORLD.customers[index].email
                ),
                source="shopify",
                external_id=simulators.shopify.customer_gid(index),
            )
        )
    response = await simulators.shopify.send_webhook(
        gateway, "refunds/create", simulators.shopify.refund_payload(order)
    )
    assert response.status_code == 200, response.text
    assert [c.kind for c in changes] == ["refunds/create"]
    assert changes[0].customer_id == await customer_id_by_email(
        wired, WORLD.customers[index].email
    )


async def test_webhook_with_bad_signature_is_rejected_and_nothing_is_stored(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    changes = record_changes(wired)
    response = await simulators.shopify.send_webhook(
        gateway, "customers/update", simulators.shopify.customer_payload(1), secret="x"
    )
    assert response.status_code == 401
    assert "error" in response.json()
    body = encode(simulators.shopify.customer_payload(1))
    unsigned = await post(
        gateway, body, "customers/update", **{"X-Shopify-Hmac-Sha256": ""}
    )
    assert unsigned.status_code == 401
    assert changes == []
    assert await nothing_stored(wired)


async def test_without_a_configured_secret_every_delivery_is_refused(
    simulators: Simulators, db: Services, upstreams: Upstreams
) -> None:
    unsigned = services_on(simulators, db, upstreams, shopify_api_secret=None)
    transport = httpx.ASGITransport(app=create_app(services=unsigned))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as gw:
        response = await simulators.shopify.send_webhook(
            gw, "customers/update", simulators.shopify.customer_payload(1)
        )
    assert response.status_code == 503
    assert "CG_SHOPIFY_API_SECRET" in response.json()["error"]
    assert await nothing_stored(db)


async def test_a_missing_required_header_is_a_bad_request(
    wired: Services, gateway: httpx.AsyncClient
) -> None:
    response = await post(gateway, b"{}", **{"X-Shopify-API-Version": ""})
    assert response.status_code == 400
    assert "X-Shopify-API-Version" in response.json()["error"]
    assert await nothing_stored(wired)


async def test_malformed_json_is_a_bad_request_and_nothing_is_stored(
    wired: Services, gateway: httpx.AsyncClient
) -> None:
    for body in (b'{"id": 1,', b"[1, 2]", b'{"id": 1}'):
        response = await post(gateway, body, "orders/create")
        assert response.status_code == 400, body
        assert set(response.json()) == {"error", "code"}
    assert await nothing_stored(wired)


async def test_a_repeated_webhook_id_is_processed_once(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    changes = record_changes(wired)
    payload = simulators.shopify.customer_payload(2)
    statuses = [
        (
            await simulators.shopify.send_webhook(
                gateway, "customers/update", payload, webhook_id="w-1", event_id="e-1"
            )
        ).json()["status"]
        for _ in range(3)
    ]
    assert statuses == ["processed", "duplicate", "duplicate"]
    assert len(changes) == 1
    assert await count(wired, models.Identity) == 1


async def test_a_retry_of_one_event_under_a_new_webhook_id_is_processed_once(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    changes = record_changes(wired)
    payload = simulators.shopify.customer_payload(2)
    first = await simulators.shopify.send_webhook(
        gateway, "customers/update", payload, webhook_id="w-1", event_id="e-9"
    )
    retry = await simulators.shopify.send_webhook(
        gateway, "customers/update", payload, webhook_id="w-2", event_id="e-9"
    )
    assert (first.json()["status"], retry.json()["status"]) == (
        "processed",
        "duplicate",
    )
    assert len(changes) == 1


async def test_an_unknown_topic_is_acknowledged_and_ignored(
    wired: Services, gateway: httpx.AsyncClient
) -> None:
    changes = record_changes(wired)
    response = await post(gateway, b'{"id": 1}', "app/uninstalled")
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert changes == []
    assert await nothing_stored(wired)


async def test_customers_create_for_a_new_email_creates_and_links_the_customer(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    changes = record_changes(wired)
    payload = {
        **simulators.shopify.customer_payload(4),
        "id": 99001,
        "admin_graphql_api_id": "gid://shopify/Customer/99001",
        "email": "  New.Shopper@Example.COM ",
        "phone": None,
        "first_name": "Nova",
    }
    response = await simulators.shopify.send_webhook(
        gateway, "customers/create", payload
    )
    assert response.status_code == 200, response.text
    query = '{ customer(email: "new.shopper@example.com") { email firstName identities { source externalId } } }'
    result = (await gateway.post("/graphql", json={"query": query})).json()
    assert result["data"]["customer"] == {
        "email": "new.shopper@example.com",
        "firstName": "Nova",
        "identities": [
            {"source": "shopify", "externalId": "gid://shopify/Customer/99001"}
        ],
    }
    assert [c.kind for c in changes] == ["customers/create"]


async def test_customers_update_for_a_stranger_creates_nobody(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    payload = {**simulators.shopify.customer_payload(4), "id": 99002, "phone": None}
    payload.update(admin_graphql_api_id="gid://shopify/Customer/99002", email="x@y.org")
    response = await simulators.shopify.send_webhook(
        gateway, "customers/update", payload
    )
    assert response.json() == {"status": "processed"}
    assert await count(wired, models.Customer) == len(WORLD.customers)
    assert await count(wired, models.Identity) == 0


async def test_privacy_requests_are_recorded_by_ids_and_queue_their_jobs(
    simulators: Simulators, wired: Services, gateway: httpx.AsyncClient
) -> None:
    for index in (1, 2, 3):
        await simulators.shopify.send_webhook(
            gateway, "customers/update", simulators.shopify.customer_payload(index)
        )
    number = int(simulators.shopify.customer_gid(1).rsplit("/", 1)[1])
    privacy = {
        "shop_id": 954889,
        "shop_domain": "northwind-outfitters.myshopify.com",
        "customer": {"id": number, "email": WORLD.customers[1].email, "phone": None},
    }
    for topic, extra in (
        (
            "customers/data_request",
            {"orders_requested": [1], "data_request": {"id": 9}},
        ),
        ("customers/redact", {"orders_to_redact": [1]}),
    ):
        response = await simulators.shopify.send_webhook(
            gateway, topic, {**privacy, **extra}
        )
        assert response.status_code == 200, response.text
    assert await count(wired, models.Identity) == 3  # the erasure is a job's
    shop = await simulators.shopify.send_webhook(
        gateway, "shop/redact", {"shop_id": 954889, "shop_domain": "x.myshopify.com"}
    )
    assert shop.status_code == 200
    assert await count(wired, models.Identity) == 0
    async with wired.sessions() as session:
        rows = (
            await session.scalars(
                select(models.PrivacyRequest).order_by(models.PrivacyRequest.id)
            )
        ).all()
    ours = await customer_id_by_email(wired, WORLD.customers[1].email)
    assert [(r.kind, r.external_customer_id, r.customer_id) for r in rows] == [
        ("data_request", f"gid://shopify/Customer/{number}", ours),
        ("customer_redact", f"gid://shopify/Customer/{number}", ours),
        ("shop_redact", None, None),
    ]
    assert [r.status for r in rows] == ["pending", "pending", "done"]
    async with wired.sessions() as session:
        sources = {
            s.source: s.status
            for s in await session.scalars(
                select(models.PrivacyRequestSource).where(
                    models.PrivacyRequestSource.request_id == rows[1].id
                )
            )
        }
    assert sources["shopify"] == "done"  # Shopify asked: not asked back
    assert sources["local"] == "pending"
    stored = " ".join(str(v) for r in rows for v in vars(r).values())
    assert WORLD.customers[1].email not in stored
