"""The Shopify simulator enforces Shopify's real limits by default: the
standard plan's leaky bucket (requested cost taken up front, refunded to the
actual cost, ``THROTTLED`` when it cannot cover a query), the 1,000-point
single-query limit, access scopes per token (a denied field is null with an
``ACCESS_DENIED`` error naming it, the rest answers), the 60-day order window
without ``read_all_orders``, and the nulls the 2025-07 schema allows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from connectors.demo_world import World
from connectors.shopify.simulator.bucket import LeakyBucket
from connectors.shopify.simulator.server import ShopifySimulator

PATH = "/admin/api/2025-07/graphql.json"

CUSTOMERS = """
query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { id firstName } } }
"""
ORDERS = """
query($id: ID!) {
  customer(id: $id) {
    id numberOfOrders
    orders(first: 20, sortKey: PROCESSED_AT, reverse: true) {
      nodes {
        id name
        lineItems(first: 5) { nodes { id title product { id productType } } }
        returns(first: 2) { nodes { id } }
      }
    }
  }
}
"""
LINES = """
query($id: ID!) {
  customer(id: $id) {
    orders(first: 20) {
      nodes { id lineItems(first: 5) { nodes { id title product { id } } } }
    }
  }
}
"""
SCOPES = "{ currentAppInstallation { accessScopes { handle } } }"


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, size=60)


@pytest.fixture
def simulator(world: World) -> ShopifySimulator:
    return ShopifySimulator(world)


@pytest.fixture
async def client(simulator: ShopifySimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://northwind-outfitters.myshopify.com",
        headers={"X-Shopify-Access-Token": "shpat_demo"},
    ) as opened:
        yield opened


async def gql(
    client: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> Any:
    headers = {"X-Shopify-Access-Token": token} if token else None
    response = await client.post(
        PATH, json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200
    return response.json()


def shopper(simulator: ShopifySimulator) -> str:
    """A customer with orders."""
    for number, orders in simulator.store.orders_by_customer.items():
        if orders:
            return str(simulator.store.customers[number]["id"])
    raise AssertionError("no customer with orders in the world")


def test_the_default_bucket_is_the_standard_plans_and_plus_restores_ten_times_faster(
    world: World,
) -> None:
    standard = ShopifySimulator(world).bucket.status()
    plus = ShopifySimulator(world, plan="plus").bucket.status()
    assert standard == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 2000,
        "restoreRate": 100.0,
    }
    assert plus["restoreRate"] == 1000.0
    assert plus["maximumAvailable"] == 20000.0


async def test_the_requested_cost_is_taken_and_the_difference_refunded(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.bucket.restore_rate = 1e-9  # no refill while the test runs
    body = await gql(
        client,
        "query($q: String) { customers(first: 50, query: $q) { nodes { id } } }",
        q="id:" + simulator.customer_gid(1).rsplit("/", 1)[1],
    )
    cost = body["extensions"]["cost"]
    assert len(body["data"]["customers"]["nodes"]) == 1
    assert cost["requestedQueryCost"] == 2 + 50 * 1
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]
    available = cost["throttleStatus"]["currentlyAvailable"]
    assert available == 2000 - cost["actualQueryCost"]


async def test_a_query_the_bucket_cannot_cover_is_throttled_with_no_data(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.bucket.restore_rate = 1e-9
    simulator.bucket.available = 2
    body = await gql(
        client, CUSTOMERS, ids=[simulator.customer_gid(i) for i in range(3)]
    )
    assert "data" not in body
    assert body["errors"][0]["message"] == "Throttled"
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 3
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] == 2
    # nothing was taken: a cheaper query still runs
    ok = await gql(client, CUSTOMERS, ids=[simulator.customer_gid(1)])
    assert ok["data"]["nodes"][0]["id"] == simulator.customer_gid(1)


def test_the_bucket_drains_and_restores_at_its_rate_up_to_its_size() -> None:
    clock = [100.0]
    bucket = LeakyBucket.for_plan("standard", clock=lambda: clock[0])
    assert bucket.take(1500)
    assert not bucket.take(600)  # 500 left
    assert bucket.wait_for(600) == pytest.approx(1.0)
    clock[0] += 1.0  # 100 points a second
    assert bucket.take(600)
    bucket.refund(400)
    assert bucket.status()["currentlyAvailable"] == 400
    clock[0] += 3600
    assert bucket.status()["currentlyAvailable"] == 2000


async def test_a_429_throttle_says_when_to_come_back(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.throttle_http_status = 429
    simulator.bucket.restore_rate = 0.5
    # The bucket's time stands still: a loaded machine once took the 2 s a
    # point needs between the drain and the request, and the query went through.
    now = simulator.bucket.clock()
    simulator.bucket.clock = lambda: now
    simulator.drain()
    response = await client.post(
        PATH,
        json={"query": CUSTOMERS, "variables": {"ids": [simulator.customer_gid(1)]}},
    )
    assert response.status_code == 429
    assert 0 < float(response.headers["Retry-After"]) <= 2  # 1 point at 0.5/s


async def test_max_cost_exceeded_names_the_cost_and_the_limit(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    ids = [simulator.customer_gid(i % 60) for i in range(250)]
    query = (
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { id"
        " amountSpent { amount } defaultEmailAddress { emailAddress }"
        " defaultPhoneNumber { phoneNumber } lastOrder { id } } } }"
    )
    body = await gql(client, query, ids=ids)
    assert "data" not in body
    assert body["errors"] == [
        {
            "message": "Query cost is 1250, which exceeds the single query max "
            "cost limit (1000).",
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1250, "maxCost": 1000},
        }
    ]
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2000


async def test_the_app_installation_lists_the_granted_scopes(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_returns")
    body = await gql(client, SCOPES)
    handles = [
        s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]
    ]
    assert handles == [
        "read_all_orders",
        "read_customers",
        "read_orders",
        "read_products",
        "write_customer_data_erasure",
        "write_discounts",
    ]


async def test_a_field_of_a_missing_scope_is_null_with_access_denied_and_the_rest_answers(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_products")
    gid = shopper(simulator)
    body = await gql(client, LINES, id=gid)
    orders = body["data"]["customer"]["orders"]["nodes"]
    lines = [li for o in orders for li in o["lineItems"]["nodes"]]
    assert lines
    assert all(li["product"] is None and li["title"] for li in lines)
    assert len(body["errors"]) == len(lines)
    error = body["errors"][0]
    assert error["message"] == (
        "Access denied for product field. Required access: `read_products` access"
        " scope."
    )
    assert error["extensions"] == {
        "code": "ACCESS_DENIED",
        "documentation": "https://shopify.dev/api/usage/access-scopes",
        "requiredAccess": "`read_products` access scope.",
    }
    assert error["path"][:3] == ["customer", "orders", "nodes"]
    assert error["path"][-1] == "product"


async def test_a_denied_non_null_field_nulls_its_parent_as_graphql_does(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_returns")
    gid = shopper(simulator)
    body = await gql(client, ORDERS, id=gid)
    # Order.returns is ReturnConnection!: each order, then the list, then the
    # customer's non-null orders field give way up to the nullable customer
    assert body["data"]["customer"] is None
    assert {e["path"][-1] for e in body["errors"]} == {"returns"}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"ACCESS_DENIED"}


async def test_scopes_are_per_token(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.grant("read_orders", token="shpat_narrow")
    ids = [simulator.customer_gid(1), simulator.customer_gid(2)]
    narrow = await gql(client, CUSTOMERS, token="shpat_narrow", ids=ids)
    assert narrow["data"]["nodes"] == [None, None]
    assert [e["path"] for e in narrow["errors"]] == [["nodes", 0], ["nodes", 1]]
    assert "`read_customers`" in narrow["errors"][0]["message"]
    full = await gql(client, CUSTOMERS, ids=ids)
    assert "errors" not in full
    assert [n["id"] for n in full["data"]["nodes"]] == ids


async def test_without_read_all_orders_older_orders_are_absent_not_denied(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_all_orders")
    old = next(
        o
        for o in simulator.store.orders
        if simulator.world.now - o["_processed"] > timedelta(days=61)
    )
    body = await gql(client, "query($id: ID!) { order(id: $id) { id } }", id=old["id"])
    assert body["data"] == {"order": None}
    assert "errors" not in body
    search = await gql(
        client,
        "query($q: String) { orders(first: 250, query: $q) { nodes { id } } }",
        q=f"customer_id:{old['_customer']}",
    )
    found = {o["id"] for o in search["data"]["orders"]["nodes"]}
    assert old["id"] not in found
    limit = simulator.world.now - timedelta(days=60)
    kept = simulator.store.orders_by_customer[old["_customer"]]
    assert found == {o["id"] for o in kept if o["_processed"] >= limit}


async def test_refunds_without_created_at_and_checkout_lines_without_title_are_served(
    client: httpx.AsyncClient, simulator: ShopifySimulator
) -> None:
    undated = [
        (o, r)
        for o in simulator.store.orders
        for r in o["refunds"]
        if not r["createdAt"]
    ]
    untitled = [
        c for c in simulator.store.checkouts if c["lineItems"][0]["title"] is None
    ]
    assert undated
    assert untitled
    order, refund = undated[0]
    body = await gql(
        client,
        "query($id: ID!) { order(id: $id) { refunds(first: 5) { id createdAt } } }",
        id=order["id"],
    )
    assert {"id": refund["id"], "createdAt": None} in body["data"]["order"]["refunds"]
    checkout = await gql(
        client,
        "query($q: String) { abandonedCheckouts(first: 1, query: $q) {"
        " nodes { id lineItems(first: 1) { nodes { title } } } } }",
        q=f"id:{untitled[0]['_number']}",
    )
    node = checkout["data"]["abandonedCheckouts"]["nodes"][0]
    assert node["id"] == untitled[0]["id"]
    assert node["lineItems"]["nodes"] == [{"title": None}]
