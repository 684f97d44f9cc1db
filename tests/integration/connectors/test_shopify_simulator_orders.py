"""The Shopify simulator serves a customer's orders as Shopify does:
``Customer.orders(first, after, sortKey, reverse)`` paged by opaque cursors,
``numberOfOrders`` as an ``UnsignedInt64`` string, ``Order.lineItems(first,
after)`` paged to the end, and nested connections inside ``nodes(ids:)``
priced by Shopify's cost model (and refused above 1,000 points)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from connectors.demo_world import CATALOG, World
from connectors.shopify.simulator.server import ShopifySimulator

PATH = "/admin/api/2025-07/graphql.json"

ORDERS = """
query($id: ID!, $first: Int!, $after: String) {
  customer(id: $id) {
    numberOfOrders
    orders(first: $first, after: $after, sortKey: PROCESSED_AT, reverse: true) {
      edges { cursor node { id processedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

LINE_ITEMS = """
query($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 2, after: $after) {
      nodes { id }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

NESTED = """
query($ids: [ID!]!, $first: Int!) {
  nodes(ids: $ids) {
    ... on Customer {
      id numberOfOrders
      orders(first: $first, sortKey: PROCESSED_AT, reverse: true) {
        nodes { id lineItems(first: 4) { nodes { id product { id } } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, size=60)


@pytest.fixture
def simulator(world: World) -> ShopifySimulator:
    return ShopifySimulator(world, bucket_size=1e6, restore_rate=1e6)


@pytest.fixture
async def client(simulator: ShopifySimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://northwind-outfitters.myshopify.com",
        headers={"X-Shopify-Access-Token": "shpat_demo"},
    ) as opened:
        yield opened


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> Any:
    response = await client.post(PATH, json={"query": query, "variables": variables})
    assert response.status_code == 200
    return response.json()


def busiest(simulator: ShopifySimulator) -> tuple[str, list[dict[str, Any]]]:
    orders = simulator.store.orders_by_customer
    number = max(orders, key=lambda n: len(orders[n]))
    return str(simulator.store.customers[number]["id"]), orders[number]


async def test_a_customers_orders_page_newest_first_to_the_end(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    gid, stored = busiest(simulator)
    seen: list[str] = []
    stamps: list[str] = []
    after = None
    while True:
        body = await gql(client, ORDERS, id=gid, first=7, after=after)
        customer = body["data"]["customer"]
        assert customer["numberOfOrders"] == str(len(stored))
        page = customer["orders"]
        seen += [e["node"]["id"] for e in page["edges"]]
        stamps += [e["node"]["processedAt"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert sorted(seen) == sorted(o["id"] for o in stored)
    assert len(seen) == len(set(seen))
    assert stamps == sorted(stamps, reverse=True)


async def test_a_garbage_cursor_on_customer_orders_is_an_error(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    gid, _ = busiest(simulator)
    body = await gql(client, ORDERS, id=gid, first=5, after="not-a-cursor")
    assert "Invalid cursor" in body["errors"][0]["message"]


async def test_number_of_orders_counts_orders_hidden_by_the_60_day_window(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_all_orders")
    gid, stored = busiest(simulator)
    body = await gql(client, ORDERS, id=gid, first=250)
    customer = body["data"]["customer"]
    limit = simulator.world.now - timedelta(days=60)
    visible = [o for o in stored if o["_processed"] >= limit]
    assert customer["numberOfOrders"] == str(len(stored))
    assert len(customer["orders"]["edges"]) == len(visible) < len(stored)


async def test_line_items_page_with_cursors_to_the_last_one(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    order = simulator.add_order(2, [(p, 1) for p in CATALOG[:5]])
    seen: list[str] = []
    after = None
    while True:
        body = await gql(client, LINE_ITEMS, id=order["id"], after=after)
        items = body["data"]["order"]["lineItems"]
        seen += [li["id"] for li in items["nodes"]]
        if not items["pageInfo"]["hasNextPage"]:
            break
        after = items["pageInfo"]["endCursor"]
    assert seen == [li["id"] for li in order["lineItems"]]


async def test_nested_connections_inside_nodes_are_priced_per_id(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    ids = [simulator.customer_gid(i) for i in (1, 2, 3)]
    body = await gql(client, NESTED, ids=ids, first=10)
    # per customer: itself 1 + orders 2 + 10 × (order 1 + lineItems 2 + 4 × 2)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 3 * (1 + 2 + 10 * 11)
    assert [n["id"] for n in body["data"]["nodes"]] == ids
    assert body["extensions"]["cost"]["actualQueryCost"] <= 3 * 113


async def test_nested_connections_above_the_cost_cap_are_refused(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    ids = [simulator.customer_gid(i) for i in range(10)]
    body = await gql(client, NESTED, ids=ids, first=10)
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "data" not in body
