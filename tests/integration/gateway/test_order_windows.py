"""Orders are read as windows of each customer's newest orders, as many as the
query shows: Shopify calls per query, cache hits for smaller windows, and
cursor pagination through every order."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

import orjson
import pytest
from starlette.types import Message, Scope

from connectors.demo_world import CATALOG
from connectors.shopify import queries
from connectors.shopify.simulator.data import customer_number
from gateway.changes.bus import CustomerChange
from gateway.relay.ids import decode_global_id
from tests.conftest import ADMIN
from tests.integration.gateway.conftest import Gateway

pytestmark = pytest.mark.storage_independent

VIEW = """
query($email: String!) { customer(email: $email) { id
  orders(first: 20) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name processedAt total { amount currencyCode }
      lineItems { title quantity sku category unitPrice { amount currencyCode } } } }
  } } }
"""

PAGE = """
query($n: Int!) { customers(first: $n, orderBy: EMAIL_ASC) { edges { node { id email
  orders(first: 5) {
    totalCount
    edges { node { id name processedAt total { amount currencyCode } } }
  } } } } }
"""

SUMMARIES_PER_CALL = 50
"""Customers whose newest 5 order summaries fit one call: 900 // (3 + 5 × 3)."""


def stored_orders(gateway: Gateway, index: int) -> list[dict[str, Any]]:
    store = gateway.simulators.shopify.store
    orders = store.orders_by_customer[customer_number(index)]
    return sorted(orders, key=lambda o: (o["processedAt"], o["_number"]), reverse=True)


def plain_shopper(gateway: Gateway, orders: int) -> int:
    """A world customer with ``orders`` or more orders whose newest ``orders``
    fit the inline limits (at most 4 line items, 1 refund, 1 return)."""
    for person in gateway.world.customers:
        if person.index % 50 == 7:
            continue
        newest = stored_orders(gateway, person.index)[:orders]
        if len(newest) == orders and all(
            len(o["lineItems"]) <= queries.INLINE_LINE_ITEMS
            and len(o["refunds"]) < queries.INLINE_REFUNDS
            for o in newest
        ):
            return person.index
    raise AssertionError("the world has no such shopper")


def busiest(gateway: Gateway) -> int:
    return max(
        (p for p in gateway.world.customers if p.index % 50 != 7),
        key=lambda p: len(stored_orders(gateway, p.index)),
    ).index


async def link(gateway: Gateway, email: str) -> int:
    """Link the customer to Shopify, then forget every cached upstream answer
    about them (the link itself stays in the database)."""
    result = await gateway.gql(
        "query($e: String!) { customer(email: $e) { id shopifyCustomer { id } } }",
        {"e": email},
    )
    customer_id = decode_global_id(result["data"]["customer"]["id"], "Customer")[1]
    await evict(gateway, customer_id)
    return customer_id


async def evict(gateway: Gateway, *customer_ids: int) -> None:
    await gateway.services.changes.publish(
        *[CustomerChange(customer_id=c, source="crm", kind="x") for c in customer_ids]
    )
    gateway.simulators.reset_counts()


async def test_a_360_view_of_20_orders_with_line_items_costs_one_call_cold_none_warm(
    gateway: Gateway,
) -> None:
    index = plain_shopper(gateway, 20)
    email = gateway.world.customers[index].email
    await link(gateway, email)

    cold = await gateway.gql(VIEW, {"email": email})
    cold_calls = gateway.simulators.shopify.requests.total
    gateway.simulators.reset_counts()
    warm = await gateway.gql(VIEW, {"email": email})

    assert "errors" not in cold, cold
    assert cold_calls == 1
    assert gateway.simulators.shopify.requests.total == 0
    assert warm == cold
    orders = cold["data"]["customer"]["orders"]
    stored = stored_orders(gateway, index)
    assert [e["node"]["id"] for e in orders["edges"]] == [o["id"] for o in stored[:20]]
    assert orders["totalCount"] == len(stored)
    assert orders["pageInfo"]["hasNextPage"] == (len(stored) > 20)
    for edge, record in zip(orders["edges"], stored, strict=False):
        assert len(edge["node"]["lineItems"]) == len(record["lineItems"])


