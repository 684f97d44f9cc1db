"""A change accepted by one replica is seen by a view another replica begins
after it, even while that replica is still fetching what the upstream said
before the change (``connectors.scope.fresh_from``): the view neither shows
the old answer nor caches it under the versions the change moved."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from connectors.demo_world import CATALOG
from gateway.changes.bus import CustomerChange
from gateway.relay.ids import decode_global_id
from tests.conftest import called
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.test_order_windows import plain_shopper, stored_orders

VIEW = """
query View($id: ID!) {
  customer(id: $id) {
    orders(first: 5) { edges { node { id } } }
    openTicketCount
  }
}
"""


async def newest_order(gateway: Gateway, customer_id: str) -> str:
    response = await gateway.http.post(
        "/graphql", json={"query": VIEW, "variables": {"id": customer_id}}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    order: str = body["data"]["customer"]["orders"]["edges"][0]["node"]["id"]
    return order


async def test_a_view_begun_after_a_webhook_another_replica_answered_shows_its_order(
    replicas: tuple[Gateway, Gateway],
) -> None:
    """Replica B is fetching a customer's orders for a first view (Shopify
    answers in 1 s); an order is placed, and its ``orders/create`` webhook
    answered 2xx by replica A. A second view B begins then shows the new
    order, and so does every view after it, on either replica."""
    a, b = replicas
    shopify = a.simulators.shopify
    index = plain_shopper(a, 5)
    email = a.world.customers[index].email
    found = await a.gql(
        "query($e: String!) { customer(email: $e) { id shopifyCustomer { id } } }",
        {"e": email},
    )
    customer_id = found["data"]["customer"]["id"]
    pk = decode_global_id(customer_id, "Customer")[1]
    await a.services.changes.publish(CustomerChange(pk, "crm", "x"))  # cold
    before = stored_orders(a, index)[0]["id"]
    asked = shopify.requests["graphql"]
    shopify.latency = 1.0
    try:
        first = asyncio.create_task(newest_order(b, customer_id))
        await called(shopify, asked)  # B's fetch has left
        placed = shopify.add_order(
            index,
            [(CATALOG[0], 1)],
            processed_at=stored_orders(a, index)[0]["_processed"]
            + timedelta(minutes=1),
        )
        delivered = await shopify.send_webhook(
            a.http, "orders/create", shopify.order_payload(placed)
        )
        assert delivered.status_code == 200, delivered.text
        assert not first.done()  # B's fetch of the old orders is still under way

        assert await newest_order(b, customer_id) == placed["id"]
        assert await first == before
    finally:
        shopify.latency = 0.0
    assert await newest_order(b, customer_id) == placed["id"]
    assert await newest_order(a, customer_id) == placed["id"]
