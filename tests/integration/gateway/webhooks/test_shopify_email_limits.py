"""A Shopify ``customers/create`` delivery goes through the same email
validator as the mutations and the ingest: an address over RFC 5321's limits
creates no customer (the delivery is still acknowledged, as Shopify would
otherwise retry it for hours)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.demo_world import World
from gateway.app import create_app
from gateway.db import models
from gateway.demo.simulation import Simulators
from gateway.runtime.services import Services
from tests.conftest import ADMIN
from tests.integration.gateway.simulated import count

WORLD = World(seed=5, size=4)


@pytest.fixture
async def gateway(wired: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=wired))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gw", headers=ADMIN
    ) as http:
        yield http


@pytest.mark.parametrize(
    ("local", "created"), [("a" * 64, 1), ("a" * 65, 0)], ids=["64", "65"]
)
async def test_customers_create_applies_the_email_length_limit(
    simulators: Simulators,
    wired: Services,
    gateway: httpx.AsyncClient,
    local: str,
    created: int,
) -> None:
    payload = {
        **simulators.shopify.customer_payload(2),
        "id": 99101,
        "admin_graphql_api_id": "gid://shopify/Customer/99101",
        "email": f"{local}@example.com",
        "phone": None,
    }
    response = await simulators.shopify.send_webhook(
        gateway, "customers/create", payload
    )
    assert response.status_code == 200, response.text
    assert await count(wired, models.Customer) == len(WORLD.customers) + created