async def test_a_smaller_window_after_a_bigger_one_is_a_cache_hit(
    gateway: Gateway,
) -> None:
    index = plain_shopper(gateway, 20)
    email = gateway.world.customers[index].email
    await link(gateway, email)
    await gateway.gql(VIEW, {"email": email})
    gateway.simulators.reset_counts()

    smaller = await gateway.gql(
        "query($e: String!) { customer(email: $e) { orders(first: 3) "
        "{ edges { node { id lineItems { title sku } } } } } }",
        {"e": email},
    )
    assert gateway.simulators.shopify.requests.total == 0
    stored = stored_orders(gateway, index)
    edges = smaller["data"]["customer"]["orders"]["edges"]
    assert [e["node"]["id"] for e in edges] == [o["id"] for o in stored[:3]]

    bigger = await gateway.gql(
        "query($e: String!) { customer(email: $e) { orders(first: 30) "
        "{ edges { node { id lineItems { title } } } } } }",
        {"e": email},
    )
    assert gateway.simulators.shopify.operations["nodes"] >= 1
    edges = bigger["data"]["customer"]["orders"]["edges"]
    assert [e["node"]["id"] for e in edges] == [o["id"] for o in stored[:30]]


DEPTHS = {
    "summaries": (
        "id name processedAt financialStatus total { amount currencyCode }",
        "OrderSummaryWindows",
    ),
    "line items' summaries": (
        "id name total { amount } lineItems { id title quantity sku variantTitle"
        " category vendor unitPrice { amount currencyCode } }",
        "OrderLinesWindows",
    ),
    "full orders for a line's total": (
        "id lineItems { title total { amount currencyCode } }",
        "OrderWindows",
    ),
}


@pytest.mark.parametrize("shown", DEPTHS)
async def test_each_page_asks_shopify_for_what_it_shows_and_answers_as_a_full_order(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, shown: str
) -> None:
    """The same orders as read in full, from a document as deep as the
    selection: its operation is the one Shopify is sent."""
    selection, operation = DEPTHS[shown]
    index = plain_shopper(gateway, 20)
    email = gateway.world.customers[index].email
    customer_id = await link(gateway, email)
    shopify = gateway.services.upstreams.shopify
    assert shopify is not None
    sent: list[str] = []
    query = shopify.query

    async def recorded(document: str, variables: dict[str, Any]) -> dict[str, Any]:
        sent.append(document.split("(", 1)[0].split()[-1])
        return await query(document, variables)

    monkeypatch.setattr(shopify, "query", recorded)

    def view(shown: str) -> str:
        return (
            "query($e: String!) { customer(email: $e) { orders(first: 20) "
            f"{{ edges {{ node {{ {shown} }} }} }} }} }}"
        )

    shown_only = await gateway.gql(view(selection), {"e": email})
    assert sent == [operation]
    await evict(gateway, customer_id)
    sent.clear()
    in_full = await gateway.gql(view(selection + " subtotal { amount }"), {"e": email})

    assert sent == ["OrderWindows"]
    assert "errors" not in shown_only, shown_only
    full_edges = in_full["data"]["customer"]["orders"]["edges"]
    for edge in full_edges:
        del edge["node"]["subtotal"]
    assert shown_only["data"]["customer"]["orders"]["edges"] == full_edges
    assert len(full_edges) == 20


