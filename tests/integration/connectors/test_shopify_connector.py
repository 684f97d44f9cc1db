"""The Shopify connector against the Shopify simulator over real HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.base import CommerceConnector
from connectors.demo_world import World, product_by_id
from connectors.errors import (
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from connectors.retry import RetryPolicy
from connectors.shopify import queries, webhooks
from connectors.shopify.client import CUSTOMERS_PER_CHUNK, ShopifyConnector
from connectors.shopify.simulator.server import ShopifySimulator
from connectors.simulator_server import serve_app

RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
Connect = Callable[..., ShopifyConnector]


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, size=60)


@pytest.fixture
def simulator(world: World) -> ShopifySimulator:
    return ShopifySimulator(world, bucket_size=1e6, restore_rate=1e6)


@pytest.fixture
async def connect(simulator: ShopifySimulator) -> AsyncIterator[Connect]:
    opened: list[ShopifyConnector] = []
    async with serve_app(simulator.app) as base_url:

        def make(token: str = "shpat_demo", **options: Any) -> ShopifyConnector:
            options.setdefault("retry", RETRY)
            opened.append(ShopifyConnector(base_url, token, **options))
            return opened[-1]

        yield make
        for connector in opened:
            await connector.aclose()


def busiest_customer(simulator: ShopifySimulator) -> str:
    orders = simulator.store.orders_by_customer
    number = max(orders, key=lambda n: len(orders[n]))
    return str(simulator.store.customers[number]["id"])


async def test_the_connector_is_a_commerce_connector(connect: Connect) -> None:
    assert isinstance(connect(), CommerceConnector)


@pytest.mark.parametrize("size", [1, 10, 50])
async def test_a_batch_of_customers_costs_calls_per_page_of_orders_not_per_customer(
    connect: Connect, simulator: ShopifySimulator, size: int
) -> None:
    simulator.revoke("read_all_orders")
    connector = connect()
    ids = [simulator.customer_gid(i) for i in range(size)]

    profiles = await connector.customers_by_ids(ids)
    orders = await connector.orders_by_customers(ids)

    read = sum(len(placed) for placed in orders.values())
    pages = max(1, -(-read // queries.MAX_ORDERS_PAGE))
    chunks = -(-size // CUSTOMERS_PER_CHUNK)  # searched concurrently
    assert len(profiles) == size
    assert simulator.operations["nodes"] == 1
    assert pages <= simulator.operations["orders"] <= pages + chunks - 1
    assert simulator.operations["orders"] <= 1 + size // 10


async def test_every_order_of_a_customer_is_read_to_the_last_page_newest_first(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    gid = busiest_customer(simulator)
    stored = simulator.store.orders_by_customer[int(gid.rsplit("/", 1)[1])]

    orders = (await connect(page_size=4).orders_by_customers([gid]))[gid]

    assert {o.id for o in orders} == {o["id"] for o in stored}
    assert [o.processed_at for o in orders] == sorted(
        (o.processed_at for o in orders), reverse=True
    )
    assert simulator.operations["orders"] == -(-len(stored) // 4)


async def test_the_order_cap_keeps_only_the_newest_orders(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    gid = busiest_customer(simulator)
    orders = (await connect(order_cap=5).orders_by_customers([gid]))[gid]
    assert len(orders) == 5


async def test_deleted_and_unknown_customers_come_back_as_none_in_place(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    ids = [
        simulator.customer_gid(7),
        simulator.customer_gid(1),
        "gid://shopify/Customer/1",
    ]
    found = await connect().customers_by_ids(ids)
    assert found[0] is None
    assert found[2] is None
    assert found[1] is not None
    assert found[1].email == simulator.world.customers[1].email


async def test_money_and_timestamps_are_parsed_exactly(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    when = simulator.world.now.replace(tzinfo=UTC) - timedelta(days=1, seconds=7)
    items = [(product_by_id(102), 1), (product_by_id(502), 2), (product_by_id(403), 1)]
    items.append((product_by_id(701), 1))
    placed = simulator.add_order(3, items, processed_at=when)
    gid = simulator.customer_gid(3)

    orders = (await connect().orders_by_customers([gid]))[gid]

    order = next(o for o in orders if o.id == placed["id"])
    assert placed["totalPriceSet"]["shopMoney"]["amount"] == "1284.5"
    assert order.total.amount == Decimal("1284.5")
    assert order.total.currency == simulator.world.customers[3].currency
    assert order.processed_at == when
    assert order.processed_at.tzinfo is not None
    assert order.total_refunded.amount == Decimal("0")


async def test_line_items_refunds_and_returns_come_inline(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    ids = [simulator.customer_gid(i) for i in range(40)]
    orders = [
        o
        for placed in (await connect().orders_by_customers(ids)).values()
        for o in placed
    ]
    items = [li for o in orders for li in o.line_items]
    assert any(o.refunds for o in orders)
    assert any(o.returns for o in orders)
    assert any(li.category is None and li.product_id is None for li in items)
    assert all(li.sku != "" for li in items)
    refunded = next(o for o in orders if o.refunds)
    assert refunded.total_refunded.amount == sum(
        r.total.amount for r in refunded.refunds
    )
    returns = await connect().returns_by_customers(ids)
    assert sum(map(len, returns.values())) == sum(len(o.returns) for o in orders)


async def test_older_orders_disappear_without_read_all_orders(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    gid = busiest_customer(simulator)
    simulator.revoke("read_all_orders")
    orders = (await connect().orders_by_customers([gid]))[gid]
    limit = simulator.world.now - timedelta(days=60)
    assert all(o.processed_at >= limit for o in orders)


async def test_abandoned_checkouts_are_kept_only_for_the_wanted_customers(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    ids = [simulator.customer_gid(i) for i in range(0, 60, 2)]
    found = await connect().abandoned_checkouts_by_customers(ids)
    expected = {
        c["id"] for c in simulator.store.checkouts if c["customer"]["id"] in set(ids)
    }
    assert {c.id for placed in found.values() for c in placed} == expected
    assert all(c.customer_id == cid for cid, placed in found.items() for c in placed)


async def test_customers_are_found_by_email_case_insensitively(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    emails = [simulator.world.customers[i].email for i in (1, 2, 7)]
    found = await connect().customers_by_emails([emails[0].upper(), *emails[1:]])
    assert set(found) == {emails[0], emails[1]}
    assert simulator.operations["customers"] == 1


async def test_a_sync_iterates_customers_updated_since_a_moment(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    since = simulator.world.now - timedelta(days=30)
    seen = [c async for c in connect(page_size=7).iter_customers(since)]
    expected = [c for c in simulator.store.customers.values() if c["_updated"] > since]
    assert len(seen) == len(expected)
    assert simulator.operations["customers"] == max(1, -(-len(expected) // 7))


class StillUntilAsked:
    """A bucket's time that stands still until the simulator is first asked,
    then runs: a loaded machine's pause between the drain and that request
    refills nothing (so it meets the drained bucket), and the waits after it
    refill as they would."""

    def __init__(self) -> None:
        self.simulator: ShopifySimulator | None = None
        self._asked_at: float | None = None

    def __call__(self) -> float:
        if self._asked_at is None:
            if self.simulator is None or not self.simulator.requests["graphql"]:
                return 0.0
            self._asked_at = time.monotonic()
        return time.monotonic() - self._asked_at


def drained_slowly(world: World, restore_rate: float) -> ShopifySimulator:
    """A simulator whose bucket refills ``restore_rate`` points a second, on
    a ``StillUntilAsked`` clock, drained."""
    clock = StillUntilAsked()
    simulator = ShopifySimulator(
        world, bucket_size=1000, restore_rate=restore_rate, clock=clock
    )
    clock.simulator = simulator
    simulator.drain()
    return simulator


async def test_a_drained_bucket_is_waited_out_instead_of_failing(
    world: World,
) -> None:
    simulator = drained_slowly(world, 2)
    outcomes: list[str] = []
    async with serve_app(simulator.app) as base_url:
        connector = ShopifyConnector(
            base_url,
            "shpat_demo",
            retry=RETRY,
            observer=lambda _, o: outcomes.append(o),
        )
        found = await connector.customers_by_ids([simulator.customer_gid(1)])
        await connector.aclose()
    assert found[0] is not None
    assert "rate_limited" in outcomes
    assert simulator.requests["graphql"] >= 2


async def test_a_429_throttle_is_waited_out_too(world: World) -> None:
    simulator = drained_slowly(world, 2)
    simulator.throttle_http_status = 429
    async with serve_app(simulator.app) as base_url:
        connector = ShopifyConnector(base_url, "shpat_demo", retry=RETRY)
        found = await connector.customers_by_ids([simulator.customer_gid(1)])
        await connector.aclose()
    assert found[0] is not None
    assert simulator.requests["graphql"] >= 2


async def test_throttling_longer_than_the_cap_is_reported_as_rate_limited(
    world: World,
) -> None:
    simulator = drained_slowly(world, 1)
    async with serve_app(simulator.app) as base_url:
        connector = ShopifyConnector(
            base_url, "shpat_demo", retry=RETRY, max_throttle_wait=0.5
        )
        with pytest.raises(UpstreamRateLimited):
            await connector.customers_by_ids([simulator.customer_gid(1)])
        await connector.aclose()


async def test_a_bad_token_is_an_auth_error_after_one_request(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    with pytest.raises(UpstreamAuthError):
        await connect("shpat_wrong").customers_by_ids([simulator.customer_gid(1)])
    assert simulator.requests["graphql"] == 1


async def test_server_errors_are_retried_then_reported_unavailable(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    simulator.fail_next(2, status=503)
    assert (await connect().customers_by_ids([simulator.customer_gid(1)]))[0]
    simulator.fail_next(3, status=502)
    with pytest.raises(UpstreamUnavailable):
        await connect().customers_by_ids([simulator.customer_gid(1)])
    assert simulator.requests["graphql"] == 6


async def test_a_garbage_cursor_is_rejected_as_a_protocol_error(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    variables = {"first": 1, "after": "not-a-cursor", "query": "customer_id:1"}
    with pytest.raises(UpstreamBadResponse, match="Invalid cursor"):
        await connect().query(queries.ORDERS, variables)


async def test_a_query_above_the_cost_limit_is_refused(connect: Connect) -> None:
    variables = {"first": 250, "query": "customer_id:1"}
    with pytest.raises(UpstreamBadResponse, match="MAX_COST_EXCEEDED|max cost"):
        await connect().query(queries.ORDERS, variables)


async def test_a_simulated_webhook_is_signed_and_agrees_with_the_store(
    simulator: ShopifySimulator,
) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []

    async def endpoint(request: Request) -> Response:
        received.append((await request.body(), dict(request.headers)))
        return Response(status_code=200)

    app = Starlette(routes=[Route("/webhooks/shopify", endpoint, methods=["POST"])])
    placed = simulator.add_order(5, [(product_by_id(302), 2)])
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        answer = await simulator.send_webhook(
            client, "orders/create", simulator.order_payload(placed)
        )
    body, sent = received[0]
    assert answer.status_code == 200
    assert webhooks.verify_hmac(
        body, sent["x-shopify-hmac-sha256"], simulator.api_secret
    )
    assert webhooks.missing_headers(sent) == []
    change = webhooks.parse_delivery(body, sent)
    assert change.order is not None
    assert change.order.id == placed["id"]
    assert change.order.total.amount == Decimal("84.5")  # 2 × 38.5 + shipping
    assert change.customer_external_id == simulator.customer_gid(5)


async def test_customers_are_found_by_phone_in_one_search(
    connect: Connect, simulator: ShopifySimulator
) -> None:
    people = [c for c in simulator.world.customers[:20] if c.phone and c.index != 7]
    found = await connect().customers_by_phones([c.phone or "" for c in people])
    assert set(found) == {c.phone for c in people}
    assert simulator.operations["customers"] == 1