@pytest.mark.parametrize("shown", DEPTHS)
async def test_a_new_order_shows_at_once_at_every_depth_after_its_change(
    gateway: Gateway, shown: str
) -> None:
    """Each depth's window is cached apart, and a change of the customer (an
    ``orders/create`` webhook's) drops every one of them."""
    selection, _ = DEPTHS[shown]
    index = plain_shopper(gateway, 5)
    email = gateway.world.customers[index].email
    customer_id = await link(gateway, email)
    view = (
        "query($e: String!) { customer(email: $e) { orders(first: 5) "
        f"{{ edges {{ node {{ id {selection} }} }} }} }} }}"
    )
    before = await gateway.gql(view, {"e": email})
    newest = stored_orders(gateway, index)[0]["_processed"] + timedelta(minutes=1)
    placed = gateway.simulators.shopify.add_order(
        index, [(CATALOG[0], 1)], processed_at=newest
    )
    assert await gateway.gql(view, {"e": email}) == before  # cached
    await gateway.services.changes.publish(
        CustomerChange(customer_id=customer_id, source="shopify", kind="orders/create")
    )

    after = await gateway.gql(view, {"e": email})

    edges = after["data"]["customer"]["orders"]["edges"]
    assert edges[0]["node"]["id"] == placed["id"]
    assert edges[1:] == before["data"]["customer"]["orders"]["edges"][:4]


async def test_amounts_a_summary_lacks_are_read_as_full_orders(
    gateway: Gateway,
) -> None:
    index = plain_shopper(gateway, 5)
    email = gateway.world.customers[index].email
    await link(gateway, email)
    answer = await gateway.gql(
        "query($e: String!) { customer(email: $e) { orders(first: 5) { edges { node "
        "{ total { amount } subtotal { amount } totalRefunded { amount } } } } } }",
        {"e": email},
    )
    assert "errors" not in answer, answer
    stored = stored_orders(gateway, index)
    edges = answer["data"]["customer"]["orders"]["edges"]
    assert len(edges) == min(5, len(stored))
    assert all(e["node"]["subtotal"]["amount"] for e in edges)
    assert all(e["node"]["totalRefunded"]["amount"] is not None for e in edges)


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_a_page_of_customers_with_5_orders_each_costs_a_call_per_55_customers(
    gateway: Gateway, n: int
) -> None:
    first = await gateway.gql(PAGE, {"n": n})  # links identities
    edges = first["data"]["customers"]["edges"]
    ids = [decode_global_id(e["node"]["id"], "Customer")[1] for e in edges]
    linked = sum(e["node"]["orders"] is not None for e in edges)
    await evict(gateway, *ids)

    result = await gateway.gql(PAGE, {"n": n})

    assert result == first
    shopify = gateway.simulators.shopify
    # the summary windows, concurrently; customers Shopify does not know are
    # searched for again (the eviction forgot that): by email, then by phone
    assert shopify.operations["nodes"] == math.ceil(linked / SUMMARIES_PER_CALL)
    assert shopify.operations["customers"] <= 2
    assert shopify.requests.total == (
        shopify.operations["nodes"] + shopify.operations["customers"]
    )
    by_email = {p.email: p.index for p in gateway.world.customers}
    for edge in edges:
        orders = edge["node"]["orders"]
        if orders is None:
            continue
        stored = stored_orders(gateway, by_email[edge["node"]["email"]])
        assert orders["totalCount"] == len(stored)
        assert [e["node"]["id"] for e in orders["edges"]] == [
            o["id"] for o in stored[:5]
        ]


@pytest.mark.parametrize("parts", ["", "lineItems { title } refunds { id }"])
async def test_cursors_page_through_every_order_exactly_once_newest_first(
    gateway: Gateway, parts: str
) -> None:
    index = busiest(gateway)
    email = gateway.world.customers[index].email
    query = (
        "query($e: String!, $a: String) { customer(email: $e) { orders(first: 7, "
        "after: $a) { totalCount edges { node { id " + parts + " } } "
        "pageInfo { hasNextPage endCursor } } } }"
    )
    seen: list[str] = []
    after = None
    calls = 0
    while True:
        result = await gateway.gql(query, {"e": email, "a": after})
        calls += 1
        orders = result["data"]["customer"]["orders"]
        seen += [e["node"]["id"] for e in orders["edges"]]
        if not orders["pageInfo"]["hasNextPage"]:
            break
        after = orders["pageInfo"]["endCursor"]
    stored = stored_orders(gateway, index)
    assert len(stored) > 50
    assert seen == [o["id"] for o in stored]
    assert orders["totalCount"] == len(stored)
    assert calls == math.ceil(len(stored) / 7)


async def test_a_cursor_still_continues_after_its_order_when_a_new_order_arrives(
    gateway: Gateway,
) -> None:
    index = plain_shopper(gateway, 11)
    email = gateway.world.customers[index].email
    query = (
        "query($e: String!, $a: String) { customer(email: $e) { orders(first: 5, "
        "after: $a) { edges { node { id } } pageInfo { endCursor } } } }"
    )
    customer_id = await link(gateway, email)
    page = await gateway.gql(query, {"e": email, "a": None})
    cursor = page["data"]["customer"]["orders"]["pageInfo"]["endCursor"]
    before = stored_orders(gateway, index)
    latest = before[0]["_processed"] + timedelta(minutes=1)
    gateway.simulators.shopify.add_order(index, [(CATALOG[0], 1)], processed_at=latest)
    await evict(gateway, customer_id)

    following = await gateway.gql(query, {"e": email, "a": cursor})

    edges = following["data"]["customer"]["orders"]["edges"]
    assert [e["node"]["id"] for e in edges] == [o["id"] for o in before[5:10]]


async def test_a_view_is_answered_before_its_stores_and_a_change_meanwhile_shows(
    cached: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold view's response goes out while what it fetched is still being
    stored; the customer's change lands in between (a new order, evicted).
    The stores that then land store nothing, so the next view shows the new
    order: with the in-process cache, Redis and a Redis Cluster."""
    gateway = cached
    index = plain_shopper(gateway, 5)
    email = gateway.world.customers[index].email
    customer_id = await link(gateway, email)
    view = (
        "query($e: String!) { customer(email: $e) { orders(first: 5) "
        "{ edges { node { id lineItems { title } } } } } }"
    )
    caches = gateway.services.caches
    assert caches is not None
    release = asyncio.Event()
    store = caches.backend.store_and_release

    async def held(*args: Any) -> set[str]:
        await release.wait()
        return await store(*args)

    monkeypatch.setattr(caches.backend, "store_and_release", held)
    answered = asyncio.Event()
    sent: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            sent.append(message.get("body", b""))
            if not message.get("more_body"):
                answered.set()

    body = orjson.dumps({"query": view, "variables": {"e": email}})

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    exchange = asyncio.create_task(gateway.app(post_scope(), receive, send))
    await asyncio.wait_for(answered.wait(), 10)
    assert not exchange.done()  # the request ends once its stores land
    before = orjson.loads(b"".join(sent))["data"]["customer"]["orders"]["edges"]
    newest = stored_orders(gateway, index)[0]["_processed"] + timedelta(minutes=1)
    placed = gateway.simulators.shopify.add_order(
        index, [(CATALOG[0], 1)], processed_at=newest
    )
    await gateway.services.changes.publish(
        CustomerChange(customer_id=customer_id, source="shopify", kind="orders/create")
    )
    release.set()
    await asyncio.wait_for(exchange, 10)

    after = await gateway.gql(view, {"e": email})

    edges = after["data"]["customer"]["orders"]["edges"]
    assert edges[0]["node"]["id"] == placed["id"]
    assert edges[1:] == before[:4]


def post_scope() -> Scope:
    """An HTTP POST to ``/graphql`` with the tests' admin key, as uvicorn
    gives it."""
    headers = {"content-type": "application/json", "host": "gw", **ADMIN}
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("gw", 80),
    }
